"""Verified enterprises for tests, made through the real verbs: the legal representative verifies her
own identity, the enterprise's four elements are checked by the sandbox provider in process, and an
operator approves the business licence."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from econtract.accounts import organizations
from econtract.accounts.models import Organization
from econtract.evidence.services import RequestContext
from econtract.identity.providers.sandbox import SandboxProvider
from econtract.identity.tests.factories import verify_identity

CONTEXT = RequestContext.system("test fixture")
# Sandbox enterprises (identity/sandbox_identities.json): name, USCC, legal representative, ID number.
FUZHOU = ("福州示例科技有限公司", "91350100M000100Y43", "张三", "11010519491231002X")
BEIJING = ("北京示例贸易有限公司", "91110108MA0000001D", "张丽", "110105199003070025")
SHANGHAI = ("上海示例咨询有限公司", "91310000MA1K000019", "李明", "110101198808150137")


def licence_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (250, 250, 245)).save(buffer, "PNG")
    return buffer.getvalue()


def verified_enterprise(
    make_user: Any, which: tuple[str, str, str, str] = FUZHOU, owner: Any = None
) -> Organization:
    """A verified enterprise whose owner is its legal representative (verified at L2)."""
    name, uscc, rep_name, rep_number = which
    if owner is None:
        owner = make_user(f"owner-{uscc[-6:].lower()}@example.test", rep_name, identity=None)
        verify_identity(owner, name=rep_name, id_number=rep_number, level="L2")
    org = organizations.create_organization(
        owner,
        name=name,
        uscc=uscc,
        legal_rep_name=rep_name,
        legal_rep_id_type="cn_resident",
        legal_rep_id_number=rep_number,
        context=CONTEXT,
    )
    pending = organizations.start_verification(
        org,
        owner,
        method="operator_review",
        licence=licence_png(),
        context=CONTEXT,
        provider=SandboxProvider(),
    )
    operator = make_user(f"operator-{uscc[-6:].lower()}@platform.test", "审核员 Operator")
    operator.is_staff = True
    operator.save(update_fields=["is_staff"])
    organizations.decide_licence_review(pending, operator, approve=True, context=CONTEXT)
    org.refresh_from_db()
    assert org.is_verified
    return org
