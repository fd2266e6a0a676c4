"""Seal endpoints: create, picture, lifecycle, grants, approvals' decisions, usage log. Thin."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["seals"])
