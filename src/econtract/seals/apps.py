from django.apps import AppConfig


class SealsConfig(AppConfig):
    name = "econtract.seals"
    label = "seals"
    verbose_name = "Signatures and seals"
