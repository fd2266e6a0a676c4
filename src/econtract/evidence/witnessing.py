"""The platform's side of witnessing: push each checkpoint to the configured witnesses
(c2sp.org/tlog-witness), keep the cosignatures that verify, export cosigned checkpoints, audit them.

settings.ECONTRACT_WITNESSES is "URL VKEY, URL VKEY" (VKEY of type 0x04, the witness's name+id+key).
A witness that is down or refuses is logged, never raised: the checkpoint stands on the log's own
signature and its timestamp token, and the next checkpoint is pushed with a proof from the last size
that witness cosigned.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from econtract.evidence import log, notes
from econtract.evidence.models import Checkpoint, Cosignature

logger = logging.getLogger(__name__)

TIMEOUT = 10


@dataclass(frozen=True)
class WitnessConfig:
    url: str
    verifier: notes.Verifier


def configured_witnesses() -> list[WitnessConfig]:
    raw = str(getattr(settings, "ECONTRACT_WITNESSES", "") or "")
    witnesses: list[WitnessConfig] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        parts = item.split()
        if len(parts) != 2:
            raise ValueError(f"ECONTRACT_WITNESSES: expected 'URL VKEY', got {item.strip()!r}")
        verifier = notes.parse_verifier_key(parts[1])
        if verifier.key_type != notes.COSIGNATURE_V1:
            raise ValueError(f"ECONTRACT_WITNESSES: {verifier.name} is not a cosignature (0x04) key")
        witnesses.append(WitnessConfig(parts[0].rstrip("/"), verifier))
    return witnesses


def last_cosigned_size(verifier: notes.Verifier) -> int:
    found = Cosignature.objects.filter(witness=verifier.name, key_id=verifier.id.hex()).aggregate(
        size=Max("checkpoint__tree_size")
    )["size"]
    return int(found or 0)


def _request_body(checkpoint: Checkpoint, old_size: int) -> str:
    proof = (
        log.consistency_proof(old_size, checkpoint.tree_size) if 0 < old_size < checkpoint.tree_size else []
    )
    return f"old {old_size}\n" + "".join(log.b64(h) + "\n" for h in proof) + "\n" + checkpoint.note


def _post(witness: WitnessConfig, body: str) -> requests.Response:
    return requests.post(
        f"{witness.url}/add-checkpoint",
        data=body.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
        timeout=TIMEOUT,
    )


def _push_one(checkpoint: Checkpoint, witness: WitnessConfig, text: str) -> Cosignature | None:
    name = witness.verifier.name
    old_size = last_cosigned_size(witness.verifier)
    if old_size > checkpoint.tree_size:
        logger.warning("witness %s already cosigned size %s > %s", name, old_size, checkpoint.tree_size)
        return None
    response = _post(witness, _request_body(checkpoint, old_size))
    if response.status_code == 409:
        try:
            old_size = int(response.text.strip())
        except ValueError:
            logger.warning("witness %s: 409 without a size", name)
            return None
        if not 0 <= old_size <= checkpoint.tree_size:
            logger.warning(
                "witness %s has size %s beyond checkpoint %s", name, old_size, checkpoint.tree_size
            )
            return None
        response = _post(witness, _request_body(checkpoint, old_size))
    if response.status_code != 200:
        logger.warning(
            "witness %s refused checkpoint %s: %s %s",
            name,
            checkpoint.tree_size,
            response.status_code,
            response.text[:200],
        )
        return None
    for line in response.text.splitlines():
        try:
            timestamp = notes.verify_cosignature(text, line, witness.verifier)
        except notes.NoteError:
            continue  # another key's line, or a bad one: ignored (c2sp.org/tlog-witness)
        try:
            with transaction.atomic():
                row, _ = Cosignature.objects.get_or_create(
                    checkpoint=checkpoint,
                    witness=name,
                    key_id=witness.verifier.id.hex(),
                    defaults={"timestamp": timestamp, "line": line, "received_at": timezone.now()},
                )
        except IntegrityError:
            row = Cosignature.objects.get(
                checkpoint=checkpoint, witness=name, key_id=witness.verifier.id.hex()
            )
        return row
    logger.warning("witness %s returned no cosignature that verifies", name)
    return None


def push_checkpoint(checkpoint: Checkpoint) -> list[Cosignature]:
    """Ask every configured witness to cosign `checkpoint`; store and return the cosignatures that verify."""
    text, _ = notes.split_note(checkpoint.note)
    cosignatures: list[Cosignature] = []
    for witness in configured_witnesses():
        try:
            row = _push_one(checkpoint, witness, text)
        except (requests.RequestException, LookupError, notes.NoteError):
            logger.warning(
                "witness %s: push of checkpoint %s failed",
                witness.verifier.name,
                checkpoint.tree_size,
                exc_info=True,
            )
            continue
        if row is not None:
            cosignatures.append(row)
    try:
        export_checkpoint(checkpoint)
    except OSError:
        logger.exception("could not export checkpoint %s", checkpoint.id)
    return cosignatures


def cosigned_note(checkpoint: Checkpoint) -> str:
    """The checkpoint note with its cosignature lines appended: still a valid signed note."""
    lines = [c.line.rstrip("\n") + "\n" for c in checkpoint.cosignatures.order_by("witness", "id")]
    return checkpoint.note + "".join(lines)


def export_checkpoint(checkpoint: Checkpoint) -> Path | None:
    directory = str(getattr(settings, "ECONTRACT_CHECKPOINT_EXPORT_DIR", "") or "")
    if not directory:
        return None
    target_dir = Path(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{checkpoint.tree_size}-{checkpoint.id}.checkpoint"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(cosigned_note(checkpoint).encode())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def audit_cosignatures() -> str | None:
    """Every stored cosignature of a configured witness verifies over its checkpoint's text; the first
    that does not is named. Cosignatures of witnesses no longer configured cannot be checked and are skipped."""
    by_name = {w.verifier.name: w.verifier for w in configured_witnesses()}
    for row in Cosignature.objects.select_related("checkpoint").order_by("id"):
        verifier = by_name.get(row.witness)
        if verifier is None:
            continue
        where = f"cosignature {row.id} by {row.witness} on checkpoint {row.checkpoint_id}"
        if row.key_id != verifier.id.hex():
            return f"{where}: key id {row.key_id} is not the configured key's {verifier.id.hex()}"
        try:
            text, _ = notes.split_note(row.checkpoint.note)
            timestamp = notes.verify_cosignature(text, row.line, verifier)
        except notes.NoteError as exc:
            return f"{where}: {exc}"
        if timestamp != row.timestamp:
            return f"{where}: stored timestamp {row.timestamp} is not the signed {timestamp}"
    return None
