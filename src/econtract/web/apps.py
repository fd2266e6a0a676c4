from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "econtract.web"
    label = "web"
    verbose_name = "Web"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from econtract.web.mfa import mark_other_logins

        # Django admin's login form checks the password only: web.mfa asks for the second factor after it.
        user_logged_in.connect(mark_other_logins, dispatch_uid="econtract-mfa-other-logins")
