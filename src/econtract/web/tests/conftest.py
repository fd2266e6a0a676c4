"""Fixtures for the web UI tests: a sender in an enterprise, a signer, and a draft built by the services."""

from __future__ import annotations

import pytest

from econtract.evidence.services import RequestContext
from econtract.signing import services


@pytest.fixture(autouse=True)
def fast_kdf(settings):
    """Argon2id at its minimum: these tests are about pages, not key derivation cost."""
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def sender(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def signer(make_user):
    return make_user("signer@example.test", "李四 Li Si")


@pytest.fixture
def draft(enterprise, sender, sample_pdf):
    return services.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="采购合同 Purchase",
        pdf=sample_pdf,
        context=RequestContext.system("test"),
    )


@pytest.fixture
def sent(draft, sender, signer):
    """A sent envelope with one party, the signer, and one box on page 1."""
    services.replace_recipients(
        draft,
        parties=[services.PartySpec(name=signer.full_name, email=signer.email, order=1)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=RequestContext.system("test"),
    )
    return services.send_envelope(draft, sender, RequestContext.system("test"))


@pytest.fixture
def signing_token(sent, signer, outbox):
    link = outbox.last_link(signer.email)
    return link.rsplit("/sign/", 1)[1]
