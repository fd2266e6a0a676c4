"""Checks with tools we did not write: poppler's pdfsig (NSS) and `openssl ts -verify`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

from asn1crypto import pem
from pyhanko.pdf_utils.reader import PdfFileReader


def require_tools() -> None:
    missing = [tool for tool in ("pdfsig", "certutil", "openssl") if shutil.which(tool) is None]
    if missing:
        raise AssertionError(f"missing {missing}: apt-get install -y poppler-utils libnss3-tools openssl")


def pdfsig_report(pdf: Path, root_pem: Path, workdir: Path) -> list[dict[str, str]]:
    """Run pdfsig with an NSS database that trusts our root; return one dict per signature."""
    nss = workdir / "nss"
    if not nss.exists():
        nss.mkdir()
        subprocess.run(
            ["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True, capture_output=True
        )
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{nss}",
                "-n",
                "econtract-root",
                "-t",
                "CT,C,C",
                "-i",
                str(root_pem),
            ],
            check=True,
            capture_output=True,
        )
    output = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True, timeout=120
    ).stdout
    signatures = []
    for block in re.split(r"^Signature #\d+:\s*$", output, flags=re.MULTILINE)[1:]:
        fields = {}
        for line in block.splitlines():
            key, _, value = line.strip(" -").partition(":")
            if value:
                fields[key.strip()] = value.strip()
        signatures.append(fields)
    return signatures


def timestamp_tokens(pdf_bytes: bytes, workdir: Path) -> list[tuple[Path, Path]]:
    """Write each signature's timestamp token and the signature value it covers; return their paths."""
    reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
    pairs = []
    for index, embedded in enumerate(reader.embedded_signatures):
        if embedded.sig_object.get("/Type") == "/DocTimeStamp":
            continue
        signer_info = embedded.signed_data["signer_infos"][0]
        if signer_info["unsigned_attrs"].native is None:
            continue
        for attribute in signer_info["unsigned_attrs"]:
            if attribute["type"].native == "signature_time_stamp_token":
                token = workdir / f"ts{index}.der"
                data = workdir / f"sig{index}.bin"
                token.write_bytes(attribute["values"][0].dump())
                data.write_bytes(signer_info["signature"].native)
                pairs.append((token, data))
    return pairs


def write_chain(pdf_bytes: bytes, path: Path) -> None:
    """All certificates carried in the PDF's signatures and tokens, as PEM (for -untrusted)."""
    reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
    blobs = {}
    for embedded in reader.embedded_signatures:
        for cert in embedded.signed_data["certificates"]:
            blobs[cert.chosen.sha256] = cert.chosen.dump()
        unsigned = embedded.signed_data["signer_infos"][0]["unsigned_attrs"]
        for attribute in unsigned if unsigned.native is not None else []:
            if attribute["type"].native == "signature_time_stamp_token":
                for cert in attribute["values"][0]["content"]["certificates"]:
                    blobs[cert.chosen.sha256] = cert.chosen.dump()
    path.write_bytes(b"".join(pem.armor("CERTIFICATE", der) for der in blobs.values()))


def openssl_ts_verify(token: Path, data: Path, root_pem: Path, chain_pem: Path) -> str:
    result = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(token),
            "-token_in",
            "-data",
            str(data),
            "-CAfile",
            str(root_pem),
            "-untrusted",
            str(chain_pem),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    verdict = result.stdout.strip().splitlines()
    return (
        verdict[-1]
        if verdict and result.returncode == 0
        else f"failed ({result.returncode}): {result.stderr.strip()}"
    )
