from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "econtract.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from django.core import checks

        from econtract.identity.checks import identity_provider

        checks.register(identity_provider)
