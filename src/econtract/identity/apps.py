from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "econtract.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from django.core import checks

        from econtract.identity.checks import identity_provider, oidc_provider, webauthn_relying_party

        checks.register(identity_provider)
        checks.register(webauthn_relying_party)
        checks.register(oidc_provider)
