from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "econtract.signing"
    label = "signing"
    verbose_name = "Signing"
