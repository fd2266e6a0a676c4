from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "econtract.pki"
    label = "pki"
    verbose_name = "PKI"
