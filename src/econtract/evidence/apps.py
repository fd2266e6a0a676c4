from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def install_append_only_triggers(sender: AppConfig, using: str, **kwargs: Any) -> None:
    """After every migrate (and test flush): a SQLite table rebuild drops its triggers, so put them back."""
    from django.db import connections

    from econtract.evidence.append_only import install_triggers

    install_triggers(connections[using])


class EvidenceConfig(AppConfig):
    name = "econtract.evidence"
    label = "evidence"
    verbose_name = "Evidence"

    def ready(self) -> None:
        post_migrate.connect(
            install_append_only_triggers, sender=self, dispatch_uid="evidence.append_only_triggers"
        )
