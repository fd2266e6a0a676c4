"""Signing speed: econtract's signing step against bare pyHanko with the same key and TSA, in one process.

usage: python bench/sign.py [--runs N]
Prints first the ratio to bare pyHanko with its default appearance (aim <= 1.3), then the other
ratios, median milliseconds for a 10-page PDF, and the Argon2id key unwrap.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time


def setup_django() -> None:
    os.environ.setdefault("ECONTRACT_DATA_DIR", tempfile.mkdtemp(prefix="econtract-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "econtract.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def median_ms(action, runs: int) -> float:
    return interleaved_medians_ms({"action": action}, runs)["action"]


def interleaved_medians_ms(actions: dict, runs: int) -> dict[str, float]:
    """Median ms of each action, run in turns so that a load change on the machine hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()  # warm-up
    for _ in range(runs):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    setup_django()

    from asn1crypto import x509
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from econtract.accounts.services import create_personal_account
    from econtract.documents.samples import make_contract_pdf
    from econtract.pki import custody
    from econtract.pki.services import ensure_platform_pki, platform_chain, signing_validation_context_for
    from econtract.pki.tsa import get_timestamper
    from econtract.signing import appearance, pades

    ensure_platform_pki()
    user = create_personal_account("bench@example.test", None, "基准 Bench", email_verified=True)
    custody.set_signing_pin(user, "246810")
    key, issued = custody.unwrap_signing_key(user, "246810")
    cert = x509.Certificate.load(bytes(issued.certificate_der))
    chain = platform_chain()
    pdf = make_contract_pdf("基准测试 Benchmark", ["第一条 " + "条款内容 " * 40] * 6, pages=10)
    timestamper = get_timestamper()
    context = signing_validation_context_for([cert])
    placements = [pades.Placement(page=10, x=60, y=80, width=200, height=60)]

    def econtract_sign() -> None:
        pades.sign_revision(
            pdf,
            field_name="Signature_1",
            placements=placements,
            private_key=key,
            certificate=cert,
            chain=chain,
            signer_name=user.full_name,
            signed_at_label="2026-11-25 12:00:00",
            timestamper=timestamper,
            validation_context=context,
        )

    bare_signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=pades._private_key_info(key),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )

    def bare_pyhanko_bt() -> None:
        meta = signers.PdfSignatureMetadata(
            field_name="Signature_1", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        fields.append_signature_field(
            writer, fields.SigFieldSpec("Signature_1", on_page=9, box=(60, 80, 260, 140))
        )
        signers.PdfSigner(meta, bare_signer, timestamper=timestamper).sign_pdf(
            writer, existing_fields_only=True
        )

    # The same text and font file, drawn the way pyHanko does by default (subsetting at each signature).
    font_path = appearance.font_for(user.full_name, "2026-11-25 12:00:00", f"SN {cert.serial_number:x}"[:40])
    cjk_style = TextStampStyle(
        stamp_text=appearance.STAMP_TEMPLATE,
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(font_path), font_size=appearance.FONT_SIZE),
        border_width=1,
    )
    cjk_params = {
        "signer": user.full_name,
        "when": "2026-11-25 12:00:00",
        "serial": f"SN {cert.serial_number:x}"[:40],
    }

    def bare_pyhanko_blt(stamp_style=None, bytes_reserved=None) -> None:
        meta = signers.PdfSignatureMetadata(
            field_name="Signature_1",
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=context,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        fields.append_signature_field(
            writer, fields.SigFieldSpec("Signature_1", on_page=9, box=(60, 80, 260, 140))
        )
        signers.PdfSigner(meta, bare_signer, timestamper=timestamper, stamp_style=stamp_style).sign_pdf(
            writer,
            existing_fields_only=True,
            appearance_text_params=cjk_params if stamp_style else None,
            bytes_reserved=bytes_reserved,
        )

    # pyHanko by default signs once more to measure the signature; econtract reserves room from its chain.
    reserved = pades._reserve([cert, *chain])

    medians = interleaved_medians_ms(
        {
            "ours": econtract_sign,
            "bare_blt": bare_pyhanko_blt,
            "bare_blt_cjk": lambda: bare_pyhanko_blt(cjk_style),
            "bare_bt": bare_pyhanko_bt,
            "bare_blt_reserved": lambda: bare_pyhanko_blt(bytes_reserved=reserved),
        },
        runs,
    )
    ours, bare_blt, bare_blt_cjk, bare_bt, bare_blt_reserved = (
        medians[k] for k in ("ours", "bare_blt", "bare_blt_cjk", "bare_bt", "bare_blt_reserved")
    )
    unwrap = median_ms(lambda: custody.unwrap_signing_key(user, "246810"), max(5, runs // 3))
    print(f"ratio econtract / bare B-LT, default appearance: {ours / bare_blt:.2f}   (aim <= 1.3)")
    print(f"ratio econtract / bare B-LT, same CJK appearance: {ours / bare_blt_cjk:.2f}")
    print(f"ratio econtract / bare B-T, default appearance: {ours / bare_bt:.2f}")
    print(
        f"ratio econtract / bare B-LT, default appearance, same reserved size: {ours / bare_blt_reserved:.2f}"
    )
    print(f"pdf: 10 pages, {len(pdf)} bytes; signer ECDSA P-256; TSA in process; runs={runs}")
    print(f"econtract sign_revision (B-LT, CJK appearance, key unwrapped): {ours:8.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-LT, same text and CJK font:      {bare_blt_cjk:8.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-LT, default appearance:          {bare_blt:8.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-T, default appearance:           {bare_bt:8.1f} ms median")
    print(
        f"bare pyHanko, B-LT, default appearance, bytes_reserved given:  {bare_blt_reserved:8.1f} ms median"
    )
    print(f"Argon2id PIN key unwrap (64 MiB, 3 passes, 4 lanes): {unwrap:8.1f} ms median")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
