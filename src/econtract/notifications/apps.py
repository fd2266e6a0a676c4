from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "econtract.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.core import checks

        from econtract.notifications.checks import sms_gateway

        checks.register(sms_gateway)
