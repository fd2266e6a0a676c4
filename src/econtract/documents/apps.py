from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def install_builtin_templates(sender: AppConfig, **kwargs: Any) -> None:
    """After every migrate: the built-in templates (documents/builtin_templates) as the files say."""
    from econtract.documents.builtin import install_builtin_templates as install

    install()


class DocumentsConfig(AppConfig):
    name = "econtract.documents"
    label = "documents"
    verbose_name = "Documents"

    def ready(self) -> None:
        post_migrate.connect(
            install_builtin_templates, sender=self, dispatch_uid="documents.builtin_templates"
        )
