"""Forms of the identity page. Shape only: identity.verification checks the number and asks the provider."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from econtract.identity.idnumbers import IdType
from econtract.textinput import MultiLineField, SingleLineField

METHOD_CHOICES = [
    ("id_2el", _("Name and ID number (2 elements)")),
    ("id_3el", _("Name, ID number and mobile phone (3 elements)")),
    ("bank_4el", _("Bank card: name, ID number, card number and phone (4 elements)")),
]
PHONE_METHODS = frozenset({"id_3el", "bank_4el"})

ID_TYPE_CHOICES = [
    (IdType.CN_RESIDENT.value, _("Resident identity card (mainland China)")),
    (IdType.HKMT_RESIDENCE.value, _("Residence permit for Hong Kong, Macao and Taiwan residents")),
    (IdType.HK_MACAO_PERMIT.value, _("Mainland travel permit for Hong Kong and Macao residents")),
    (IdType.TAIWAN_PERMIT.value, _("Mainland travel permit for Taiwan residents")),
    (IdType.FOREIGN_PERMANENT.value, _("Foreign permanent resident ID card")),
    (IdType.PASSPORT.value, _("Passport")),
]


class IdentityVerificationForm(forms.Form):
    method = forms.ChoiceField(
        label=_("Method"), choices=METHOD_CHOICES, initial="id_2el", widget=forms.RadioSelect
    )
    name = SingleLineField(
        label=_("Full name, as on the document"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    id_type = forms.ChoiceField(label=_("Document"), choices=ID_TYPE_CHOICES, initial=IdType.CN_RESIDENT)
    id_number = SingleLineField(
        label=_("Document number"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    phone = SingleLineField(
        label=_("Mobile phone (3 and 4 elements)"),
        required=False,
        max_length=40,
        help_text=_("The number registered to you; we text it a code."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    bank_card = SingleLineField(
        label=_("Bank card number (4 elements)"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    reset_pin = forms.BooleanField(
        label=_("I forgot my signing PIN: reset my signing key after this verification"),
        required=False,
        help_text=_(
            "Verify the same identity again, at your key's level or higher. The old key and certificate "
            "are revoked; then set a new PIN, which makes a new key."
        ),
    )

    def __init__(self, *args: Any, has_key: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_key:
            del self.fields["reset_pin"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        method = data.get("method")
        if method in PHONE_METHODS and not data.get("phone"):
            self.add_error("phone", _("Enter your mobile phone number for this method."))
        if method == "bank_4el" and not data.get("bank_card"):
            self.add_error("bank_card", _("Enter your bank card number for this method."))
        return data


class IdentityConfirmForm(forms.Form):
    otp = forms.CharField(
        label=_("Code from the text message"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*"}
        ),
    )


class IdentityRevokeForm(forms.Form):
    reason = MultiLineField(label=_("Reason (optional)"), required=False, max_length=2000)
