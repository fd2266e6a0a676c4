from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "econtract.identity"
    label = "identity"
    verbose_name = "Identity"
