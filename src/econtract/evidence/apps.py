from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "econtract.evidence"
    label = "evidence"
    verbose_name = "Evidence"
