"""The built-in templates: each parses, has its parties and their signer fields, fills with its sample
values, renders to a PDF whose text holds the key clauses, and installing them is idempotent."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from econtract.documents import builtin
from econtract.documents.builtin import (
    CATALOG_PATH,
    TEMPLATES_DIR,
    catalog,
    install_builtin_templates,
    load_builtin,
    sample_values,
)
from econtract.documents.models import Template
from econtract.documents.placeholders import fill
from econtract.documents.rendering import PageSetup, render_pdf
from econtract.evidence.services import RequestContext

CREATED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SLUGS = [
    "sales-contract-zh",
    "sales-contract-en",
    "nda-zh",
    "nda-en",
    "labour-contract-zh",
    "employment-agreement-en",
    "announcement-zh",
    "announcement-en",
]
# slug → (kind, language, the parties' roles, the signer fields by name)
EXPECTED: dict[str, tuple[str, str, set[str], set[str]]] = {
    "sales-contract-zh": (
        "contract",
        "zh-hans",
        {"seller", "buyer"},
        {
            "seal_seller",
            "signature_seller",
            "date_signed_seller",
            "seal_buyer",
            "signature_buyer",
            "date_signed_buyer",
            "buyer_bank_account",
        },
    ),
    "nda-zh": (
        "agreement",
        "zh-hans",
        {"party_a", "party_b"},
        {
            "seal_party_a",
            "signature_party_a",
            "date_signed_party_a",
            "seal_party_b",
            "signature_party_b",
            "date_signed_party_b",
        },
    ),
    "labour-contract-zh": (
        "contract",
        "zh-hans",
        {"employer", "employee"},
        {
            "seal_employer",
            "signature_employer",
            "date_signed_employer",
            "signature_employee",
            "date_signed_employee",
            "employee_emergency_contact",
        },
    ),
    "announcement-zh": ("announcement", "zh-hans", {"issuer"}, {"seal_issuer", "date_signed_issuer"}),
}
EXPECTED["sales-contract-en"] = ("contract", "en", *EXPECTED["sales-contract-zh"][2:])
EXPECTED["nda-en"] = ("agreement", "en", *EXPECTED["nda-zh"][2:])
EXPECTED["employment-agreement-en"] = ("contract", "en", *EXPECTED["labour-contract-zh"][2:])
EXPECTED["announcement-en"] = ("announcement", "en", *EXPECTED["announcement-zh"][2:])

# Phrases the rendered PDF must contain (compared with all whitespace removed, as lines wrap anywhere).
KEY_CLAUSES: dict[str, list[str]] = {
    "sales-contract-zh": [
        "买卖合同",
        "《中华人民共和国民法典》",
        "检验与验收",
        "违约责任",
        "不可抗力",
        "《中华人民共和国电子签名法》第十四条",
        "上海澄明精密机械有限公司",
        "壹佰贰拾肆万伍仟元整",
        "1,245,000.00",
        "2027年1月15日",
        "付款方式：银行转账",
    ],
    "sales-contract-en": [
        "Sales Contract",
        "Incoterms® 2020",
        "Inspection and Acceptance",
        "Liability for Breach",
        "Force Majeure",
        "governed by the laws of the People's Republic of China",
        "USD",
        "175,800.00",
        "CIF Hamburg, Germany",
        "2027-02-28",
    ],
    "nda-zh": ["保密协议", "保密信息的定义", "除外情形", "返还与销毁", "有效期为2年", "伍拾万元整"],
    "nda-en": [
        "Mutual Non-Disclosure Agreement",
        "Exclusions",
        "Return and Destruction",
        "injunctive relief",
        "remains in force for 2 years",
    ],
    "labour-contract-zh": [
        "劳动合同",
        "《劳动合同法》第十九条",
        "三年以上固定期限和无固定期限的，不得超过六个月",
        "固定期限劳动合同，自2027年1月4日起",
        "标准工时制",
        "壹万捌仟伍佰元整",
        "18,500.00",
        "社会保险",
        "上海市浦东新区劳动人事争议仲裁委员会申请仲裁",
        "陈晓明",
    ],
    "employment-agreement-en": [
        "Employment Agreement",
        "Confidentiality",
        "EUR 78,000.00 per year",
        "90 days' written notice",
        "governed by the laws of the Federal Republic of Germany",
    ],
    "announcement-zh": ["关于2027年元旦放假安排的公告", "特此公告", "2026年12月20日", "澄明司发〔2026〕18号"],
    "announcement-en": ["Relocation of the Hamburg Service Centre", "takes effect on 2027-02-01"],
}


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "template.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_catalog_lists_exactly_the_template_files() -> None:
    # Given the catalogue and the directory of template files
    # Then every entry has its file, every file its entry, and these are the eight templates
    files = {path.stem for path in TEMPLATES_DIR.glob("*.html")}
    assert set(catalog()) == files == set(SLUGS)
    assert CATALOG_PATH.is_file()


@pytest.mark.parametrize("slug", SLUGS)
def test_each_template_parses_with_its_parties_and_signer_fields(slug: str) -> None:
    # Given a built-in template file
    # When it is read as the installer reads it (sanitised, then its placeholders parsed)
    template = load_builtin(slug)
    kind, language, roles, field_names = EXPECTED[slug]
    # Then it is small, of its kind and language, and described in its own language
    assert (TEMPLATES_DIR / f"{slug}.html").stat().st_size <= 20 * 1024
    assert (template.kind, template.language) == (kind, language)
    has_cjk = re.search(r"[\u4e00-\u9fff]", template.description) is not None
    assert has_cjk is (language == "zh-hans")
    # And its signer fields are exactly those expected, with the parties as their owners
    assert {f["name"] for f in template.fields} == field_names
    assert {f["party"] for f in template.fields} == roles
    # And every party has a signature or a seal, and a signing date
    for role in roles:
        kinds = {f["kind"] for f in template.fields if f["party"] == role}
        assert kinds & {"signature", "seal"}, role
        assert "date_signed" in kinds, role
    # And the parties are also variables of type party (their names, addresses etc. are filled)
    parties = {v["name"] for v in template.variables if v["type"] == "party"}
    assert parties == roles


@pytest.mark.parametrize("slug", SLUGS)
def test_the_sample_values_fill_every_placeholder(slug: str) -> None:
    # Given a built-in template and its sample values
    template = load_builtin(slug)
    values = sample_values(slug)
    # Then the samples name exactly the template's variables (no typo, none missing)
    assert set(values) == {v["name"] for v in template.variables}
    # When the template is filled
    filled = fill(template.html, values)
    # Then no placeholder is left, and every signer field became a field span
    assert "{{" not in filled and "}}" not in filled
    for field in template.fields:
        assert f'data-field="{field["name"]}"' in filled


def test_the_capital_amounts_of_the_sample_totals_appear() -> None:
    # Given the Chinese templates that write amounts in capital figures
    # When they are filled with their sample values
    sales = fill(load_builtin("sales-contract-zh").html, sample_values("sales-contract-zh"))
    labour = fill(load_builtin("labour-contract-zh").html, sample_values("labour-contract-zh"))
    # Then the totals appear in figures and in capitals (人民币 1,245,000.00 and 18,500.00)
    assert "¥1,245,000.00" in sales and "壹佰贰拾肆万伍仟元整" in sales
    assert "18,500.00" in labour and "壹万捌仟伍佰元整" in labour


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
@pytest.mark.parametrize("slug", SLUGS)
def test_each_filled_template_renders_to_a_pdf_with_its_key_clauses(slug: str, tmp_path: Path) -> None:
    # Given a built-in template filled with its sample values
    template = load_builtin(slug)
    filled = fill(template.html, sample_values(slug))
    # When it is rendered as a document version is
    setup = PageSetup(size="A4", language=template.language)
    rendered = render_pdf(filled, title=template.title, setup=setup, created=CREATED)
    # Then the PDF's text holds the key clauses and the sample values
    text = squeezed(text_of(rendered.pdf, tmp_path))
    for phrase in KEY_CLAUSES[slug]:
        assert squeezed(phrase) in text, phrase
    # And every signer field was laid out on a page
    assert {box.name for box in rendered.fields} == {f["name"] for f in template.fields}


@pytest.mark.django_db
def test_installing_twice_changes_nothing_the_second_time() -> None:
    # Given no built-in templates yet (a post_migrate hook may have installed them in the test database)
    Template.objects.filter(organization__isnull=True).delete()
    # When they are installed
    assert install_builtin_templates() == len(SLUGS)
    # Then there is one row per slug, with the file's title, kind, language, variables and fields
    rows = {t.slug: t for t in Template.objects.filter(organization__isnull=True)}
    assert set(rows) == set(SLUGS)
    sales = rows["sales-contract-zh"]
    assert (sales.title, sales.kind, sales.language) == ("买卖合同", "contract", "zh-hans")
    assert {"kind": "seal", "party": "buyer", "name": "seal_buyer"} in sales.fields
    assert any(v["name"] == "payment_method" and v["type"] == "choice" for v in sales.variables)
    stamps = {slug: row.updated_at for slug, row in rows.items()}
    # When they are installed again
    # Then nothing changed, not even a timestamp
    assert install_builtin_templates() == 0
    assert {t.slug: t.updated_at for t in Template.objects.filter(organization__isnull=True)} == stamps
    assert Template.objects.filter(organization__isnull=True).count() == len(SLUGS)


@pytest.mark.django_db
def test_installing_restores_an_edited_builtin_and_leaves_organisation_templates_alone(enterprise) -> None:
    from econtract.documents.templating import create_template

    # Given installed built-ins, one of them edited in the database since
    install_builtin_templates()
    Template.objects.filter(organization__isnull=True, slug="nda-en").update(
        title="Old NDA", html="<p>old</p>"
    )
    # And an organisation's own template that even carries a built-in slug
    owner = enterprise.members.first()
    own = create_template(
        owner,
        enterprise,
        title="我们的买卖合同",
        html="<p>卖方：{{ seller.organization }}</p><p>{{ seal: seller }}{{ date_signed: seller }}</p>",
        context=RequestContext.system("test"),
    )
    Template.objects.filter(pk=own.pk).update(slug="sales-contract-zh")
    before = Template.objects.get(pk=own.pk)
    # When the built-ins are installed again
    changed = install_builtin_templates()
    # Then only the edited built-in was restored from its file
    assert changed == 1
    nda = Template.objects.get(organization__isnull=True, slug="nda-en")
    assert nda.title == "Mutual Non-Disclosure Agreement"
    assert nda.html == load_builtin("nda-en").html
    # And the organisation's template is as it was
    after = Template.objects.get(pk=own.pk)
    assert (after.title, after.html, after.updated_at, after.organization_id) == (
        before.title,
        before.html,
        before.updated_at,
        enterprise.pk,
    )


def test_a_broken_catalog_entry_is_refused_before_anything_is_written(monkeypatch, tmp_path: Path) -> None:
    # Given a catalogue entry of an unknown kind
    entry = dict(catalog()["nda-en"], kind="poem")
    # When it is loaded
    # Then it is refused
    with pytest.raises(ValueError, match="unknown kind"):
        load_builtin("nda-en", entry)
    # And a template file over 20 KB is refused too
    big = tmp_path / "huge.html"
    big.write_text("<p>" + "条款" * 4000 + "</p>", encoding="utf-8")
    monkeypatch.setattr(builtin, "TEMPLATES_DIR", tmp_path)
    with pytest.raises(ValueError, match="larger than"):
        load_builtin("huge", dict(entry, kind="other"))
