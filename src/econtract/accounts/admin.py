from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from econtract.accounts.errors import LoginThrottled
from econtract.accounts.models import ApiKey, Membership, Organization, User
from econtract.accounts.throttle import authenticate_password
from econtract.web.errors import login_wait_message


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's password login counts against the same limits as the site's (no side door)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticate_password(self.request, username, password)
            except LoginThrottled as exc:
                raise ValidationError(login_wait_message(exc), code="throttled") from exc
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = ThrottledAdminAuthenticationForm

admin.site.register(User)
admin.site.register(Organization)
admin.site.register(Membership)
admin.site.register(ApiKey)
