"""A person signs with her drawn signature, then her company seals (with a cross-page seal too), over
the HTTP API of a real server; the result is checked by tools we did not write and by its pixels."""

from __future__ import annotations

import io
import json

import pytest

from tests.e2e.conftest import Platform
from tests.e2e.independent_checks import (
    openssl_ts_verify,
    pdfsig_report,
    require_tools,
    timestamp_tokens,
    write_chain,
)
from tests.e2e.servers import ServerProcess, free_port, own_database, server_env

pytestmark = pytest.mark.e2e

# Run inside the platform's own process environment (`econtract manage shell -c`): the company, its
# people, a seal and a grant are made through the real verbs, as an operator's console would.
SETUP = r"""
import io, json
from PIL import Image, ImageDraw
from econtract.accounts.services import create_api_key, create_personal_account
from econtract.evidence.services import RequestContext
from econtract.identity.tests.factories import verify_identity
from econtract.pki import custody
from econtract.seals.signatures import add_signature
from econtract.seals.tests.seal_factories import grant, make_seal, office

def make_user(email=None, full_name="", *, verified=True, identity="L2", password="correct horse battery"):
    user = create_personal_account(email, password, full_name, email_verified=verified)
    if verified and identity:
        verify_identity(user, level=identity)
    return user

company = office(make_user)
custody.set_signing_pin(company.owner, "246810")
custody.set_signing_pin(company.member, "731902")
pad = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
ImageDraw.Draw(pad).line([(40, 150), (160, 40), (260, 160), (380, 50), (560, 140)], fill=(10, 10, 60, 255), width=9)
buffer = io.BytesIO()
pad.save(buffer, "PNG")
signature = add_signature(company.owner, kind="drawn", image=buffer.getvalue(), context=RequestContext.system("e2e"))
seal = make_seal(company)
grant(seal, company.keeper, user=company.member)
sender = make_user("sender@buyer.test", "赵六 Zhao Liu")
print("SEALWORLD " + json.dumps({
    "sender_key": create_api_key(sender)[1],
    "org": company.org.name, "uscc": company.org.uscc, "seal": str(seal.id), "signature": str(signature.id),
    "owner": company.owner.email, "owner_key": create_api_key(company.owner)[1],
    "member": company.member.email, "member_key": create_api_key(company.member, company.org)[1],
}, ensure_ascii=False))
"""

SIGNATURE_BOX = {"page": 2, "x": 60, "y": 80, "width": 200, "height": 70}
SEAL_BOX = {"page": 2, "x": 330, "y": 60, "width": 130, "height": 130}
STRIP_Y, STRIP_HEIGHT = 420, 120


@pytest.fixture(scope="module")
def sealing_platform(tmp_path_factory):
    """A platform of its own: initialised, its people and seal made by SETUP, then served."""
    import requests

    data_dir = tmp_path_factory.mktemp("seal-platform")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(data_dir, base_url)
    with own_database(env):
        platform = Platform(base_url, data_dir, data_dir / "root.pem", {}, {}, env)
        initialised = platform.cli("init", check=False)
        assert initialised.returncode == 0, initialised.stdout + initialised.stderr
        made = platform.cli("manage", "shell", "-c", SETUP, check=False)
        line = [row for row in made.stdout.splitlines() if row.startswith("SEALWORLD ")]
        assert line, made.stdout + made.stderr
        platform.world = json.loads(line[-1].removeprefix("SEALWORLD "))  # type: ignore[attr-defined]
        server = ServerProcess(env, port, data_dir / "server.log")
        try:
            server.start()
            server.wait_ready(timeout=60)
            platform.root_pem.write_bytes(requests.get(f"{base_url}/pki/root.pem", timeout=10).content)
            yield platform
        finally:
            server.stop()


def _session(key):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    return session


def _sign(platform, session, email, envelope, index, body):
    url = f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/parties/{envelope['parties'][index]['id']}"
    response = session.post(f"{url}/otp", timeout=30)
    assert response.status_code == 200, response.text
    return session.post(f"{url}/sign", json={"otp": platform.outbox_code(email), **body}, timeout=120)


def _red_fraction(bitmap, box) -> float:
    """The share of seal-red pixels in ``box`` (left, top, right, bottom) of an RGB image."""
    region = bitmap.crop(box)
    pixels = list(region.get_flattened_data())
    red = sum(1 for r, g, b in pixels if r > 150 and g < 110 and b < 110)
    return red / max(len(pixels), 1)


def test_a_person_signs_then_her_company_seals_and_outside_validators_agree(sealing_platform, tmp_path):
    from econtract.documents.samples import make_contract_pdf

    platform = sealing_platform
    world = platform.world
    owner, member = _session(world["owner_key"]), _session(world["member_key"])
    pdf = make_contract_pdf(
        "采购合同 Purchase Agreement", ["甲方 Party A", "乙方 Party B", "价款 ¥80,000"], pages=3
    )
    spec = {
        "title": "采购合同 Purchase Agreement",
        "amount": "80000.00",
        "currency": "CNY",
        "parties": [
            {"name": "张三", "email": world["owner"], "order": 1},
            {
                "kind": "organization",
                "name": world["org"],
                "organization_uscc": world["uscc"],
                "email": world["member"],
                "order": 2,
            },
        ],
        "fields": [
            {"party": 0, **SIGNATURE_BOX},
            {"party": 1, "kind": "seal", **SEAL_BOX},
            {"party": 1, "kind": "cross_page_seal", "y": STRIP_Y, "height": STRIP_HEIGHT},
        ],
    }
    alice = _session(world["sender_key"])
    created = alice.post(
        f"{platform.base_url}/api/v1/envelopes",
        files={"document": ("c.pdf", pdf, "application/pdf")},
        data={"spec": json.dumps(spec, ensure_ascii=False)},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    envelope = alice.post(
        f"{platform.base_url}/api/v1/envelopes/{created.json()['id']}/send", timeout=30
    ).json()

    signed = _sign(
        platform, owner, world["owner"], envelope, 0, {"pin": "246810", "signature_id": world["signature"]}
    )
    assert signed.status_code == 200, signed.text
    sealed = _sign(
        platform, member, world["member"], envelope, 1, {"pin": "731902", "seal_id": world["seal"]}
    )
    assert sealed.status_code == 200, sealed.text
    assert sealed.json()["status"] == "completed"
    final = alice.get(f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/document", timeout=30).content
    path = tmp_path / "sealed.pdf"
    path.write_bytes(final)

    # poppler (NSS): both signatures valid and trusted; the second one's signer is the organisation
    require_tools()
    report = pdfsig_report(path, platform.root_pem, tmp_path)
    signers = [
        s for s in report if "Signature Validation" in s and "unknown" not in s.get("Signature Type", "")
    ]
    assert len(signers) == 2, report
    for block in signers:
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block.get("Certificate Validation") == "Certificate is Trusted.", block
    assert signers[1]["Signer Certificate Common Name"] == world["org"], signers[1]
    assert signers[0]["Signer Certificate Common Name"] != world["org"]

    # openssl: each signature's RFC 3161 timestamp token
    chain = tmp_path / "chain.pem"
    write_chain(final, chain)
    tokens = timestamp_tokens(final, tmp_path)
    assert len(tokens) == 2
    for token, data in tokens:
        assert openssl_ts_verify(token, data, platform.root_pem, chain) == "Verification: OK"

    # pyHanko, against our root only, revocation fetched online from the running platform
    _assert_pyhanko_valid(final, platform.root_pem, world["org"])

    # our own CLI, offline
    verdict = platform.cli("verify", str(path), "--json", "--trust-root", str(platform.root_pem), check=False)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    verified = json.loads(verdict.stdout)
    assert verified["valid"] is True and len(verified["signatures"]) == 2
    assert all(s["trusted"] and s["intact"] and s["timestamp_time"] for s in verified["signatures"])
    company_signature = verified["signatures"][1]
    assert company_signature["signer_organization"] == world["org"]
    assert company_signature["organization_identifier"] == f"NTRCN-{world['uscc']}"

    _assert_seal_is_visible(final, pages=3)


def _assert_pyhanko_valid(pdf: bytes, root_pem, organisation: str) -> None:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    _, _, der = pem.unarmor(root_pem.read_bytes())
    root = x509.Certificate.load(der)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    signatures = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") != "/DocTimeStamp"]
    assert len(signatures) == 2
    for embedded in signatures:
        status = validate_pdf_signature(
            embedded, ValidationContext(trust_roots=[root], allow_fetching=True, revocation_mode="hard-fail")
        )
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.modification_level is not None and status.modification_level.name != "OTHER"
    assert signatures[1].signer_cert.subject.native["organization_name"] == organisation


def _assert_seal_is_visible(pdf: bytes, *, pages: int) -> None:
    import pypdfium2

    scale = 2.0
    document = pypdfium2.PdfDocument(pdf)
    document.init_forms()  # signature appearances are widgets: drawn only with the form environment
    assert len(document) == pages
    for index in range(pages):
        page = document[index]
        width, height = page.get_size()
        bitmap = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")

        def box(x: float, y: float, w: float, h: float, _height: float = height) -> tuple[int, int, int, int]:
            return (
                int(x * scale),
                int((_height - y - h) * scale),
                int((x + w) * scale),
                int((_height - y) * scale),
            )

        # a red strip at the right edge, at the field's height, on every page: its slice of the seal
        strip_width = STRIP_HEIGHT / pages
        assert _red_fraction(bitmap, box(width - strip_width, STRIP_Y, strip_width, STRIP_HEIGHT)) > 0.03
        # and nothing red elsewhere along the edge
        assert _red_fraction(bitmap, box(width - strip_width, 150, strip_width, 200)) == 0
        if index == SEAL_BOX["page"] - 1:
            assert (
                _red_fraction(
                    bitmap, box(SEAL_BOX["x"], SEAL_BOX["y"], SEAL_BOX["width"], SEAL_BOX["height"])
                )
                > 0.05
            )
            ink = bitmap.crop(
                box(SIGNATURE_BOX["x"], SIGNATURE_BOX["y"], SIGNATURE_BOX["width"], SIGNATURE_BOX["height"])
            )
            dark = sum(1 for r, g, b in ink.get_flattened_data() if r < 90 and g < 90 and b < 130)
            assert dark > 50  # her drawn signature's ink
