from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "econtract.accounts"
    label = "accounts"
    verbose_name = "Accounts"
