"""The organisation's archive rules: its categories, custom fields, numbering, reminders and retention.

Set by the owner, admins and legal staff; each change is an evidence event on the rule it changed."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from econtract.accounts.models import Organization, User
from econtract.contracts import details
from econtract.contracts.errors import ContractNotPermitted, InvalidContract
from econtract.contracts.lifecycle import archive_settings
from econtract.contracts.models import MANAGER_ROLES, ArchiveSettings, Category, CustomField
from econtract.contracts.services import role_in
from econtract.evidence.services import RequestContext, record_event


def _require_archivist(user: User, organization: Organization) -> None:
    role = role_in(user, organization.pk)
    if role not in MANAGER_ROLES:
        raise ContractNotPermitted(
            "only the organisation's owner, admins and legal staff may change its archive rules"
        )


def create_category(
    user: User, organization: Organization, *, name: str, parent: Any, context: RequestContext
) -> Category:
    _require_archivist(user, organization)
    cleaned = details.line(name, "name", 100, required=True)
    parent_category = details.category(organization, parent) if parent else None
    if Category.objects.filter(organization=organization, parent=parent_category, name=cleaned).exists():
        raise InvalidContract(f"name: a category {cleaned} already exists there", code="category_exists")
    with transaction.atomic():
        category = Category.objects.create(organization=organization, parent=parent_category, name=cleaned)
        record_event(
            "contract_category_created",
            category,
            context,
            organization=organization,
            payload={"name": cleaned, "parent": str(parent_category.pk) if parent_category else None},
        )
    return category


def create_custom_field(
    user: User,
    organization: Organization,
    *,
    key: str,
    label: str,
    type: str,
    options: list[str],
    required: bool,
    context: RequestContext,
) -> CustomField:
    _require_archivist(user, organization)
    if type not in CustomField.Type.values:
        raise InvalidContract(f"type must be one of {', '.join(CustomField.Type.values)}")
    cleaned_options = [details.line(option, "options", 100, required=True) for option in options]
    if type == CustomField.Type.CHOICE and not cleaned_options:
        raise InvalidContract("options: a choice needs at least one option")
    if CustomField.objects.filter(organization=organization, key=key).exists():
        raise InvalidContract(f"key: a field {key} already exists", code="custom_field_exists")
    with transaction.atomic():
        field = CustomField.objects.create(
            organization=organization,
            key=key,
            label=details.line(label, "label", 100, required=True),
            type=type,
            options=cleaned_options,
            required=required,
        )
        record_event(
            "contract_field_created", field, context, organization=organization, payload={"key": key}
        )
    return field


def update_archive_settings(
    user: User, organization: Organization, *, context: RequestContext, **changes: Any
) -> ArchiveSettings:
    from econtract.contracts.numbering import parse_pattern

    _require_archivist(user, organization)
    rules = archive_settings(organization)
    if changes.get("number_pattern") is not None:
        parse_pattern(changes["number_pattern"])
        rules.number_pattern = details.line(changes["number_pattern"], "number_pattern", 100, required=True)
    for name in ("reminder_days", "retention_years"):
        if changes.get(name) is not None:
            setattr(rules, name, int(changes[name]))
    with transaction.atomic():
        rules.save()
        record_event(
            "archive_settings_changed",
            rules,
            context,
            organization=organization,
            payload={name: getattr(rules, name) for name in changes if changes[name] is not None},
        )
    return rules
