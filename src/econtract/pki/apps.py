from django.apps import AppConfig


class PkiConfig(AppConfig):
    name = "econtract.pki"
    label = "pki"
    verbose_name = "PKI"

    def ready(self) -> None:
        from econtract.pki.kek import warn_if_embedded

        # Every process start says so while the KEK lives in the data directory (embedded mode).
        warn_if_embedded()
