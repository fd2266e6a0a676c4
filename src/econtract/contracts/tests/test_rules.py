"""Who sees which contract, what the filters find, and what stops a deletion; numbering by pattern."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership
from econtract.accounts.services import add_member, create_enterprise
from econtract.contracts import numbering
from econtract.contracts.errors import InvalidContract
from econtract.contracts.lifecycle import archive_settings
from econtract.contracts.models import Category, Contract
from econtract.evidence.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(enterprise, make_user):
    """Acme with a sales department (and its east region below it), a purchasing department, and people."""
    sales = Department.objects.create(organization=enterprise, name="销售部 Sales")
    east = Department.objects.create(organization=enterprise, parent=sales, name="华东 East")
    purchasing = Department.objects.create(organization=enterprise, name="采购部 Purchasing")
    people = {"owner": enterprise.memberships.get().user}
    for name, role, department in [
        ("legal", Membership.Role.LEGAL, None),
        ("seller", Membership.Role.MEMBER, sales),
        ("east", Membership.Role.MEMBER, east),
        ("buyer", Membership.Role.MEMBER, purchasing),
        ("auditor", Membership.Role.AUDITOR, None),
    ]:
        user = make_user(f"{name}@acme.test")
        membership = add_member(enterprise, user, role)
        membership.department = department
        membership.save()
        people[name] = user
    other = create_enterprise("Other 公司", make_user("boss@other.test"))
    people["stranger"] = other.memberships.get().user

    def contract(title, department=None, *, by="owner", organization=enterprise, **fields):
        return Contract.objects.create(
            organization=organization,
            department=department,
            created_by=people[by] if organization == enterprise else people["stranger"],
            source="upload",
            title=title,
            number=f"N-{Contract.objects.count() + 1}",
            verdict="valid",
            **fields,
        )

    return {
        "org": enterprise,
        "other": other,
        "sales": sales,
        "east": east,
        "purchasing": purchasing,
        "people": people,
        "contract": contract,
    }


def _numbers(client, query=""):
    response = client.get(f"/api/v1/contracts{query}")
    assert response.status_code == 200, response.content
    return sorted(item["number"] for item in response.json()["items"])


def test_each_role_sees_its_own_part_of_the_archive(org, api_client):
    make = org["contract"]
    sales_deal = make("sales deal", org["sales"])
    east_deal = make("east deal", org["east"])
    purchase = make("purchase", org["purchasing"])
    unfiled = make("unfiled")
    buyer_own = make("buyer's own, unfiled", by="buyer")
    foreign = make("another organisation's", organization=org["other"])
    people = org["people"]

    every = sorted(c.number for c in [sales_deal, east_deal, purchase, unfiled, buyer_own])
    assert _numbers(api_client(people["owner"], org["org"])) == every
    assert _numbers(api_client(people["legal"], org["org"])) == every
    assert _numbers(api_client(people["auditor"], org["org"])) == every
    # a department sees its own and those below it; the region only its own
    assert _numbers(api_client(people["seller"], org["org"])) == sorted([sales_deal.number, east_deal.number])
    assert _numbers(api_client(people["east"], org["org"])) == [east_deal.number]
    assert _numbers(api_client(people["buyer"], org["org"])) == sorted([purchase.number, buyer_own.number])
    assert _numbers(api_client(people["stranger"], org["other"])) == [foreign.number]

    seller = api_client(people["seller"], org["org"])
    assert seller.get(f"/api/v1/contracts/{purchase.pk}").status_code == 404
    assert (
        seller.patch(
            f"/api/v1/contracts/{purchase.pk}", {"title": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert seller.get(f"/api/v1/contracts/{purchase.pk}/package").status_code == 404


def test_sharing_opens_one_contract_to_one_member_and_is_logged(org, api_client):
    purchase = org["contract"]("purchase", org["purchasing"])
    people = org["people"]
    seller = api_client(people["seller"], org["org"])
    assert seller.get(f"/api/v1/contracts/{purchase.pk}").status_code == 404
    owner = api_client(people["owner"], org["org"])
    shared = owner.post(
        f"/api/v1/contracts/{purchase.pk}/shares",
        {"email": "seller@acme.test", "right": "view"},
        content_type="application/json",
    )
    assert shared.status_code == 201, shared.content
    assert seller.get(f"/api/v1/contracts/{purchase.pk}").status_code == 200
    # view only: no editing
    edit = seller.patch(
        f"/api/v1/contracts/{purchase.pk}", {"title": "mine"}, content_type="application/json"
    )
    assert edit.status_code == 403
    # not a member of the organisation: refused
    outside = owner.post(
        f"/api/v1/contracts/{purchase.pk}/shares",
        {"email": "boss@other.test"},
        content_type="application/json",
    )
    assert outside.status_code == 400 and outside.json()["error"] == "not_a_member"
    kinds = list(Event.objects.filter(subject_id=str(purchase.pk)).values_list("kind", flat=True))
    assert kinds == ["contract_shared", "contract_viewed"]


def test_filters_combine(org, api_client):
    make = org["contract"]
    category = Category.objects.create(organization=org["org"], name="采购 Purchasing")
    child = Category.objects.create(organization=org["org"], parent=category, name="设备 Equipment")
    day = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    a = make(
        "a",
        amount=Decimal("100.00"),
        signed_at=day,
        category=child,
        counterparties=[{"name": "华为技术有限公司"}],
    )
    b = make("b", amount=Decimal("5000.00"), signed_at=day + dt.timedelta(days=30), category=category)
    c = make("c", amount=Decimal("5000.00"), signed_at=day + dt.timedelta(days=90), status="terminated")
    make("d", amount=None, signed_at=None, counterparties=[{"name": "Huawei Europe"}])
    client = api_client(org["people"]["owner"], org["org"])
    assert _numbers(client, f"?category={category.pk}") == sorted([a.number, b.number])
    assert _numbers(client, f"?category={child.pk}") == [a.number]
    assert _numbers(client, "?amount_min=1000&amount_max=6000") == sorted([b.number, c.number])
    assert _numbers(client, "?amount_min=1000&status=in_force") == [b.number]
    assert _numbers(client, "?signed_from=2026-03-15&signed_to=2026-04-30") == [b.number]
    assert _numbers(client, "?counterparty=华为") == [a.number]
    assert _numbers(client, f"?counterparty=huawei&category={category.pk}") == []
    assert client.get("/api/v1/contracts?amount_min=NaN").status_code == 422
    assert client.get("/api/v1/contracts?status=bogus").status_code == 422


def test_pages_follow_the_sort_without_repeats_or_gaps(org, api_client):
    make = org["contract"]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    made = [make(f"c{i}", signed_at=base + dt.timedelta(days=i % 4), amount=Decimal(i)) for i in range(9)]
    made += [make("no date", signed_at=None), make("no date 2", signed_at=None)]
    client = api_client(org["people"]["owner"], org["org"])
    for sort in ("-signed_at", "signed_at", "amount", "-amount"):
        seen, cursor = [], None
        while True:
            query = f"?sort={sort}&limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(f"/api/v1/contracts{query}").json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(str(c.pk) for c in made), sort
        assert len(seen) == len(set(seen))
    assert client.get("/api/v1/contracts?cursor=garbage").status_code == 400


def test_legal_hold_and_retention_block_deletion_which_is_soft_and_restorable(org, api_client):
    contract = org["contract"]("held", expires_on=dt.date(2027, 6, 30))
    owner = api_client(org["people"]["owner"], org["org"])
    seller = api_client(org["people"]["seller"], org["org"])
    held = owner.post(
        f"/api/v1/contracts/{contract.pk}/legal-hold",
        {"reason": "诉讼 (2026)京01民初123号"},
        content_type="application/json",
    )
    assert held.status_code == 200 and held.json()["legal_hold"] is True
    refused = owner.delete(f"/api/v1/contracts/{contract.pk}")
    assert refused.status_code == 409 and refused.json()["error"] == "legal_hold"
    assert owner.delete(f"/api/v1/contracts/{contract.pk}/legal-hold").status_code == 200

    # the organisation keeps contracts 5 years after they end
    rules = archive_settings(org["org"])
    rules.retention_years = 5
    rules.save()
    assert (
        owner.patch(
            f"/api/v1/contracts/{contract.pk}", {"archive_number": "A-1"}, content_type="application/json"
        ).json()["retain_until"]
        == "2032-06-30"
    )
    refused = owner.delete(f"/api/v1/contracts/{contract.pk}")
    assert refused.status_code == 409 and refused.json()["error"] == "retention"

    rules.retention_years = 0
    rules.save()
    owner.patch(
        f"/api/v1/contracts/{contract.pk}", {"archive_number": "A-2"}, content_type="application/json"
    )
    assert seller.delete(f"/api/v1/contracts/{contract.pk}").status_code == 404  # not hers to see
    assert owner.delete(f"/api/v1/contracts/{contract.pk}").status_code == 204
    assert owner.get(f"/api/v1/contracts/{contract.pk}").status_code == 404
    assert _numbers(owner) == []
    restored = owner.post(f"/api/v1/contracts/{contract.pk}/restore")
    assert restored.status_code == 200, restored.content
    assert _numbers(owner) == [contract.number]
    kinds = list(Event.objects.filter(subject_id=str(contract.pk)).values_list("kind", flat=True))
    assert kinds == [
        "contract_hold_placed",
        "contract_hold_lifted",
        "contract_updated",
        "contract_updated",
        "contract_deleted",
        "contract_restored",
    ]


def test_a_deletion_older_than_thirty_days_cannot_be_undone(org, api_client):
    contract = org["contract"]("old", deleted_at=timezone.now() - dt.timedelta(days=31))
    owner = api_client(org["people"]["owner"], org["org"])
    response = owner.post(f"/api/v1/contracts/{contract.pk}/restore")
    assert response.status_code == 409 and response.json()["error"] == "restore_expired"


def test_metadata_edits_tags_custom_fields_and_bulk_filing(org, api_client):
    make = org["contract"]
    first, second = make("first", org["sales"]), make("second", org["sales"])
    legal = api_client(org["people"]["legal"], org["org"])
    field = legal.post(
        "/api/v1/contract-fields",
        {"key": "project", "label": "项目 Project", "type": "choice", "options": ["Alpha", "Beta"]},
        content_type="application/json",
    )
    assert field.status_code == 201, field.content
    seller = api_client(org["people"]["seller"], org["org"])
    assert (
        seller.post(
            "/api/v1/contract-fields", {"key": "x", "label": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    patched = legal.patch(
        f"/api/v1/contracts/{first.pk}",
        {"metadata": {"project": "Alpha"}, "tags": ["采购", "2026"], "counterparties": [{"name": "华为"}]},
        content_type="application/json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["metadata"] == {"project": "Alpha"} and patched.json()["tags"] == ["2026", "采购"]
    wrong = legal.patch(
        f"/api/v1/contracts/{first.pk}", {"metadata": {"project": "Gamma"}}, content_type="application/json"
    )
    assert wrong.status_code == 400
    category = legal.post(
        "/api/v1/contract-categories", {"name": "销售 Sales"}, content_type="application/json"
    )
    assert category.status_code == 201
    bulk = legal.post(
        "/api/v1/contracts/bulk",
        {"ids": [str(first.pk), str(second.pk)], "category": category.json()["id"], "add_tags": ["重要"]},
        content_type="application/json",
    )
    assert bulk.status_code == 200 and bulk.json() == {"updated": 2}
    assert _numbers(legal, "?tag=重要") == sorted([first.number, second.number])
    assert _numbers(legal, "?tag=采购") == [first.number]
    assert sorted(second.tags.values_list("name", flat=True)) == ["重要"]
    # a contract she cannot see makes the whole bulk action fail, and nothing changes
    foreign = make("foreign", organization=org["other"])
    refused = legal.post(
        "/api/v1/contracts/bulk",
        {"ids": [str(first.pk), str(foreign.pk)], "add_tags": ["x"]},
        content_type="application/json",
    )
    assert refused.status_code == 404
    assert "x" not in first.tags.values_list("name", flat=True)


@pytest.mark.parametrize(
    ("pattern", "day", "expected"),
    [
        ("HT-{yyyy}-{seq:05}", dt.date(2026, 12, 3), "HT-2026-00001"),
        ("{yy}{mm}{dd}-{seq}", dt.date(2026, 1, 9), "260109-1"),
        ("采购(2026)#{seq:03}", dt.date(2026, 1, 9), "采购(2026)#001"),
    ],
)
def test_a_pattern_gives_its_numbers(pattern, day, expected):
    assert numbering.preview(pattern, day) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "HT-{yyyy}",
        "{seq}{seq}",
        "{seq:5}",
        "{name}-{seq}",
        "HT {seq}",
        "{{seq}}",
        "HT-{seq:013}",
        "a\x00{seq}",
    ],
)
def test_a_bad_pattern_is_refused(pattern):
    with pytest.raises(InvalidContract):
        numbering.parse_pattern(pattern)


def test_sequences_count_per_scope(enterprise):
    day = dt.date(2026, 12, 31)
    assert numbering.next_number(enterprise, "HT-{yyyy}-{seq:03}", day) == "HT-2026-001"
    assert numbering.next_number(enterprise, "HT-{yyyy}-{seq:03}", day) == "HT-2026-002"
    assert (
        numbering.next_number(enterprise, "HT-{yyyy}-{seq:03}", day + dt.timedelta(days=1)) == "HT-2027-001"
    )


def test_the_list_exports_as_csv_and_xlsx_with_formulas_kept_as_text(org, api_client):
    import csv
    import io

    from openpyxl import load_workbook

    make = org["contract"]
    make("年度采购框架协议", amount=Decimal("12345.67"), counterparties=[{"name": '=HYPERLINK("http://x")'}])
    make("Sales agreement", org["sales"], amount=None)
    client = api_client(org["people"]["seller"], org["org"])  # sees only the sales one
    response = client.get("/api/v1/contracts/export?format=csv")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[1] for row in table[1:]] == ["Sales agreement"]

    owner = api_client(org["people"]["owner"], org["org"])
    table = list(csv.reader(io.StringIO(owner.get("/api/v1/contracts/export").content.decode("utf-8-sig"))))
    by_title = {row[1]: row for row in table[1:]}
    assert by_title["年度采购框架协议"][2] == '\'=HYPERLINK("http://x")'
    assert by_title["年度采购框架协议"][3] == "12345.67"

    xlsx = owner.get("/api/v1/contracts/export?format=xlsx&amount_min=1")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][1] == "年度采购框架协议"
    assert values[1][2].startswith("'=")  # text, not a formula
    assert sheet.cell(row=2, column=3).data_type == "s"


def test_selected_contracts_export_as_one_zip_of_packages(org, api_client, sample_pdf):
    import io
    import zipfile

    from django.core.files.base import ContentFile

    from econtract.contracts.models import ContractFile

    make = org["contract"]
    first, second = make("first"), make("second")
    for contract in (first, second):
        stored = ContractFile(
            contract=contract,
            kind="signed",
            name="c.pdf",
            content_type="application/pdf",
            size=len(sample_pdf),
            sha256=__import__("hashlib").sha256(sample_pdf).hexdigest(),
            uploaded_by=org["people"]["owner"],
        )
        stored.file.save("file", ContentFile(sample_pdf), save=False)
        stored.save()
    owner = api_client(org["people"]["owner"], org["org"])
    response = owner.post(
        "/api/v1/contracts/packages",
        {"ids": [str(first.pk), str(second.pk)]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    outer = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(outer.namelist()) == sorted([f"{first.number}-package.zip", f"{second.number}-package.zip"])
    inner = zipfile.ZipFile(io.BytesIO(outer.read(f"{first.number}-package.zip")))
    assert inner.read("contract/signed.pdf") == sample_pdf
    seller = api_client(org["people"]["seller"], org["org"])
    assert (
        seller.post(
            "/api/v1/contracts/packages", {"ids": [str(first.pk)]}, content_type="application/json"
        ).status_code
        == 404
    )


def test_the_list_searches_chinese_and_english_and_snippets_only_what_she_may_see(org, api_client):
    from econtract.contracts import search

    make = org["contract"]
    purchase = make("年度采购框架协议", org["purchasing"], counterparties=[{"name": "华为技术有限公司"}])
    sales = make("Framework sales agreements 2026", org["sales"])
    secret = make("采购 secret of another organisation", organization=org["other"])
    for contract in (purchase, sales, secret):
        search.reindex(contract)
    owner = api_client(org["people"]["owner"], org["org"])
    found = owner.get("/api/v1/contracts?q=采购").json()["items"]
    assert [item["number"] for item in found] == [purchase.number]
    assert "<mark>采购</mark>" in found[0]["snippet"]
    assert _numbers(owner, "?q=agreement") == [sales.number]  # stem of "agreements"
    assert _numbers(owner, "?q=framework") == [sales.number]
    assert _numbers(owner, "?q=采购&sort=-signed_at") == [purchase.number]
    assert _numbers(owner, "?q=华为") == [purchase.number]
    assert (
        _numbers(owner, f"?q=采购&category={Category.objects.create(organization=org['org'], name='x').pk}")
        == []
    )
    for hostile in ['"', "*", "AND OR NOT", "(", "NEAR(a b)", "'; DROP TABLE contracts_contract; --"]:
        response = owner.get("/api/v1/contracts", {"q": hostile})
        assert response.status_code == 200, (hostile, response.content)
    seller = api_client(org["people"]["seller"], org["org"])
    assert seller.get("/api/v1/contracts?q=采购").json()["items"] == []
    assert _numbers(seller, "?q=agreement") == [sales.number]
    stranger = api_client(org["people"]["stranger"], org["other"])
    items = stranger.get("/api/v1/contracts?q=采购").json()["items"]
    assert [item["number"] for item in items] == [secret.number]
    assert "年度" not in items[0]["snippet"]
    # pages by relevance carry on without repeats
    more = [make(f"采购订单 {n}", org["purchasing"]) for n in range(4)]
    for contract in more:
        search.reindex(contract)
    seen, cursor = [], None
    while True:
        page = owner.get(
            "/api/v1/contracts", {"q": "采购", "limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(str(c.pk) for c in [purchase, *more])
