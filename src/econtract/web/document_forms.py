"""Forms of the document pages: a new document, a template's variables, sharing, comments, and the
parties of a document sent for signing (one per role its fields name)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from econtract.accounts.models import Organization
from econtract.documents.models import Collaborator, DocumentKind
from econtract.signing.models import Party

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
        label=_("DOCX or HTML file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".docx,.html,.htm"}),
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
