from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "econtract.web"
    label = "web"
    verbose_name = "Web"
