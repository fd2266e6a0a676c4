"""Forms of the seal pages. They check shape only; seals.services decides what is allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from econtract.seals.models import Seal
from econtract.textinput import MultiLineField, SingleLineField

MAX_SCAN_BYTES = 5 * 1024 * 1024
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class SealForm(forms.Form):
    name = SingleLineField(
        label=_("Seal name"),
        max_length=100,
        help_text=_("What members see in lists, e.g. 合同专用章."),
    )
    seal_type = forms.ChoiceField(label=_("Type"), choices=Seal.Type.choices, initial=Seal.Type.CONTRACT)
    type_text = SingleLineField(
        label=_("Words on the line (custom seals)"),
        max_length=20,
        required=False,
        help_text=_("Leave empty to use the standard words of the type."),
    )
    shape = forms.ChoiceField(label=_("Shape"), choices=Seal.Shape.choices, initial=Seal.Shape.ROUND)
    code = forms.CharField(
        label=_("Seal code (optional)"),
        max_length=13,
        required=False,
        help_text=_("The 13-digit code registered with the public security bureau, drawn on the lower arc."),
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    scan = forms.FileField(
        label=_("Or upload a scan of the seal (PNG or JPEG)"),
        required=False,
        help_text=_("The red ink is kept and the background made transparent."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )

    def clean_code(self) -> str:
        code = (self.cleaned_data.get("code") or "").strip()
        if code and not (code.isdigit() and len(code) == 13):
            raise forms.ValidationError(_("The seal code has 13 digits."))
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("seal_type") == Seal.Type.CUSTOM and not data.get("type_text") and not data.get("scan"):
            self.add_error("type_text", _("A custom seal needs the words on its line."))
        legal = data.get("seal_type") == Seal.Type.LEGAL_REPRESENTATIVE
        if data.get("shape") and legal != (data.get("shape") == Seal.Shape.SQUARE):
            self.add_error("shape", _("The legal representative's seal is square, and only it is."))
        scan = data.get("scan")
        if scan is not None and scan.size > MAX_SCAN_BYTES:
            self.add_error("scan", _("The scan is larger than 5 MB."))
        return data


class PreviewForm(SealForm):
    """The same fields, for the live preview: nothing is stored, a scan is not previewed."""

    scan = None  # type: ignore[assignment]


def _positive_amount(value: Decimal | None) -> Decimal | None:
    if value is not None and value <= 0:
        raise forms.ValidationError(_("The limit must be a positive amount."))
    return value


class _ScopeMixin(forms.Form):
    valid_until = forms.DateTimeField(
        label=_("Valid until"),
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    max_amount = forms.DecimalField(
        label=_("Largest amount per document (optional)"),
        required=False,
        max_digits=18,
        decimal_places=2,
        help_text=_("A grant with a limit refuses envelopes that state no amount."),
    )
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False, initial="CNY")
    note = SingleLineField(label=_("Note (optional)"), max_length=500, required=False)

    def clean_max_amount(self) -> Decimal | None:
        return _positive_amount(self.cleaned_data.get("max_amount"))

    def clean_currency(self) -> str:
        return (self.cleaned_data.get("currency") or "").strip().upper()

    def scope(self) -> dict[str, str]:
        """The grant's scope as seals.services reads it; templates and categories come with steps 6/7."""
        amount = self.cleaned_data.get("max_amount")
        if amount is None:
            return {}
        return {"max_amount": str(amount), "currency": self.cleaned_data.get("currency") or "CNY"}


class GrantForm(_ScopeMixin):
    grantee = forms.ChoiceField(label=_("Member or department"))
    requires_approval = forms.BooleanField(label=_("Each use needs an approval"), required=False)

    field_order = ["grantee", "valid_until", "max_amount", "currency", "requires_approval", "note"]

    def __init__(self, *args: Any, grantees: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["grantee"].choices = grantees or []  # type: ignore[attr-defined]


class AutomaticGrantForm(_ScopeMixin):
    confirm = forms.BooleanField(
        label=_(
            "I understand that the platform will apply this seal without a person, to every envelope "
            "the organisation sends by API within this scope, until the grant ends or is revoked."
        ),
    )

    field_order = ["valid_until", "max_amount", "currency", "note", "confirm"]


class ReasonForm(forms.Form):
    reason = MultiLineField(label=_("Reason"), max_length=500, required=False)
    key_compromise = forms.BooleanField(label=_("The key may be compromised"), required=False)


class DecisionForm(forms.Form):
    reason = MultiLineField(label=_("Reason (required to reject)"), max_length=500, required=False)


class UsageFilterForm(forms.Form):
    user = forms.ChoiceField(label=_("Used by"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    envelope = forms.UUIDField(label=_("Envelope id"), required=False)

    def __init__(self, *args: Any, members: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "—"), *(members or [])]  # type: ignore[attr-defined]
