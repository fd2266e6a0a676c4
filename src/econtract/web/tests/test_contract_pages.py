"""The contract archive's pages: the list (filters, search as you type, saved views, bulk filing),
archiving a signed PDF, and a contract's page (files, package, amendments, hold, deletion, timeline)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from econtract.accounts.enterprise_models import Department
from econtract.accounts.models import Membership
from econtract.accounts.services import add_member
from econtract.contracts import services
from econtract.contracts.models import Category, Contract, ContractFile, SavedView, Tag
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.web.views import contracts as contract_views

pytestmark = pytest.mark.django_db

SYSTEM = RequestContext.system("test")


def browser(user, htmx: bool = False) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
    client.force_login(user)
    return client


def kinds(contract) -> list[str]:
    return list(Event.objects.for_subject(contract).values_list("kind", flat=True))


@pytest.fixture
def owner(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def org(enterprise, owner, make_user):
    """Acme with a sales and a purchasing department, a member in each."""
    sales = Department.objects.create(organization=enterprise, name="销售部 Sales")
    purchasing = Department.objects.create(organization=enterprise, name="采购部 Purchasing")
    people = {"owner": owner}
    for name, department in [("seller", sales), ("buyer", purchasing)]:
        user = make_user(f"{name}@acme.test")
        membership = add_member(enterprise, user, Membership.Role.MEMBER)
        membership.department = department
        membership.save()
        people[name] = user
    return {"org": enterprise, "sales": sales, "purchasing": purchasing, "people": people}


def record(org, title, department=None, *, by="owner", **fields):
    """A contract row as the archive holds it (no file: for the list's filters)."""
    return Contract.objects.create(
        organization=org["org"],
        department=department,
        created_by=org["people"][by],
        source="upload",
        title=title,
        number=fields.pop("number", f"N-{Contract.objects.count() + 1}"),
        verdict=fields.pop("verdict", "valid"),
        **fields,
    )


@pytest.fixture
def archived(enterprise, owner, sample_pdf):
    """An unsigned sample PDF archived through the service (its verification runs in the sandbox)."""
    return services.archive_upload(
        owner,
        enterprise,
        document=services.Upload("contract.pdf", sample_pdf, "application/pdf"),
        metadata={"title": "设备采购合同", "number": "EQ-1", "counterparties": [{"name": "乙方公司"}]},
        context=SYSTEM,
    )


def test_the_list_filters_and_answers_search_as_you_type_with_the_rows_alone(org, owner, monkeypatch):
    category = Category.objects.create(organization=org["org"], name="采购 Purchasing")
    child = Category.objects.create(organization=org["org"], parent=category, name="设备 Equipment")
    day = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    equipment = record(
        org,
        "设备采购",
        category=child,
        amount=Decimal("5000.00"),
        signed_at=day,
        counterparties=[{"name": "华为技术有限公司"}],
    )
    tampered = record(org, "tampered deal", verdict="altered", signed_at=day - dt.timedelta(days=40))
    expiring = record(org, "lease", status="expiring", amount=Decimal("90.00"))
    equipment.tags.add(Tag.objects.create(organization=org["org"], name="urgent"))
    client = browser(owner)

    def numbers(query: str) -> list[str]:
        page = client.get(reverse("web:contracts") + query)
        assert page.status_code == 200, page.content
        return sorted(row["contract"].number for row in page.context["rows"])

    assert numbers("") == sorted(c.number for c in (equipment, tampered, expiring))
    assert numbers("?verdict=altered") == [tampered.number]
    assert numbers("?status=expiring") == [expiring.number]
    assert numbers(f"?category={category.pk}") == [equipment.number]  # and those below it
    assert numbers("?tag=urgent") == [equipment.number]
    assert numbers("?counterparty=华为") == [equipment.number]
    assert numbers("?amount_min=100&amount_max=10000") == [equipment.number]
    assert numbers("?signed_from=2026-02-01&signed_to=2026-03-31") == [equipment.number]
    # the verdict is a badge, "altered" one of its own
    body = client.get(reverse("web:contracts")).content.decode()
    assert f'id="contract-{tampered.pk}"' in body and "verdict-badge verdict-altered" in body
    assert 'hx-get="/contracts/"' in body and 'hx-trigger="input changed delay:300ms, search"' in body
    assert 'hx-target="#contract-results"' in body and 'id="contract-results"' in body
    # a filter that is not one: said, and no rows
    bad = client.get(reverse("web:contracts") + "?amount_min=lots")
    assert bad.status_code == 200 and bad.context["rows"] == [] and bad.context["filters"].errors

    # htmx asks for the rows only: no page around them, the saved-view form's filters swapped out of band
    partial = browser(owner, htmx=True).get(reverse("web:contracts") + "?verdict=altered")
    assert partial.status_code == 200
    assert [t.name for t in partial.templates][0] == "web/contract_rows.html"
    text = partial.content.decode()
    assert "<html" not in text and 'id="nav-contracts"' not in text
    assert tampered.title in text and equipment.title not in text
    assert 'id="saved-view-query" hx-swap-oob="true"' in text and 'name="verdict" value="altered"' in text
    assert "HX-Request" in partial["Vary"]
    # a history restore (the back button) needs the whole page
    restored = browser(owner, htmx=True).get(reverse("web:contracts"), HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restored.content.decode()

    # keyset pages: the next-page link carries the cursor and the filters
    monkeypatch.setattr(contract_views, "LIST_LIMIT", 2)
    first = client.get(reverse("web:contracts") + "?sort=-signed_at")
    assert len(first.context["rows"]) == 2 and first.context["next_url"]
    assert "sort=-signed_at" in first.context["next_url"]
    second = client.get(first.context["next_url"])
    seen = [r["contract"].pk for r in first.context["rows"]] + [
        r["contract"].pk for r in second.context["rows"]
    ]
    assert sorted(seen) == sorted(c.pk for c in (equipment, tampered, expiring))
    assert second.context["next_url"] == ""
    damaged = client.get(reverse("web:contracts") + "?cursor=garbage")
    assert damaged.status_code == 200 and damaged.context["problem"] and len(damaged.context["rows"]) == 2


def test_another_departments_contract_is_a_404_and_leaves_no_trace_in_the_list(org):
    from econtract.contracts import search

    secret = record(org, "采购框架协议 secret terms", org["purchasing"], by="buyer", number="SECRET-1")
    search.reindex(secret)
    people = org["people"]
    seller, buyer = browser(people["seller"]), browser(people["buyer"])

    assert seller.get(reverse("web:contract_detail", args=[secret.pk])).status_code == 404
    assert seller.get(reverse("web:contract_package", args=[secret.pk])).status_code == 404
    assert seller.post(reverse("web:contract_delete", args=[secret.pk])).status_code == 404
    assert seller.post(reverse("web:contract_update", args=[secret.pk]), {"title": "x"}).status_code == 404
    for query in ("", "?q=采购", "?q=secret", "?counterparty=&q=SECRET"):
        page = seller.get(reverse("web:contracts") + query)
        body = page.content.decode()
        assert page.status_code == 200 and page.context["rows"] == []
        assert "SECRET-1" not in body and "secret terms" not in body and "<mark>" not in body
    # her own department sees it, and its snippet marks the match (so the test above can fail)
    found = buyer.get(reverse("web:contracts") + "?q=secret")
    assert [row["contract"].pk for row in found.context["rows"]] == [secret.pk]
    assert "<mark>" in found.content.decode()
    assert buyer.get(reverse("web:contract_detail", args=[secret.pk])).status_code == 200
    # nothing was recorded of the seller's attempts
    assert kinds(secret) == ["contract_viewed"]


def test_archiving_a_file_that_is_not_a_pdf_answers_400_and_stores_nothing(enterprise, owner):
    answer = browser(owner).post(
        reverse("web:contract_archive"),
        {
            "organization": enterprise.pk,
            "document": SimpleUploadedFile(
                "c.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"
            ),
            "title": "not a contract",
            "currency": "CNY",
        },
    )
    assert answer.status_code == 400
    assert "The file was refused" in answer.context["form"].errors["document"][0]
    assert not Contract.objects.exists() and not ContractFile.objects.exists()
    assert not Event.objects.filter(kind="contract_archived").exists()


def test_archiving_a_signed_pdf_keeps_its_details_and_says_its_verdict(enterprise, owner, sample_pdf):
    category = Category.objects.create(organization=enterprise, name="采购 Purchasing")
    client = browser(owner)
    form = client.get(reverse("web:contract_archive"))
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()
    # her enterprise and her personal organisation: a select, the enterprise first
    choices = list(form.context["form"].fields["organization"].queryset)
    assert choices[0] == enterprise and len(choices) == 2
    assert '<select name="organization"' in form.content.decode()
    answer = client.post(
        reverse("web:contract_archive"),
        {
            "organization": enterprise.pk,
            "document": SimpleUploadedFile("框架协议.pdf", sample_pdf, "application/pdf"),
            "title": "年度采购框架协议",
            "counterparties": "甲方公司\n\n乙方公司 Ltd",
            "amount": "1680.32",
            "currency": "cny",
            "signed_on": "2026-03-01",
            "effective_on": "2026-03-02",
            "expires_on": "2027-03-01",
            "category": str(category.pk),
            "tags": "框架, 年度，urgent",
        },
        follow=True,
    )
    contract = Contract.objects.get()
    assert answer.redirect_chain == [(reverse("web:contract_detail", args=[contract.pk]), 302)]
    assert contract.title == "年度采购框架协议" and contract.verdict == "unsigned"
    assert contract.number.startswith("HT-")  # numbered by the organisation's pattern
    assert [p["name"] for p in contract.counterparties] == ["甲方公司", "乙方公司 Ltd"]
    assert contract.amount == Decimal("1680.32") and contract.currency == "CNY"
    assert contract.effective_on == dt.date(2026, 3, 2) and contract.expires_on == dt.date(2027, 3, 1)
    assert contract.category == category
    assert sorted(contract.tags.values_list("name", flat=True)) == ["urgent", "年度", "框架"]
    assert contract.files.get().kind == "signed"
    body = answer.content.decode()
    assert f"Archived as {contract.number}. The PDF has no signatures." in body
    # the page: its record, its timeline (archived, then this view), the package link
    assert "年度采购框架协议" in body and "1680.32 CNY" in body
    assert reverse("web:contract_package", args=[contract.pk]) in body
    assert kinds(contract) == ["contract_archived", "contract_viewed"]
    timeline = answer.context["timeline"]
    assert [event["name"] for event in timeline] == ["viewed", "archived"]  # newest first
    assert timeline[0]["actor"] == owner.email


def test_a_pdf_altered_after_signing_is_archived_and_said_so(enterprise, owner):
    from econtract.verification.tests import pki_fixtures as fx

    signed = fx.sign(fx.blank_pdf(), fx.build_pki("econtract-web-test"))
    tampered = fx.flip_byte(signed, b"Sales contract No. 42")
    answer = browser(owner).post(
        reverse("web:contract_archive"),
        {
            "organization": enterprise.pk,
            "document": SimpleUploadedFile("tampered.pdf", tampered, "application/pdf"),
            "number": "ALT-1",
            "currency": "CNY",
        },
        follow=True,
    )
    contract = Contract.objects.get()
    assert contract.verdict == "altered" and contract.number == "ALT-1"
    body = answer.content.decode()
    assert "ALT-1 was archived, but its signatures show it was altered after signing." in body
    assert 'class="message warning"' in body
    listed = browser(owner).get(reverse("web:contracts")).content.decode()
    assert "verdict-badge verdict-altered" in listed


def test_bulk_filing_moves_and_tags_every_ticked_contract_and_refuses_an_invisible_one(org, owner):
    category = Category.objects.create(organization=org["org"], name="销售 Sales")
    a, b = record(org, "a"), record(org, "b")
    untouched = record(org, "c")
    client = browser(owner)
    answer = client.post(
        reverse("web:contract_bulk"),
        {
            "ids": [a.pk, b.pk],
            "bulk-category": category.pk,
            "bulk-add_tags": "重要, Q1",
            "status": "in_force",
        },
    )
    assert answer.status_code == 302 and answer["Location"] == reverse("web:contracts") + "?status=in_force"
    for contract in (a, b):
        contract.refresh_from_db()
        assert contract.category == category
        assert sorted(contract.tags.values_list("name", flat=True)) == ["Q1", "重要"]
        assert kinds(contract) == ["contract_updated"]
    untouched.refresh_from_db()
    assert untouched.category is None and kinds(untouched) == []
    assert "2 contracts filed." in client.get(answer["Location"]).content.decode()

    # one id she may not see: 404, and nothing changes for the others either
    hidden = record(org, "theirs", org["purchasing"], by="buyer")
    seller = browser(org["people"]["seller"])
    mine = record(org, "mine", org["sales"], by="seller")
    refused = seller.post(
        reverse("web:contract_bulk"), {"ids": [mine.pk, hidden.pk], "bulk-category": category.pk}
    )
    assert refused.status_code == 404
    mine.refresh_from_db()
    assert mine.category is None
    assert seller.post(reverse("web:contract_bulk"), {"ids": ["not-a-uuid"]}).status_code == 404
    # nothing to do: said, 400
    empty = client.post(reverse("web:contract_bulk"), {"ids": [a.pk]})
    assert empty.status_code == 400 and empty.context["bulk_form"].errors


def test_saved_views_are_saved_listed_and_deleted_only_by_their_owner(org, owner):
    client = browser(owner)
    saved = client.post(
        reverse("web:contract_view_save"),
        {"name": "即将到期 expiring", "status": "expiring", "q": "采购", "evil": "1", "cursor": "x"},
    )
    view = SavedView.objects.get()
    assert saved.status_code == 302
    assert view.user == owner and view.name == "即将到期 expiring"
    assert view.query == {"status": "expiring", "q": "采购"}  # only the list's own filters
    # saving the same name again replaces its filters
    client.post(reverse("web:contract_view_save"), {"name": "即将到期 expiring", "status": "expired"})
    view.refresh_from_db()
    assert SavedView.objects.count() == 1 and view.query == {"status": "expired"}
    page = client.get(reverse("web:contracts"))
    assert [item["view"] for item in page.context["saved_views"]] == [view]
    assert 'href="/contracts/?status=expired"' in page.content.decode()
    # no name: 400, nothing saved
    nameless = client.post(reverse("web:contract_view_save"), {"name": "", "status": "expired"})
    assert nameless.status_code == 400 and SavedView.objects.count() == 1

    other = browser(org["people"]["seller"])
    assert other.get(reverse("web:contracts")).context["saved_views"] == []
    assert other.post(reverse("web:contract_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert client.post(reverse("web:contract_view_delete", args=[view.pk])).status_code == 302
    assert not SavedView.objects.exists()


def test_files_download_only_as_attachments_and_each_download_is_recorded(archived, owner, sample_pdf):
    client = browser(owner)
    html = b"<html><script>alert(document.cookie)</script></html>"
    added = client.post(
        reverse("web:contract_attach", args=[archived.pk]),
        {"file": SimpleUploadedFile("报价单.html", html, "text/html"), "description": "quote"},
    )
    assert added.status_code == 302, added.content
    attachment = archived.files.get(kind="attachment")
    download = client.get(reverse("web:contract_file", args=[archived.pk, attachment.pk]))
    assert download.status_code == 200 and download.content == html
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith('attachment; filename="')
    assert "filename*=UTF-8''%E6%8A%A5%E4%BB%B7%E5%8D%95.html" in download["Content-Disposition"]
    assert download["X-Content-Type-Options"] == "nosniff"
    signed = archived.files.get(kind="signed")
    pdf = client.get(reverse("web:contract_file", args=[archived.pk, signed.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content == sample_pdf
    assert pdf["Content-Disposition"].startswith("attachment;")
    downloads = Event.objects.for_subject(archived).filter(kind="contract_downloaded")
    assert [event.payload["file"] for event in downloads] == [str(attachment.pk), str(signed.pk)]
    # a file of another contract is not reachable through this one
    other = record({"org": archived.organization, "people": {"owner": owner}}, "other")
    assert client.get(reverse("web:contract_file", args=[other.pk, signed.pk])).status_code == 404

    package = client.get(reverse("web:contract_package", args=[archived.pk]))
    assert package.status_code == 200 and package["Content-Type"] == "application/zip"
    assert package["Content-Disposition"].startswith("attachment;")
    names = set(zipfile.ZipFile(io.BytesIO(package.content)).namelist())
    assert {"manifest.json", "contract/signed.pdf"} <= names
    assert any(name.startswith("contract/attachments/") for name in names)
    assert "contract_package_downloaded" in kinds(archived)


def test_a_legal_hold_blocks_deletion_with_a_message_until_it_is_lifted(archived, owner):
    client = browser(owner)
    url = reverse("web:contract_detail", args=[archived.pk])
    no_reason = client.post(reverse("web:contract_hold", args=[archived.pk]), {"action": "place"})
    assert no_reason.status_code == 400 and no_reason.context["hold_form"].errors
    held = client.post(
        reverse("web:contract_hold", args=[archived.pk]), {"action": "place", "reason": "诉讼 lawsuit"}
    )
    assert held.status_code == 302 and held["Location"] == url
    archived.refresh_from_db()
    assert archived.legal_hold and archived.legal_hold_reason == "诉讼 lawsuit"

    refused = client.post(reverse("web:contract_delete", args=[archived.pk]))
    assert refused.status_code == 400
    assert "under a legal hold" in refused.content.decode()
    archived.refresh_from_db()
    assert archived.deleted_at is None
    assert client.get(url).status_code == 200

    lifted = client.post(reverse("web:contract_hold", args=[archived.pk]), {"action": "lift"})
    assert lifted.status_code == 302
    deleted = client.post(reverse("web:contract_delete", args=[archived.pk]), follow=True)
    assert deleted.redirect_chain == [(reverse("web:contracts"), 302)]
    assert "can be restored within 30 days" in deleted.content.decode()
    assert client.get(url).status_code == 404
    timeline = [k for k in kinds(archived) if k != "contract_viewed"]
    assert timeline == [
        "contract_archived",
        "contract_hold_placed",
        "contract_hold_lifted",
        "contract_deleted",
    ]


def test_a_member_who_may_not_manage_sees_no_hold_or_delete_and_is_refused(org, archived):
    buyer = org["people"]["buyer"]
    services.share_contract(archived, org["people"]["owner"], email=buyer.email, right="view", context=SYSTEM)
    client = browser(buyer)
    page = client.get(reverse("web:contract_detail", args=[archived.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert (
        'id="delete-contract"' not in body
        and 'id="hold-form"' not in body
        and 'id="details-form"' not in body
    )
    refused = client.post(reverse("web:contract_delete", args=[archived.pk]))
    assert (
        refused.status_code == 400 and "You may not do this with this contract." in refused.content.decode()
    )
    archived.refresh_from_db()
    assert archived.deleted_at is None


def test_details_are_edited_amendments_chained_and_the_contract_shared(org, archived, owner, sample_pdf):
    client = browser(owner)
    url = reverse("web:contract_detail", args=[archived.pk])
    edited = client.post(
        reverse("web:contract_update", args=[archived.pk]),
        {
            "title": "设备采购合同（修订）",
            "number": "EQ-1",
            "counterparties": "乙方公司\n丙方",
            "amount": "12.50",
            "currency": "CNY",
            "tags": "设备",
        },
    )
    assert edited.status_code == 302 and edited["Location"] == url
    archived.refresh_from_db()
    assert archived.title == "设备采购合同（修订）" and archived.amount == Decimal("12.50")
    assert [p["name"] for p in archived.counterparties] == ["乙方公司", "丙方"]
    assert list(archived.tags.values_list("name", flat=True)) == ["设备"]
    assert archived.signed_at is None  # the form's empty day left it as it was
    # a number already used: said, 400, nothing changed
    record(org, "another", number="TAKEN-1")
    taken = client.post(
        reverse("web:contract_update", args=[archived.pk]),
        {"title": "x", "number": "TAKEN-1", "currency": "CNY"},
    )
    assert taken.status_code == 400
    assert "already used" in taken.content.decode()
    archived.refresh_from_db()
    assert archived.number == "EQ-1" and archived.title == "设备采购合同（修订）"

    amended = client.post(
        reverse("web:contract_amend", args=[archived.pk]),
        {
            "relation": "supplement",
            "document": SimpleUploadedFile("补充协议.pdf", sample_pdf, "application/pdf"),
            "number": "SUP-1",
        },
    )
    supplement = Contract.objects.get(number="SUP-1")
    assert amended.status_code == 302
    assert supplement.amends == archived and supplement.relation == "supplement"
    page = client.get(url)
    assert [c.number for c in page.context["chain"]] == ["EQ-1", "SUP-1"]
    assert "contract_amended" in kinds(archived)
    not_pdf = client.post(
        reverse("web:contract_amend", args=[archived.pk]),
        {"relation": "amendment", "document": SimpleUploadedFile("x.pdf", b"nope", "application/pdf")},
    )
    assert not_pdf.status_code == 400 and Contract.objects.count() == 3

    seller = org["people"]["seller"]
    assert browser(seller).get(url).status_code == 404
    shared = client.post(
        reverse("web:contract_share", args=[archived.pk]), {"email": seller.email, "right": "view"}
    )
    assert shared.status_code == 302
    assert browser(seller).get(url).status_code == 200
    outsider = client.post(
        reverse("web:contract_share", args=[archived.pk]), {"email": "nobody@else.test", "right": "view"}
    )
    assert outsider.status_code == 400
    assert "only with members of the organisation" in outsider.content.decode()


def test_the_nav_links_the_contracts(owner):
    body = browser(owner).get(reverse("web:documents")).content.decode()
    assert 'id="nav-contracts"' in body and 'href="/contracts/"' in body


def test_the_list_links_its_export_with_the_same_filters(org, owner):
    import csv
    import io
    import re

    record(org, "设备采购", counterparties=[{"name": "华为技术有限公司"}])
    record(org, "lease")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner)
    page = client.get("/contracts/?counterparty=华为").content.decode()
    link = re.search(r'id="export-csv"', page) and re.search(r'href="([^"]+)" id="export-csv"', page).group(1)
    assert "counterparty=" in link
    exported = client.get(link.replace("&amp;", "&"))
    assert exported.status_code == 200, exported.content
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["设备采购"]
