"""Seals in the Django admin: read-only. Every change goes through seals.services, which checks the
separated rights and writes the evidence; the admin is for operators looking, never for editing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from econtract.seals.models import ApprovalRequest, Seal, SealGrant, SealUsage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Seal)
class SealAdmin(ReadOnlyAdmin):
    list_display = ("name", "organization", "seal_type", "shape", "source", "status", "created_at")
    list_filter = ("status", "seal_type", "source")
    search_fields = ("name", "organization__name", "organization__uscc")
    # the sealed key and the picture bytes are not shown
    exclude = ("sealed_private_key", "image_png", "drawing", "public_key_der")


@admin.register(SealGrant)
class SealGrantAdmin(ReadOnlyAdmin):
    list_display = ("seal", "grantee", "user", "department", "valid_from", "valid_until", "revoked_at")
    list_filter = ("grantee", "requires_approval")


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ("seal", "envelope_id", "requested_by", "status", "decided_by", "created_at")
    list_filter = ("status",)


@admin.register(SealUsage)
class SealUsageAdmin(ReadOnlyAdmin):
    list_display = ("seal", "envelope_id", "used_by", "automatic", "used_at")
    list_filter = ("automatic", "cross_page")
