"""Forms of the contract archive pages: the list's filters, a saved view, filing in bulk, archiving a
signed PDF, and the forms of a contract's page (details, attachment, amendment, legal hold, sharing).

They check shape only and turn what was typed into the arguments of contracts.services (metadata
keys of contracts.details.EDITABLE, dates as ISO strings, amounts as strings); the services decide
what is allowed and what is valid."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import Membership, Organization
from econtract.contracts import listing
from econtract.contracts.models import Category, Contract, ContractShare, Tag
from econtract.textinput import MultiLineField, SingleLineField
from econtract.web.errors import MESSAGES

# The list's filter parameters: what a saved view keeps and what the next-page link carries.
FILTER_NAMES = (
    "q",
    "status",
    "verdict",
    "category",
    "tag",
    "counterparty",
    "signed_from",
    "signed_to",
    "amount_min",
    "amount_max",
    "sort",
)
MAX_AMOUNT = Decimal("9999999999999999.99")  # contracts.details: 18 digits, 2 after the point
MAX_COUNTERPARTY_LINES = 50
TAG_SEPARATORS = re.compile(r"[,，、;；]")

SORT_LABELS = {
    "-signed_at": _("Newest signed first"),
    "signed_at": _("Oldest signed first"),
    "-expires_on": _("Latest expiry first"),
    "expires_on": _("Soonest expiry first"),
    "-amount": _("Largest amount first"),
    "amount": _("Smallest amount first"),
    "relevance": _("Best match first"),
}


class OrganizationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def archive_organizations(user: Any) -> Any:
    """Where she may archive: her organisations, except those she only audits; enterprises first."""
    mine = Membership.objects.filter(user=user).exclude(role=Membership.Role.AUDITOR)
    return Organization.objects.filter(pk__in=mine.values("organization_id")).order_by("kind", "name")


def category_choices(user: Any, organizations: Any = None) -> list[tuple[str, str]]:
    """Her organisations' categories as "parent / child" paths (with the organisation's name when she
    belongs to several), for a select."""
    categories = list(
        Category.objects.for_member(user).select_related("organization")
        if organizations is None
        else Category.objects.filter(organization__in=organizations).select_related("organization")
    )
    by_id = {category.pk: category for category in categories}
    several = len({category.organization_id for category in categories}) > 1

    def path(category: Category) -> str:
        names: list[str] = []
        seen: set[Any] = set()
        node: Category | None = category
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        label = " / ".join(reversed(names))
        return f"{category.organization.name} · {label}" if several else label

    return sorted(((str(category.pk), path(category)) for category in categories), key=lambda c: c[1])


def tag_names(user: Any) -> list[str]:
    return sorted(set(Tag.objects.for_member(user).values_list("name", flat=True)))[:500]


def split_tags(text: str) -> list[str]:
    """Tags typed as one line: separated by commas (also the Chinese ，and 、) or semicolons."""
    return list(dict.fromkeys(part.strip() for part in TAG_SEPARATORS.split(text or "") if part.strip()))


def split_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").split("\n") if line.strip()]


def _set_choices(form: forms.Form, name: str, choices: list[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _amount_field(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        max_digits=18,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


def _signed_at(day: dt.date) -> str:
    """A signing date typed in the form: the start of that day here, as an ISO 8601 moment."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time())).isoformat()


def _file_limit(upload: Any, limit: int) -> Any:
    if upload is not None and upload.size > limit:
        raise forms.ValidationError(MESSAGES["too_large"])
    return upload


def pdf_limit() -> int:
    return int(settings.ECONTRACT_MAX_UPLOAD_BYTES)


def attachment_limit() -> int:
    # the rule of contracts.services (ECONTRACT_MAX_ATTACHMENT_BYTES, else the upload limit)
    return int(getattr(settings, "ECONTRACT_MAX_ATTACHMENT_BYTES", settings.ECONTRACT_MAX_UPLOAD_BYTES))


# --- the list ------------------------------------------------------------------------------------


class ContractFilterForm(forms.Form):
    q = SingleLineField(
        label=_("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "placeholder": _("Words in the contract or its data"),
            }
        ),
    )
    status = forms.ChoiceField(label=_("Status"), required=False)
    verdict = forms.ChoiceField(label=_("Signatures"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    tag = SingleLineField(
        label=_("Tag"), required=False, max_length=50, widget=forms.TextInput(attrs={"list": "contract-tags"})
    )
    counterparty = SingleLineField(label=_("Counterparty"), required=False, max_length=200)
    signed_from = forms.DateField(label=_("Signed from"), required=False, widget=_date_input())
    signed_to = forms.DateField(label=_("Signed until"), required=False, widget=_date_input())
    amount_min = _amount_field(_("Amount at least"))
    amount_max = _amount_field(_("Amount at most"))
    sort = forms.ChoiceField(label=_("Order"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        anything = [("", _("Any"))]
        _set_choices(self, "status", anything + list(Contract.Status.choices))
        _set_choices(self, "verdict", anything + list(Contract.Verdict.choices))
        _set_choices(self, "category", anything + category_choices(user))
        sorts = [(name, SORT_LABELS[name]) for name in listing.SORTS if name in SORT_LABELS]
        _set_choices(self, "sort", [("", _("Default")), *sorts])

    def filters(self) -> listing.Filters:
        data = self.cleaned_data
        return listing.Filters(
            q=data["q"] or None,
            status=data["status"] or None,
            verdict=data["verdict"] or None,
            category=UUID(data["category"]) if data["category"] else None,
            tag=data["tag"] or None,
            counterparty=data["counterparty"] or None,
            signed_from=data["signed_from"],
            signed_to=data["signed_to"],
            amount_min=data["amount_min"],
            amount_max=data["amount_max"],
        )

    def ordering(self) -> str | None:
        return self.cleaned_data["sort"] or None

    def query(self) -> dict[str, str]:
        """The filters given, as the list's GET parameters (what a saved view stores)."""
        found: dict[str, str] = {}
        for name in FILTER_NAMES:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            found[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return found


class SaveViewForm(forms.Form):
    name = SingleLineField(label=_("Name of this view"), max_length=100)


class BulkFileForm(forms.Form):
    """Move the ticked contracts to a category and/or add tags (the ids come as ``ids``)."""

    category = forms.ChoiceField(label=_("Move to category"), required=False)
    add_tags = SingleLineField(
        label=_("Add tags"),
        required=False,
        max_length=500,
        help_text=_("Separated by commas."),
        widget=forms.TextInput(attrs={"list": "contract-tags"}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "bulk")
        super().__init__(*args, **kwargs)
        _set_choices(self, "category", [("", _("Keep the category")), *category_choices(user)])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("category") and not split_tags(data.get("add_tags", "")):
            raise forms.ValidationError(_("Choose a category or give tags to add."))
        return data

    def tags(self) -> list[str]:
        return split_tags(self.cleaned_data["add_tags"])


# --- archiving and describing --------------------------------------------------------------------


class _Details(forms.Form):
    """The describing fields shared by the archive form and the edit form."""

    title = SingleLineField(label=_("Title"), max_length=300)
    number = SingleLineField(label=_("Contract number"), max_length=100)
    counterparties = MultiLineField(
        label=_("Counterparties"),
        required=False,
        max_length=MAX_COUNTERPARTY_LINES * 202,
        help_text=_("One per line: the name of each other party."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    amount = _amount_field(_("Amount"))
    currency = SingleLineField(
        label=_("Currency"),
        max_length=3,
        required=False,
        initial="CNY",
        widget=forms.TextInput(attrs={"size": 4}),
    )
    signed_on = forms.DateField(label=_("Signed on"), required=False, widget=_date_input())
    effective_on = forms.DateField(label=_("Effective from"), required=False, widget=_date_input())
    expires_on = forms.DateField(label=_("Expires on"), required=False, widget=_date_input())
    category = forms.ChoiceField(label=_("Category"), required=False)
    tags = SingleLineField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("Separated by commas."),
        widget=forms.TextInput(attrs={"list": "contract-tags"}),
    )

    def clean_counterparties(self) -> list[str]:
        names = split_lines(self.cleaned_data["counterparties"])
        if len(names) > MAX_COUNTERPARTY_LINES:
            raise forms.ValidationError(
                _("At most %(count)d counterparties."), params={"count": MAX_COUNTERPARTY_LINES}
            )
        return names

    def clean_currency(self) -> str:
        return (self.cleaned_data["currency"] or "CNY").upper()


class ArchiveForm(_Details):
    document = forms.FileField(
        label=_("Signed PDF"),
        help_text=_("Its signatures are checked when it is archived; the file is kept as it is."),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"}),
    )

    field_order = ["organization", "document", "title", "number"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organizations = archive_organizations(user)
        self.fields["organization"] = OrganizationChoice(
            queryset=organizations, label=_("Organisation"), empty_label=None
        )
        self.several_organizations = organizations.count() > 1
        if not self.several_organizations:
            self.fields["organization"].widget = forms.HiddenInput()
            first = organizations.first()
            if first is not None:
                self.fields["organization"].initial = first.pk
        _set_choices(self, "category", [("", "—"), *category_choices(user, organizations)])
        self.fields["title"].required = False
        self.fields["title"].help_text = _("Left empty: the file's name.")
        self.fields["number"].required = False
        self.fields["number"].help_text = _("Left empty: the next number of the organisation's pattern.")
        self.order_fields(self.field_order)

    def clean_document(self) -> Any:
        return _file_limit(self.cleaned_data["document"], pdf_limit())

    def metadata(self) -> dict[str, Any]:
        """contracts.services.archive_upload's metadata: only what she gave (the rest is read from the
        file or numbered by the organisation's pattern)."""
        data = self.cleaned_data
        found: dict[str, Any] = {}
        for name in ("title", "number"):
            if data[name]:
                found[name] = data[name]
        if data["counterparties"]:
            found["counterparties"] = [{"name": name} for name in data["counterparties"]]
        if data["amount"] is not None:
            found["amount"] = str(data["amount"])
        found["currency"] = data["currency"]
        if data["signed_on"]:
            found["signed_at"] = _signed_at(data["signed_on"])
        for name in ("effective_on", "expires_on"):
            if data[name]:
                found[name] = data[name].isoformat()
        if data["category"]:
            found["category"] = data["category"]
        tags = split_tags(data["tags"])
        if tags:
            found["tags"] = tags
        return found


class ContractDetailsForm(_Details):
    """A contract's describing data as it is now; ``changes()`` answers every field, so a cleared field
    is cleared (the signing time is kept unless its day was changed)."""

    archive_number = SingleLineField(label=_("Archive number"), max_length=100, required=False)

    field_order = ["title", "number", "archive_number"]

    def __init__(self, *args: Any, contract: Contract, user: Any, **kwargs: Any) -> None:
        self.contract = contract
        signed_on = timezone.localtime(contract.signed_at).date() if contract.signed_at else None
        kwargs["initial"] = {
            "title": contract.title,
            "number": contract.number,
            "archive_number": contract.archive_number,
            "counterparties": "\n".join(
                str(party.get("name", ""))
                for party in contract.counterparties or []
                if isinstance(party, dict)
            ),
            "amount": contract.amount,
            "currency": contract.currency,
            "signed_on": signed_on,
            "effective_on": contract.effective_on,
            "expires_on": contract.expires_on,
            "category": str(contract.category_id) if contract.category_id else "",
            "tags": ", ".join(contract.tags.order_by("name").values_list("name", flat=True)),
        }
        super().__init__(*args, **kwargs)
        self._signed_on = signed_on
        mine = Organization.objects.filter(pk=contract.organization_id)
        _set_choices(self, "category", [("", "—"), *category_choices(user, mine)])
        self.order_fields(self.field_order)

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        # a party she kept by name keeps the email and code it came with (from the envelope)
        known = {
            str(party.get("name")): party
            for party in self.contract.counterparties or []
            if isinstance(party, dict) and party.get("name")
        }
        changes: dict[str, Any] = {
            "title": data["title"],
            "number": data["number"],
            "archive_number": data["archive_number"],
            "counterparties": [dict(known.get(name, {"name": name})) for name in data["counterparties"]],
            "amount": str(data["amount"]) if data["amount"] is not None else None,
            "currency": data["currency"],
            "effective_on": data["effective_on"].isoformat() if data["effective_on"] else None,
            "expires_on": data["expires_on"].isoformat() if data["expires_on"] else None,
            "category": data["category"] or None,
            "tags": split_tags(data["tags"]),
        }
        if data["signed_on"] != self._signed_on:
            changes["signed_at"] = _signed_at(data["signed_on"]) if data["signed_on"] else None
        return changes


# --- a contract's files, amendments, hold and shares ---------------------------------------------


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"), help_text=_("Any type: it is kept as it is and only downloaded."))
    description = SingleLineField(label=_("Description"), max_length=300, required=False)

    def clean_file(self) -> Any:
        return _file_limit(self.cleaned_data["file"], attachment_limit())


class AmendmentForm(forms.Form):
    relation = forms.ChoiceField(
        label=_("Kind"), choices=Contract.Relation.choices, initial=Contract.Relation.AMENDMENT
    )
    document = forms.FileField(
        label=_("Signed PDF"), widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"})
    )
    title = SingleLineField(label=_("Title"), max_length=300, required=False)
    number = SingleLineField(
        label=_("Contract number"),
        max_length=100,
        required=False,
        help_text=_("Left empty: the next number of the organisation's pattern."),
    )

    def clean_document(self) -> Any:
        return _file_limit(self.cleaned_data["document"], pdf_limit())

    def metadata(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ("title", "number") if self.cleaned_data[name]}


class HoldForm(forms.Form):
    reason = SingleLineField(label=_("Reason for the hold"), max_length=300)


class ContractShareForm(forms.Form):
    email = forms.EmailField(label=_("Member's email"), max_length=254)
    right = forms.ChoiceField(
        label=_("May"), choices=ContractShare.Right.choices, initial=ContractShare.Right.VIEW
    )
