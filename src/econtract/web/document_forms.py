"""Forms of the document pages: a new document, a template's variables, sharing, comments, the page
setup, saving as a template, and the parties of a document sent for signing (one per role its fields
name; for an imported PDF, one or two parties whose fields are placed in the field editor)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import Organization
from econtract.documents.models import (
    MARGIN_MAX_MM,
    MARGIN_MIN_MM,
    MARGIN_SIDES,
    Collaborator,
    DocumentKind,
    PageSize,
)
from econtract.signing.models import Party
from econtract.textinput import MultiLineField, SingleLineField

MAX_IMPORT_BYTES = 10 * 1024 * 1024

PARTY_ATTRIBUTE_LABELS = {
    "name": _("name"),
    "email": _("email"),
    "phone": _("phone"),
    "address": _("address"),
    "id_number": _("ID number"),
    "organization": _("organisation"),
    "uscc": _("unified social credit code"),
    "legal_representative": _("legal representative"),
}


class OrganizationChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def _organization_field(user: Any) -> OrganizationChoice:
    queryset = Organization.objects.filter(memberships__user=user).order_by("name")
    return OrganizationChoice(queryset=queryset, label=_("Organisation"), empty_label=None)


class NewDocumentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=DocumentKind.choices, initial=DocumentKind.CONTRACT)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"] = _organization_field(user)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("DOCX, HTML or PDF file"),
        help_text=_("A PDF is kept as it is: it is read and signed, not edited."),
        widget=forms.ClearableFileInput(attrs={"accept": ".docx,.html,.htm,.pdf"}),
    )
    title = forms.CharField(label=_("Title"), max_length=300, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"] = _organization_field(user)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        return upload


class TemplateFillForm(forms.Form):
    """One input per variable of the template (a party: one per attribute the template uses)."""

    title = forms.CharField(label=_("Title"), max_length=300)

    def __init__(self, *args: Any, template: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["title"].initial = template.title
        self.fields["organization"] = _organization_field(user)
        self.variables = list(template.variables)
        for variable in self.variables:
            name, kind = variable["name"], variable["type"]
            if kind == "party":
                for attribute in variable["attributes"]:
                    self.fields[f"{name}__{attribute}"] = forms.CharField(
                        label=f"{name} · {PARTY_ATTRIBUTE_LABELS.get(attribute, attribute)}", max_length=2000
                    )
            elif kind == "choice":
                options = [(option, option) for option in variable["options"]]
                self.fields[name] = forms.ChoiceField(label=name, choices=options)
            elif kind == "date":
                self.fields[name] = forms.DateField(
                    label=name, widget=forms.DateInput(attrs={"type": "date"})
                )
            elif kind in ("number", "money"):
                self.fields[name] = forms.CharField(
                    label=name, max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal"})
                )
            else:
                self.fields[name] = forms.CharField(label=name, max_length=2000)

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values: dict[str, Any] = {}
        for variable in self.variables:
            name, kind = variable["name"], variable["type"]
            if kind == "party":
                values[name] = {
                    attribute: data[f"{name}__{attribute}"] for attribute in variable["attributes"]
                }
            elif kind == "date":
                values[name] = data[name].isoformat()
            else:
                values[name] = data[name]
        return values


class ShareForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    right = forms.ChoiceField(
        label=_("May"), choices=Collaborator.Right.choices, initial=Collaborator.Right.COMMENT
    )


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    quote = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    parent = forms.UUIDField(required=False, widget=forms.HiddenInput)


class SendDocumentForm(forms.Form):
    """The envelope's parties by the document's roles: name, email and kind for each."""

    title = forms.CharField(label=_("Envelope title"), max_length=300, required=False)

    def __init__(self, *args: Any, roles: list[tuple[str, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.roles = [role for role, _seals in roles]
        for role, seals in roles:
            self.fields[f"{role}__name"] = forms.CharField(label=_("Name"), max_length=200)
            self.fields[f"{role}__email"] = forms.EmailField(label=_("Email"))
            self.fields[f"{role}__kind"] = forms.ChoiceField(
                label=_("Signs as"),
                choices=Party.Kind.choices,
                initial=Party.Kind.ORGANIZATION if seals else Party.Kind.PERSON,
            )
            self.fields[f"{role}__uscc"] = forms.CharField(
                label=_("Organisation's USCC (an organisation seals)"), max_length=40, required=False
            )
            self.fields[f"{role}__order"] = forms.IntegerField(
                label=_("Order"), min_value=1, max_value=50, initial=1
            )

    def role_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "role": role,
                "fields": [self[f"{role}__{part}"] for part in ("name", "email", "kind", "uscc", "order")],
            }
            for role in self.roles
        ]


MARGIN_LABELS = {
    "top": _("Top margin (mm)"),
    "right": _("Right margin (mm)"),
    "bottom": _("Bottom margin (mm)"),
    "left": _("Left margin (mm)"),
}


class DocumentSettingsForm(forms.Form):
    """Title, kind and page setup; a fixed document (an imported PDF) keeps its pages: title and kind only."""

    title = SingleLineField(label=_("Title"), max_length=300)
    kind = forms.ChoiceField(label=_("Kind"), choices=DocumentKind.choices)
    page_size = forms.ChoiceField(label=_("Page size"), choices=PageSize.choices)
    language = forms.ChoiceField(
        label=_("Language of the page numbers"), choices=[("zh-hans", "中文"), ("en", "English")]
    )
    header = SingleLineField(label=_("Header"), max_length=200, required=False)
    footer = SingleLineField(label=_("Footer"), max_length=200, required=False)

    def __init__(self, *args: Any, document: Any, **kwargs: Any) -> None:
        kwargs["initial"] = {
            "title": document.title,
            "kind": document.kind,
            "page_size": document.page_size,
            "language": document.language,
            "header": document.header,
            "footer": document.footer,
            **{f"margin_{side}": value for side, value in document.margins.items()},
            **kwargs.get("initial", {}),
        }
        super().__init__(*args, **kwargs)
        for side in MARGIN_SIDES:
            self.fields[f"margin_{side}"] = forms.IntegerField(
                label=MARGIN_LABELS[side], min_value=MARGIN_MIN_MM, max_value=MARGIN_MAX_MM
            )
        self.fixed = document.is_fixed
        if self.fixed:
            for name in list(self.fields):
                if name not in ("title", "kind"):
                    del self.fields[name]

    def setup_fields(self) -> list[Any]:
        return [field for field in self if not field.name.startswith("margin_")]

    def margin_fields(self) -> list[Any]:
        return [self[f"margin_{side}"] for side in MARGIN_SIDES if f"margin_{side}" in self.fields]

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of documents.authoring.update_settings."""
        data = self.cleaned_data
        if self.fixed:
            return {"title": data["title"], "kind": data["kind"]}
        return {
            "title": data["title"],
            "kind": data["kind"],
            "page_size": data["page_size"],
            "language": data["language"],
            "header": data["header"],
            "footer": data["footer"],
            "margins": {side: data[f"margin_{side}"] for side in MARGIN_SIDES},
        }


class SaveAsTemplateForm(forms.Form):
    title = SingleLineField(label=_("Template title"), max_length=300)
    description = MultiLineField(
        label=_("Description"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


FIXED_ROLES = ("party_1", "party_2")


class FixedSendDocumentForm(SendDocumentForm):
    """An imported PDF has no fields to name roles: one party, and an optional second; their fields are
    placed in the step-1 field editor of the envelope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, roles=[(role, False) for role in FIXED_ROLES], **kwargs)
        for name in ("name", "email", "kind", "uscc", "order"):
            self.fields[f"party_2__{name}"].required = False
        self.fields["party_2__order"].initial = 2

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("party_2__name") or data.get("party_2__email"):
            for name in ("name", "email"):
                if not data.get(f"party_2__{name}") and f"party_2__{name}" not in self.errors:
                    self.add_error(
                        f"party_2__{name}", _("Give the second party's name and email, or neither.")
                    )
            if not data.get("party_2__order"):
                data["party_2__order"] = 2
            if not data.get("party_2__kind"):
                data["party_2__kind"] = Party.Kind.PERSON
        return data

    def given_roles(self) -> list[str]:
        """The parties filled in: the first, and the second when she gave one."""
        data = self.cleaned_data
        return [role for role in FIXED_ROLES if role == FIXED_ROLES[0] or data.get(f"{role}__name")]

    def role_rows(self) -> list[dict[str, Any]]:
        rows = super().role_rows()
        rows[0]["legend"] = _("Party 1")
        rows[1]["legend"] = _("Party 2 (optional)")
        return rows
