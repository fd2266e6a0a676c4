"""A person's own signatures: /api/v1/me/signatures. Thin."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["signatures"])
