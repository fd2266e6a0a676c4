"""Each signature locks what it covers (FieldMDP): her signature field and the form fields she filled.

A later revision that changes a locked field must read as a violation to pyHanko and to our verifier,
while a later signature that locked other fields stays valid.
"""

from __future__ import annotations

import io
import json
from io import StringIO

import pytest
from asn1crypto import x509
from django.core.management import call_command
from django.core.management.base import CommandError
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature, validate_pdf_signature

from econtract.pki import custody
from econtract.pki.services import (
    get_timestamper,
    platform_chain,
    root_certificate,
    signing_validation_context_for,
)
from econtract.signing import pades
from econtract.signing.models import Envelope
from econtract.signing.tests.factories import PIN, create_and_send, people, sign_as

pytestmark = pytest.mark.django_db(transaction=True)

BOX = {"page": 2, "x": 50, "y": 60, "width": 180, "height": 60}


@pytest.fixture
def cast(make_user, enterprise, api_client):
    sender, first, second = people(make_user, enterprise)
    return {
        "first": first,
        "second": second,
        "sender_api": api_client(sender, enterprise),
        "first_api": api_client(first),
        "second_api": api_client(second),
    }


def _envelope(cast, pdf: bytes) -> dict:
    parties = [
        {"name": "张三", "email": "first@example.test", "order": 1},
        {"name": "李四", "email": "second@example.test", "order": 2},
    ]
    fields = [
        {"party": 0, **BOX},
        {"party": 0, **BOX, "page": 1},  # her second box: another widget of the same field
        {"party": 1, **BOX, "x": 300},
    ]
    return create_and_send(cast["sender_api"], pdf, parties, fields)


def _signatures(pdf: bytes) -> list[EmbeddedPdfSignature]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [s for s in reader.embedded_signatures if s.sig_object.get("/Type") == "/Sig"]


def _pyhanko_judgement(signature: EmbeddedPdfSignature):
    """pyHanko on its own: our root, revocation data from the document's DSS, no network."""
    context = DocumentSecurityStore.read_dss(signature.reader).as_validation_context(
        {"trust_roots": [root_certificate()], "allow_fetching": False, "revocation_mode": "require"}
    )
    return validate_pdf_signature(signature, context)


def _econtract_verify(tmp_path, pdf: bytes) -> tuple[int, dict]:
    """``econtract verify --json`` in process: exit code and report."""
    path = tmp_path / "checked.pdf"
    path.write_bytes(pdf)
    out = StringIO()
    try:
        call_command("verify", str(path), "--json", stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())


def _field(writer: IncrementalPdfFileWriter, name: str) -> generic.IndirectObject:
    for ref in writer.root["/AcroForm"]["/Fields"]:
        if ref.get_object().get("/T") == name:
            return ref
    raise AssertionError(f"no field {name}")


def _incremental_update(pdf: bytes, change) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blue_box(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    stream = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(generic.NumberObject(v) for v in (0, 0, 180, 60)),
        },
        stream_data=b"0 0 1 rg 0 0 180 60 re f",
    )
    return writer.add_object(stream)


def _repaint_widget(name: str):
    def change(writer: IncrementalPdfFileWriter) -> None:
        widget_ref = _field(writer, name).get_object()["/Kids"].raw_get(0)
        widget_ref.get_object()["/AP"] = generic.DictionaryObject({pdf_name("/N"): _blue_box(writer)})
        writer.mark_update(widget_ref)

    return change


def _move_widget(name: str):
    def change(writer: IncrementalPdfFileWriter) -> None:
        widget_ref = _field(writer, name).get_object()["/Kids"].raw_get(0)
        widget_ref.get_object()["/Rect"] = generic.ArrayObject(
            generic.FloatObject(v) for v in (300, 500, 480, 560)
        )
        writer.mark_update(widget_ref)

    return change


def _rewrite_text(name: str, value: str):
    def change(writer: IncrementalPdfFileWriter) -> None:
        field_ref = _field(writer, name)
        field_ref.get_object()["/V"] = generic.TextStringObject(value)
        writer.mark_update(field_ref)

    return change


def _sign_directly(pdf: bytes, user, pin: str, field_name: str, **extra) -> bytes:
    """The signing step itself, for documents the envelope services would not produce."""
    private_key, issued = custody.unwrap_signing_key(user, pin)
    certificate = x509.Certificate.load(bytes(issued.certificate_der))
    return pades.sign_revision(
        pdf,
        field_name=field_name,
        placements=extra.pop("placements", [pades.Placement(**{**BOX, "x": 300})]),
        private_key=private_key,
        certificate=certificate,
        chain=platform_chain(),
        signer_name=user.full_name,
        signed_at_label="2026-12-01 12:00:00 CST",
        timestamper=get_timestamper(),
        validation_context=signing_validation_context_for([certificate]),
        **extra,
    )


def test_each_signature_of_a_two_party_envelope_locks_its_own_field(cast, sample_pdf, outbox):
    envelope = _envelope(cast, sample_pdf)
    for index, (who, email) in enumerate(
        [("first", "first@example.test"), ("second", "second@example.test")]
    ):
        response = sign_as(cast[f"{who}_api"], outbox, envelope, index, email, PIN[who])
        assert response.status_code == 200, response.content
    pdf = Envelope.objects.get(pk=envelope["id"]).current_document().read_bytes()

    signatures = _signatures(pdf)
    assert len(signatures) == 2
    for signature in signatures:
        name = signature.field_name
        assert signature.fieldmdp == FieldMDPSpec(FieldMDPAction.INCLUDE, [name])
        # both halves written: the field's /Lock and the FieldMDP reference in the signature dictionary
        assert signature.sig_field["/Lock"]["/Fields"] == [name]
        (reference,) = signature.sig_object["/Reference"]
        assert reference["/TransformMethod"] == "/FieldMDP"
        assert reference["/TransformParams"]["/Fields"] == [name]
        assert signature.docmdp_level is None  # approval signatures: nobody certifies (decisions.md #5)
    first, second = (_pyhanko_judgement(s) for s in signatures)
    assert first.bottom_line and first.modification_level == ModificationLevel.FORM_FILLING
    assert second.bottom_line and second.docmdp_ok


@pytest.mark.parametrize("change", [_repaint_widget, _move_widget], ids=["appearance", "rect"])
def test_changing_the_first_signers_field_after_her_signature_breaks_it_and_not_the_next(
    cast, sample_pdf, outbox, tmp_path, change
):
    envelope = _envelope(cast, sample_pdf)
    assert (
        sign_as(cast["first_api"], outbox, envelope, 0, "first@example.test", PIN["first"]).status_code == 200
    )
    signed_by_first = Envelope.objects.get(pk=envelope["id"]).current_document().read_bytes()
    (first_signature,) = _signatures(signed_by_first)
    first_field = first_signature.field_name
    assert first_signature.fieldmdp is not None and first_signature.fieldmdp.is_locked(first_field)

    tampered = _incremental_update(signed_by_first, change(first_field))
    pdf = _sign_directly(tampered, cast["second"], PIN["second"], "Signature_2_later")

    first, second = (_pyhanko_judgement(s) for s in _signatures(pdf))
    assert first.modification_level == ModificationLevel.OTHER
    assert not first.docmdp_ok and not first.bottom_line
    assert second.bottom_line and second.docmdp_ok

    code, report = _econtract_verify(tmp_path, pdf)
    assert code != 0 and report["valid"] is False
    by_field = {s["field"]: s for s in report["signatures"]}
    assert by_field[first_field]["status"] != "valid" and by_field[first_field]["modification"] == "other"
    assert by_field["Signature_2_later"]["status"] == "valid", by_field["Signature_2_later"]


def _with_empty_text_fields(pdf: bytes, *names: str) -> bytes:
    """The document as it would leave the sender (step 6): empty text fields, no signature yet."""

    def add(writer: IncrementalPdfFileWriter) -> None:
        page_ref = writer.find_page_for_modification(1)[0]
        form = generic.DictionaryObject({pdf_name("/Fields"): generic.ArrayObject()})
        writer.root[pdf_name("/AcroForm")] = form
        writer.update_root()
        for index, name in enumerate(names):
            field_ref = writer.add_object(
                generic.DictionaryObject(
                    {
                        pdf_name("/FT"): pdf_name("/Tx"),
                        pdf_name("/T"): generic.TextStringObject(name),
                        pdf_name("/Type"): pdf_name("/Annot"),
                        pdf_name("/Subtype"): pdf_name("/Widget"),
                        pdf_name("/F"): generic.NumberObject(4),
                        pdf_name("/Rect"): generic.ArrayObject(
                            generic.FloatObject(v) for v in (50 + 250 * index, 300, 250 + 250 * index, 330)
                        ),
                        pdf_name("/P"): page_ref,
                    }
                )
            )
            form["/Fields"].append(field_ref)
            writer.register_annotation(page_ref, field_ref)

    return _incremental_update(pdf, add)


def test_a_text_field_a_signer_filled_is_locked_by_her_signature(cast, sample_pdf, tmp_path):
    prepared = _with_empty_text_fields(sample_pdf, "first_address", "second_address")
    pdf = _sign_directly(
        prepared,
        cast["first"],
        PIN["first"],
        "Signature_1_first",
        placements=[pades.Placement(**BOX)],
        form_values={"first_address": "北京市朝阳区 1号"},
    )
    pdf = _sign_directly(
        pdf, cast["second"], PIN["second"], "Signature_2_second", form_values={"second_address": "上海市 2号"}
    )
    first_signature, second_signature = _signatures(pdf)
    assert first_signature.fieldmdp == FieldMDPSpec(
        FieldMDPAction.INCLUDE, ["Signature_1_first", "first_address"]
    )
    assert _pyhanko_judgement(first_signature).bottom_line
    assert _pyhanko_judgement(second_signature).bottom_line
    assert _econtract_verify(tmp_path, pdf)[1]["valid"] is True

    # Without the lock this edit would pass as form filling for both signatures.
    tampered = _incremental_update(pdf, _rewrite_text("first_address", "伪造地址 forged"))
    first, second = (_pyhanko_judgement(s) for s in _signatures(tampered))
    assert first.modification_level == ModificationLevel.OTHER and not first.bottom_line
    assert second.bottom_line  # her lock does not cover the first signer's field

    code, report = _econtract_verify(tmp_path, tampered)
    assert code != 0 and report["valid"] is False
    by_field = {s["field"]: s for s in report["signatures"]}
    assert by_field["Signature_1_first"]["status"] != "valid"
    assert "locked" in " ".join(by_field["Signature_1_first"]["problems"])
    assert by_field["Signature_2_second"]["status"] == "valid"
