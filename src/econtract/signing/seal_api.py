"""Using a seal on an envelope: approval requests for one envelope and document. Thin."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["seals"])
