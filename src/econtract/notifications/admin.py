from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from econtract.notifications.models import EmailDelivery, SmsDelivery


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    """The mail queue, read-only; bodies are left out (while pending they hold signing links and codes)."""

    list_display = ["created_at", "recipient", "subject", "purpose", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["recipient", "about_id"]
    exclude = ["body"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SmsDelivery)
class SmsDeliveryAdmin(admin.ModelAdmin):
    """The SMS queue, read-only; texts are left out (while pending they hold codes)."""

    list_display = ["created_at", "recipient", "purpose", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["recipient", "about_id", "gateway_id"]
    exclude = ["body"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
