from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def archive_completed_envelope(sender: Any, *, envelope: Any, context: Any, **kwargs: Any) -> None:
    from econtract.contracts.services import archive_envelope

    archive_envelope(envelope, context)


class ContractsConfig(AppConfig):
    name = "econtract.contracts"
    label = "contracts"
    verbose_name = "Contracts"

    def ready(self) -> None:
        from econtract.signing.signals import envelope_completed

        # every envelope that completes gets its record in the archive, in the same transaction
        envelope_completed.connect(archive_completed_envelope, dispatch_uid="contracts.archive_envelope")
