"""Signing speed: econtract's signing step against bare pyHanko with the same key and TSA, in one process.

usage: python bench/sign.py [--runs N]
Prints median milliseconds for a 10-page PDF, their ratio (aim <= 1.3), and the Argon2id key unwrap.
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
    action()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    setup_django()

    from asn1crypto import x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from econtract.accounts.services import create_personal_account
    from econtract.documents.samples import make_contract_pdf
    from econtract.pki import custody
    from econtract.pki.services import ensure_platform_pki, platform_chain, signing_validation_context_for
    from econtract.pki.tsa import get_timestamper
    from econtract.signing import pades

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

    cjk_style = pades._stamp_style_for(
        user.full_name, "2026-11-25 12:00:00", f"SN {cert.serial_number:x}"[:40]
    )

    def bare_pyhanko_blt(stamp_style=None) -> None:
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
        signers.PdfSigner(meta, bare_signer, timestamper=timestamper).sign_pdf(
            writer, existing_fields_only=True
        )

    ours = median_ms(econtract_sign, runs)
    bare_blt = median_ms(bare_pyhanko_blt, runs)
    bare_blt_cjk = median_ms(lambda: bare_pyhanko_blt(cjk_style), runs)
    bare_bt = median_ms(bare_pyhanko_bt, runs)
    unwrap = median_ms(lambda: custody.unwrap_signing_key(user, "246810"), max(5, runs // 3))
    print(f"pdf: 10 pages, {len(pdf)} bytes; signer ECDSA P-256; TSA in process; runs={runs}")
    print(f"econtract sign_revision (B-LT, CJK appearance, key unwrapped): {ours:8.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-LT, same data and CJK appearance: {bare_blt_cjk:7.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-LT, default appearance:          {bare_blt:8.1f} ms median")
    print(f"bare pyHanko, same key/TSA, B-T, default appearance:           {bare_bt:8.1f} ms median")
    print(f"ratio econtract / bare B-LT, same appearance: {ours / bare_blt_cjk:.2f}   (aim <= 1.3)")
    print(f"ratio econtract / bare B-LT, default appearance: {ours / bare_blt:.2f}")
    print(f"ratio econtract / bare B-T:  {ours / bare_bt:.2f}")
    print(f"Argon2id PIN key unwrap (64 MiB, 3 passes, 4 lanes): {unwrap:8.1f} ms median")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
