from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "econtract.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from econtract.textinput import connect_model_guard

        # Every app builds on accounts: the one place the user-text guard is connected.
        connect_model_guard()
