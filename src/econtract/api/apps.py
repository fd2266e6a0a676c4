from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "econtract.api"
    label = "api"
    verbose_name = "API"
