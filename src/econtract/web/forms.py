"""Forms of the web UI. They check shape only; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import Organization
from econtract.jsoninput import JsonRefused, load_json
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.services import clean_amount
from econtract.textinput import MultiLineField, SingleLineField

DEFAULT_CURRENCY = "CNY"  # the editor's contracts are mostly Chinese; any ISO 4217 code is accepted
PIN_MIN_DIGITS = 6
PIN_MAX_DIGITS = 12  # pki.custody accepts 6 to 12 digits


def _digits(value: str, label: str, *, minimum: int, maximum: int) -> str:
    value = (value or "").strip()
    if not value.isdigit() or not minimum <= len(value) <= maximum:
        raise forms.ValidationError(
            _("%(label)s must be %(min)d to %(max)d digits."),
            params={"label": label, "min": minimum, "max": maximum},
        )
    return value


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=256)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class LoginLinkForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class NewPasswordForm(forms.Form):
    """A new password twice, checked by AUTH_PASSWORD_VALIDATORS against ``user``."""

    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, max_length=256)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, max_length=256)

    def __init__(self, *args, user=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password2")
        if password and again and password != again:
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            try:
                password_validation.validate_password(password, self.user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class RegisterEmailForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class RegisterCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the email"), max_length=6, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )

    def clean_code(self) -> str:
        return _digits(self.cleaned_data["code"], str(_("The code")), minimum=6, maximum=6)


class RegisterAccountForm(forms.Form):
    full_name = SingleLineField(label=_("Full name"), max_length=200)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=256)
    password2 = forms.CharField(label=_("Password again"), widget=forms.PasswordInput, max_length=256)

    def clean_full_name(self) -> str:
        name = self.cleaned_data["full_name"].strip()
        if not name:
            raise forms.ValidationError(_("A name is required."))
        return name

    def clean(self) -> dict:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password2")
        if password and again and password != again:
            self.add_error("password2", _("The two passwords differ."))
        elif password:
            try:
                password_validation.validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class EnvelopeForm(forms.Form):
    title = SingleLineField(label=_("Title"), max_length=300)
    document = forms.FileField(
        label=_("PDF document"), widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"})
    )
    deadline = forms.DateTimeField(
        label=_("Signing deadline (optional)"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    organization = forms.ModelChoiceField(
        label=_("Send as"), queryset=Organization.objects.none(), empty_label=None, required=True
    )
    amount = forms.CharField(
        label=_("Contract amount (optional)"),
        required=False,
        max_length=30,
        help_text=_(
            "What the contract is worth, e.g. 1250.00; a seal's grant may limit the amount it signs."
        ),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency = forms.CharField(
        label=_("Currency"),
        required=False,
        max_length=3,
        initial=DEFAULT_CURRENCY,
        help_text=_("ISO 4217 code; CNY when left empty."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 4}),
    )

    def __init__(self, *args, user, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(memberships__user=user).order_by(
            "kind", "name"
        )

    def clean(self):  # type: ignore[no-untyped-def]
        """The amount and currency as signing.services accepts them (it decides what is valid)."""
        cleaned = super().clean()
        amount = (cleaned.get("amount") or "").strip()
        if not amount:
            # the currency box always holds CNY: without an amount it means nothing
            cleaned["amount"], cleaned["currency"] = None, ""
            return cleaned
        currency = (cleaned.get("currency") or "").strip().upper() or DEFAULT_CURRENCY
        try:
            cleaned["amount"], cleaned["currency"] = clean_amount(amount, currency)
        except InvalidEnvelope as exc:
            if "currency" in str(exc):
                self.add_error("currency", _("Enter a currency code of 3 letters (ISO 4217), e.g. CNY."))
            else:
                self.add_error(
                    "amount", _("Enter an amount above zero with at most 2 decimal places, e.g. 1250.00.")
                )
        return cleaned

    def clean_deadline(self):  # type: ignore[no-untyped-def]
        deadline = self.cleaned_data.get("deadline")
        if deadline is not None and deadline <= timezone.now():
            raise forms.ValidationError(_("The deadline must be in the future."))
        return deadline

    def clean_document(self):  # type: ignore[no-untyped-def]
        document = self.cleaned_data["document"]
        if document.size > settings.ECONTRACT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than the upload limit."))
        return document


class VoidForm(forms.Form):
    reason = MultiLineField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class DeclineForm(forms.Form):
    reason = MultiLineField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class PinSetupForm(forms.Form):
    """A new signing PIN, typed twice; `current_pin` only when one already exists."""

    current_pin = forms.CharField(
        label=_("Current PIN"),
        required=False,
        max_length=32,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    pin = forms.CharField(
        label=_("New signing PIN"),
        max_length=32,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )
    pin2 = forms.CharField(
        label=_("New signing PIN again"),
        max_length=32,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
    )

    def __init__(self, *args, needs_current: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        if needs_current:
            self.fields["current_pin"].required = True
        else:
            del self.fields["current_pin"]

    def clean_pin(self) -> str:
        return _digits(
            self.cleaned_data["pin"], str(_("The PIN")), minimum=PIN_MIN_DIGITS, maximum=PIN_MAX_DIGITS
        )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("pin") and data.get("pin2") is not None and data["pin"] != data["pin2"].strip():
            self.add_error("pin2", _("The two PINs differ."))
        return data


class SignForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the email"),
        max_length=6,
        required=False,  # a party asked only for an SMS code or an authenticator has none
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    sms_code = forms.CharField(
        label=_("Code from the text message"),
        max_length=6,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    totp = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=8,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    pin = forms.CharField(
        label=_("Signing PIN"),
        max_length=32,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    # the passkey's assertion (willingness webauthn) as JSON, filled in by web/passkeys.js
    webauthn = forms.CharField(required=False, max_length=16 * 1024, widget=forms.HiddenInput)

    def clean_code(self) -> str:
        if not (self.cleaned_data["code"] or "").strip():
            return ""
        return _digits(self.cleaned_data["code"], str(_("The code")), minimum=6, maximum=6)

    def clean_webauthn(self) -> dict | None:
        text = (self.cleaned_data.get("webauthn") or "").strip()
        if not text:
            return None
        try:
            value = load_json(text, max_bytes=16 * 1024)
        except JsonRefused:
            value = None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _("The passkey's answer could not be read. Confirm with your passkey again.")
            )
        return value

    def clean_pin(self) -> str:
        return (self.cleaned_data["pin"] or "").strip()


class ApiKeyForm(forms.Form):
    name = SingleLineField(label=_("Key name"), max_length=100, initial="default")
    organization = forms.ModelChoiceField(
        label=_("Organisation"), queryset=Organization.objects.none(), empty_label=None
    )

    def __init__(self, *args, user, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(memberships__user=user).order_by(
            "kind", "name"
        )


class VerifyForm(forms.Form):
    document = forms.FileField(
        label=_("Signed PDF or evidence package (.zip)"),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf,application/zip,.zip"}),
    )

    def clean_document(self):  # type: ignore[no-untyped-def]
        document = self.cleaned_data["document"]
        if document.size > settings.ECONTRACT_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than the upload limit."))
        return document
