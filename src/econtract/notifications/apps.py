from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "econtract.notifications"
    label = "notifications"
    verbose_name = "Notifications"
