from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "econtract.verification"
    label = "verification"
    verbose_name = "Verification"
