"""The template grammar: what parse() reads, what fill() writes, and everything both refuse."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import lxml.html
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from econtract.documents import sanitizing
from econtract.documents.placeholders import (
    FIELD_CLASS,
    FIELD_KINDS,
    MAX_PLACEHOLDERS,
    MAX_TEMPLATE_BYTES,
    FieldPlaceholder,
    PlaceholderError,
    Variable,
    field_span,
    fill,
    parse,
    render_fields,
    variables_form_spec,
)
from econtract.textinput import TextKind, UnsafeText, clean_text


def syntax_error(html: str) -> PlaceholderError:
    with pytest.raises(PlaceholderError) as caught:
        parse(html)
    return caught.value


def value_error(html: str, values: dict[str, Any]) -> PlaceholderError:
    with pytest.raises(PlaceholderError) as caught:
        fill(html, values)
    assert caught.value.code == "template_value"
    return caught.value


# --- variables --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html", ["<p>{{x}}</p>", "<p>{{ x }}</p>", "<p>{{\n\t x  }}</p>", "<p>{{&nbsp;x&nbsp;}}</p>"]
)
def test_whitespace_inside_the_braces_is_free(html: str) -> None:
    # Given spaces, tabs, newlines or &nbsp; inside the braces, When parsed and filled, Then the same variable
    assert parse(html).variables == [Variable("x", "text")]
    assert fill(html, {"x": "甲"}) == "<p>甲</p>"


@pytest.mark.parametrize(
    ("placeholder", "value", "kind", "rendered"),
    [
        ("{{ v }}", "张三", "text", "张三"),
        ("{{ v | text }}", "  张三 ", "text", "张三"),  # trimmed, like all user text
        ("{{ v | number }}", "1234.50", "number", "1234.50"),
        ("{{ v | number }}", "-7", "number", "-7"),
        ("{{ v | number }}", 12, "number", "12"),
        ("{{ v | number }}", Decimal("1E+3"), "number", "1000"),
        ("{{ v | date }}", "2026-12-02", "date", "2026-12-02"),
        ("{{ v | date }}", date(2026, 12, 2), "date", "2026-12-02"),
        ("{{ v | date_cn }}", "2026-12-02", "date", "2026年12月2日"),
        ("{{ v | date_cn }}", date(2027, 1, 31), "date", "2027年1月31日"),
        ("{{ v | money }}", "12345.67", "money", "12,345.67"),
        ("{{ v | money }}", 1000000, "money", "1,000,000.00"),
        ("{{ v | money }}", Decimal("0.5"), "money", "0.50"),
        ("{{ v | money_capital }}", "12345.67", "money", "壹万贰仟叁佰肆拾伍元陆角柒分"),
        ("{{ v | money_capital }}", Decimal("100.05"), "money", "壹佰元零伍分"),
        ("{{ v | choice: 现金, 银行转账 }}", "银行转账", "choice", "银行转账"),
        ("{{ v|choice:A,B }}", "A", "choice", "A"),
    ],
)
def test_each_format(placeholder: str, value: Any, kind: str, rendered: str) -> None:
    # Given a template with one variable, When parsed and filled, Then its type and rendering
    html = f"<p>[{placeholder}]</p>"
    (variable,) = parse(html).variables
    assert (variable.name, variable.type) == ("v", kind)
    assert fill(html, {"v": value}) == f"<p>[{rendered}]</p>"


def test_choice_options_are_kept_in_order() -> None:
    # Given a choice with spaced options, When parsed, Then the options trimmed, in order
    parsed = parse("<p>{{ pay | choice:  现金 , 银行转账,支票 }}</p>")
    assert parsed.variables == [Variable("pay", "choice", options=("现金", "银行转账", "支票"))]


def test_a_variable_may_appear_several_times_with_agreeing_types() -> None:
    # Given a date and a money variable each used in both of their formats, Then one variable each, rendered per use
    html = "<p>{{ d | date }} / {{ d | date_cn }} / {{ p | money }} / {{ p | money_capital }} / {{ d | date }}</p>"
    parsed = parse(html)
    assert parsed.variables == [Variable("d", "date"), Variable("p", "money")]
    assert fill(html, {"d": "2026-12-02", "p": "10"}) == (
        "<p>2026-12-02 / 2026年12月2日 / 10.00 / 壹拾元整 / 2026-12-02</p>"
    )


def test_variables_in_first_appearance_order_and_form_spec() -> None:
    # Given variables repeated out of order, When parsed, Then each once, in first-appearance order, as the API returns them
    parsed = parse(
        "<p>{{ zeta }}{{ buyer.phone }}{{ alpha | choice: 是, 否 }}{{ buyer.name }}{{ zeta }}{{ buyer.phone }}</p>"
    )
    assert [v.name for v in parsed.variables] == ["zeta", "buyer", "alpha"]
    assert variables_form_spec(parsed) == [
        {"name": "zeta", "type": "text", "options": [], "attributes": []},
        {"name": "buyer", "type": "party", "options": [], "attributes": ["phone", "name"]},
        {"name": "alpha", "type": "choice", "options": ["是", "否"], "attributes": []},
    ]


# --- parties and fields ------------------------------------------------------------------------------


def test_every_party_attribute() -> None:
    # Given all eight attributes of one party (spaces around the period), Then one party variable with them in order, each escaped when filled
    attributes = [
        "name",
        "email",
        "phone",
        "address",
        "id_number",
        "organization",
        "uscc",
        "legal_representative",
    ]
    html = "".join(f"<p>{{{{ seller . {a} }}}}</p>" for a in attributes)
    parsed = parse(html)
    assert parsed.variables == [Variable("seller", "party", attributes=tuple(attributes))]
    assert parsed.roles == ["seller"]
    filled = fill(html, {"seller": {a: f"<{a}>" for a in attributes}})
    assert filled == "".join(f"<p>&lt;{a}&gt;</p>" for a in attributes)


@pytest.mark.parametrize("kind", ["signature", "seal", "initials", "date_signed"])
def test_role_fields_are_named_kind_role(kind: str) -> None:
    # Given a role field, When parsed, Then the field is named KIND_ROLE and ROLE becomes a role (not a variable)
    parsed = parse(f"<p>{{{{ {kind}: buyer }}}}</p>")
    assert parsed.fields == [FieldPlaceholder(kind, "buyer", f"{kind}_buyer")]
    assert parsed.roles == ["buyer"]
    assert parsed.variables == []


@pytest.mark.parametrize("kind", ["text", "number", "checkbox"])
def test_named_fields_belong_to_the_longest_role_prefix(kind: str) -> None:
    # Given roles party and party_a (party_a only appears after the field), When a field party_a_x
    # is read, Then it belongs to party_a, and party_x to party
    html = f"<p>{{{{ {kind}: party_a_x }}}}{{{{ {kind}:party_x }}}}{{{{ party.name }}}}{{{{ seal: party_a }}}}</p>"
    parsed = parse(html)
    assert parsed.fields == [
        FieldPlaceholder(kind, "party_a", "party_a_x"),
        FieldPlaceholder(kind, "party", "party_x"),
        FieldPlaceholder("seal", "party_a", "seal_party_a"),
    ]
    assert parsed.roles == ["party", "party_a"]


def test_fields_are_unique_by_name_and_numbered_per_placement() -> None:
    # Given a signature placed three times, When filled, Then one field, spans numbered -1, -2, -3
    html = (
        "<p>{{ signature: buyer }}</p><p>{{ text: buyer_note }}</p><p>{{signature:buyer}}</p>"
        "<p>{{ signature: seller }}</p><p>{{ signature: buyer }}</p>"
    )
    parsed = parse(html)
    assert [f.name for f in parsed.fields] == ["signature_buyer", "buyer_note", "signature_seller"]
    filled = fill(html, {})
    assert filled == (
        f"<p>{field_span('signature', 'signature_buyer', 'buyer', 1)}</p>"
        f"<p>{field_span('text', 'buyer_note', 'buyer', 1)}</p>"
        f"<p>{field_span('signature', 'signature_buyer', 'buyer', 2)}</p>"
        f"<p>{field_span('signature', 'signature_seller', 'seller', 1)}</p>"
        f"<p>{field_span('signature', 'signature_buyer', 'buyer', 3)}</p>"
    )


def test_the_field_span_markup_is_exact() -> None:
    # Given the renderer's contract, Then the span is exactly this markup, and nothing else can be asked of field_span
    assert FIELD_CLASS == "ec-field"
    assert field_span("date_signed", "date_signed_buyer", "buyer", 2) == (
        '<span class="ec-field ec-field-date_signed" id="ec-field-date_signed_buyer-2" '
        'data-field="date_signed_buyer" data-kind="date_signed" data-party="buyer"></span>'
    )
    with pytest.raises(ValueError):
        field_span("stamp", "stamp_buyer", "buyer", 1)
    with pytest.raises(ValueError):
        field_span("text", 'x" onclick="y', "buyer", 1)
    with pytest.raises(ValueError):
        field_span("text", "buyer_x", "buyer", 0)


def test_the_sanitizer_keeps_field_spans_as_they_are() -> None:
    # Given a filled document (it is sanitised again when stored), Then the spans survive unchanged
    assert FIELD_KINDS == sanitizing.FIELD_KINDS
    filled = fill("<p>{{ signature: buyer }}{{ checkbox: buyer_agree }}{{ seal: seller }}</p>", {})
    assert sanitizing.clean_html(filled) == filled


# --- literals and what is not interpreted -------------------------------------------------------------


def test_literal_braces() -> None:
    # Given {{ "{{" }} and {{ "}}" }} (also with &quot;), When filled, Then literal braces and no placeholder
    html = '<p>写作 {{ "{{" }} name {{ "}}" }}，或 {{"}}"}}{{&quot;{{&quot;}}</p>'
    parsed = parse(html)
    assert parsed.variables == [] and parsed.fields == []
    assert fill(html, {}) == "<p>写作 {{ name }}，或 }}{{</p>"


def test_character_references_for_braces_are_plain_text() -> None:
    # Given braces written as character references, Then they are text, not a placeholder
    html = "<p>&#123;&#123; x &#125;&#125;</p>"
    assert parse(html).variables == []
    assert fill(html, {}) == html


def test_placeholders_in_attributes_comments_scripts_and_styles_are_not_interpreted() -> None:
    # Given braces outside text nodes, When filled, Then they stay exactly as written
    html = (
        "<a href=\"{{ url }}\" title='{{ t }}'>{{ label }}</a><!-- {{ secret }} -->"
        "<script>var a = '{{ code }}';</script><style>p::after{content:'{{ css }}'}</style>"
        '<img alt="{{ alt }}">'
    )
    assert parse(html).variables == [Variable("label", "text")]
    assert fill(html, {"label": "链接", "url": "javascript:alert(1)"}) == html.replace("{{ label }}", "链接")


def test_text_after_a_self_closed_script_is_not_interpreted() -> None:
    # Given "<script/>", which a browser opens as a script (the slash is ignored), Then what follows
    # up to </script> is not a text node: no value may land in code
    html = "<script/>{{ code }}</script><p>{{ after }}</p>"
    assert parse(html).variables == [Variable("after", "text")]
    assert fill(html, {"code": "alert(1)", "after": "x"}) == "<script/>{{ code }}</script><p>x</p>"


# --- HTML outside placeholders is untouched -------------------------------------------------------------


def test_html_outside_placeholders_is_unchanged_byte_for_byte() -> None:
    # Given odd but valid HTML (doctype, CRLF, upper case, entities, unquoted attributes, comments), When filled, Then only the placeholders changed
    html = (
        "<!DOCTYPE html>\r\n<P CLASS=intro style='text-align:center' data-x=\"a&amp;b\">"
        "甲方&nbsp;&nbsp;（买方）：{{ buyer.name }}&ensp;&#x4e2d;&#20013;&lt;tag&gt; &amp; &copy</P>\n"
        "<br/><BR><hr />\n<p>  多个   空格\t{{ price | money }}元 &quot;引号&quot; 'single'</p>"
        "<ul><li>{{ note }}<li>无结束标签</ul><?pi x?><!-- 注释 -->"
    )
    filled = fill(html, {"buyer": {"name": "张三"}, "price": "9.9", "note": "备注"})
    expected = html.replace("{{ buyer.name }}", "张三").replace("{{ price | money }}", "9.90")
    assert filled == expected.replace("{{ note }}", "备注")


def test_a_template_without_placeholders_is_returned_as_it_is() -> None:
    # Given no placeholders (single braces are text), When filled, Then the same string
    html = "<p>纯文本 &nbsp; <b>粗体</b> {single} braces } { </p>"
    assert fill(html, {"unused": "x"}) == html
    assert parse(html).variables == [] and parse(html).roles == []


# --- values are escaped and checked ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('"><img src=x onerror=alert(1)>', "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        ("A&B 'q'", "A&amp;B &#x27;q&#x27;"),
        ("{{ other }}", "{{ other }}"),  # a value is never read as a placeholder
    ],
)
def test_values_are_escaped(value: str, escaped: str) -> None:
    # Given hostile values, When filled into a variable and a party attribute, Then they are text, not markup
    html = "<p>{{ v }}|{{ buyer.address }}</p>"
    filled = fill(html, {"v": value, "buyer": {"address": value}})
    assert filled == f"<p>{escaped}|{escaped}</p>"
    root = lxml.html.fragment_fromstring(filled)
    assert root.text_content() == f"{value}|{value}"
    assert [element.tag for element in root.iter()] == ["p"]


def test_a_choice_option_with_an_entity_is_matched_decoded_and_rendered_escaped() -> None:
    # Given an option written with &amp;, Then the option is A&B, matched as such and written escaped
    html = "<p>{{ v | choice: A&amp;B, C }}</p>"
    assert parse(html).variables[0].options == ("A&B", "C")
    assert fill(html, {"v": "A&B"}) == "<p>A&amp;B</p>"


@pytest.mark.parametrize(
    ("placeholder", "values", "variable"),
    [
        ("{{ v }}", {}, "v"),
        ("{{ v }}", {"v": ""}, "v"),
        ("{{ v }}", {"v": "   "}, "v"),
        ("{{ v }}", {"v": 3}, "v"),
        ("{{ v }}", {"v": None}, "v"),
        ("{{ v }}", {"v": "a\x00b"}, "v"),
        ("{{ v }}", {"v": "line\nbreak"}, "v"),
        ("{{ v }}", {"v": "tab\there"}, "v"),
        ("{{ v }}", {"v": "\u202eevil"}, "v"),  # a bidi override ("Trojan Source")
        ("{{ v }}", {"v": "\x85"}, "v"),
        ("{{ v }}", {"v": "x" * 2001}, "v"),
        ("{{ v | number }}", {"v": "1e5"}, "v"),
        ("{{ v | number }}", {"v": "1,000"}, "v"),
        ("{{ v | number }}", {"v": 1.5}, "v"),
        ("{{ v | number }}", {"v": True}, "v"),
        ("{{ v | number }}", {"v": Decimal("NaN")}, "v"),
        ("{{ v | number }}", {"v": Decimal("1E+999999")}, "v"),
        ("{{ v | number }}", {"v": Decimal("1E-999999")}, "v"),
        ("{{ v | date }}", {"v": "2026-13-01"}, "v"),
        ("{{ v | date }}", {"v": "20261202"}, "v"),
        ("{{ v | date }}", {"v": "2026-W49-3"}, "v"),
        ("{{ v | date_cn }}", {"v": datetime(2026, 12, 2, 10, 0)}, "v"),
        ("{{ v | date }}", {"v": 20261202}, "v"),
        ("{{ v | money }}", {"v": "-1"}, "v"),
        ("{{ v | money }}", {"v": "1.001"}, "v"),
        ("{{ v | money }}", {"v": 1.5}, "v"),
        ("{{ v | money_capital }}", {"v": "abc"}, "v"),
        ("{{ v | money_capital }}", {"v": 10**16}, "v"),
        ("{{ v | choice: A, B }}", {"v": "C"}, "v"),
        ("{{ v | choice: A, B }}", {"v": " A"}, "v"),
        ("{{ v | choice: A, B }}", {"v": ["A"]}, "v"),
        ("{{ buyer.name }}", {"buyer": "张三"}, "buyer.name"),
        ("{{ buyer.name }}", {"buyer": {"email": "a@example.com"}}, "buyer.name"),
        ("{{ buyer.name }}", {"buyer": {"name": "a\x07"}}, "buyer.name"),
        ("{{ buyer.name }}", {}, "buyer"),
    ],
)
def test_missing_and_invalid_values_are_refused_naming_the_variable(
    placeholder: str, values: dict[str, Any], variable: str
) -> None:
    # Given a missing or invalid value, When filled, Then template_value naming the variable
    error = value_error(f"<p>{placeholder}</p>", values)
    assert error.variable == variable
    assert variable in str(error)


def test_values_the_template_does_not_use_are_ignored() -> None:
    # Given extra values (even invalid ones), When filled, Then they are ignored
    assert fill("<p>{{ a }}</p>", {"a": "1", "b": "\x00", "c": {"x": 1}}) == "<p>1</p>"


# --- syntax errors, with their offsets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "offset", "fragment"),
    [
        ("<p>{{ <b>buyer</b>.name }}</p>", 3, "not closed"),
        ("<p>{{ buyer.name</p><p>}}</p>", 3, "not closed"),
        ("<p>a }} b</p>", 5, "without an opening"),
        ("<p>{{ a }} }}</p>", 11, "without an opening"),
        ("<p>x</p><p>{{ x | foo }}</p>", 11, "unknown format 'foo'"),
        ("<p>{{ x | choice }}</p>", 3, "unknown format"),
        ("<p>{{ x | choice a, b }}</p>", 3, "unknown format"),
        ("<p>{{ x | choice: a, , b }}</p>", 3, "option is empty"),
        ("<p>{{ x | choice: a, a }}</p>", 3, "twice"),
        ("<p>{{ x | choice: a}b }}</p>", 3, "must not contain"),
        ("<p>{{ x | choice: a | b }}</p>", 3, "must not contain"),
        ("<p>{{ x | money | text }}</p>", 3, "unknown format"),
        ("<p>{{ buyer.name | text }}</p>", 3, "takes no format"),
        ("<p>{{ buyer.nickname }}</p>", 3, "unknown party attribute 'nickname'"),
        ("<p>{{ a.b.c }}</p>", 3, "unknown party attribute"),
        ("<p>{{ 1abc }}</p>", 3, "must be a letter"),
        ("<p>{{ _x }}</p>", 3, "must be a letter"),
        ("<p>{{ a-b }}</p>", 3, "must be a letter"),
        ("<p>{{ a b }}</p>", 3, "must be a letter"),
        ("<p>{{ 甲方 }}</p>", 3, "must be a letter"),
        ("<p>{{ " + "a" * 65 + " }}</p>", 3, "1 to 64"),
        ("<p>{{ stamp: buyer }}</p>", 3, "unknown field kind 'stamp'"),
        ("<p>{{ signature: buyer.x }}</p>", 3, "period"),
        ("<p>{{ signature: }}</p>", 3, "1 to 64"),
        ("<p>{{ text: memo }}</p>", 3, "belongs to no party"),
        ("<p>{{ buyer.name }}{{ text: buyer_ }}</p>", 19, "belongs to no party"),
        ("<p>{{ buyer.name }}{{ text: buyers_x }}</p>", 19, "belongs to no party"),
        ("<p>{{ signature: " + "r" * 60 + " }}</p>", 3, "longer than 64"),
        ("<p>{{ x }}</p><p>{{ x | number }}</p>", 17, "used as number here but as text"),
        ("<p>{{ d | date }}{{ d | money }}</p>", 17, "used as money here but as date"),
        ("<p>{{ c | choice: a, b }}{{ c | choice: a, c }}</p>", 25, "other options"),
        ("<p>{{ buyer }}{{ buyer.name }}</p>", 14, "used as party here but as text"),
        (
            "<p>{{ signature: buyer }}{{ signature.name }}{{ text: signature_buyer }}</p>",
            45,
            "placed as a text",
        ),
        ("<p>{{ signature: buyer }}{{ buyer_note }}{{ text: buyer_note }}</p>", 41, "both as a variable"),
        ('<p>{{ "x" }}</p>', 3, "only quoted texts"),
        ('<p>{{ "{{ }}</p>', 3, "only quoted texts"),
        ("<p>{{ }}</p>", 3, "empty"),
        ("<p>{{}}</p>", 3, "empty"),
        ("<p>{{ a {{ b }}</p>", 3, "must be a letter"),
        ("<p>a < b {{ x }}</p>", 5, "malformed HTML"),
        ('<p>ok</p><span class="x ec-field">', 9, "field markup"),
        ('<p>ok</p><span id="ec-field-signature_buyer-1">', 9, "field markup"),
        ('<p>ok</p><span data-field="signature_buyer"/>', 9, "field markup"),
    ],
)
def test_syntax_errors_say_what_and_where(html: str, offset: int, fragment: str) -> None:
    # Given a template with one mistake, When parsed, Then template_syntax saying what, at the offset of the placeholder or tag
    error = syntax_error(html)
    assert error.code == "template_syntax"
    assert error.offset == offset
    assert fragment in str(error)
    assert f"offset {offset}" in str(error)
    assert isinstance(error, ValueError)


def test_offsets_count_characters_across_lines_and_chinese() -> None:
    # Given several lines, CRLF and Chinese before the mistake, Then the offset is the str index of its {{
    html = "<p>第一行</p>\n<p>第二行\r\n  {{ x | bad }}</p>"
    assert syntax_error(html).offset == html.index("{{")


def test_the_first_error_in_the_document_is_reported() -> None:
    # Given two mistakes, Then the first one is reported
    html = "<p>{{ a | bad }}</p><p>{{ b | bad }}</p>"
    assert syntax_error(html).offset == 3


# --- bounds ----------------------------------------------------------------------------------------------


def test_templates_over_two_mebibytes_are_refused() -> None:
    # Given 2 MiB of Chinese text (3 bytes a character in UTF-8), Then too large though < 2 Mi chars
    error = syntax_error("<p>" + "合" * (MAX_TEMPLATE_BYTES // 3) + "</p>")
    assert error.code == "template_too_large"


def test_more_than_two_thousand_placeholders_are_refused() -> None:
    # Given exactly 2,000 placeholders, Then accepted; Given 2,001, Then too large, at the 2,001st
    at_limit = "<p>" + "{{ x }}" * MAX_PLACEHOLDERS + "</p>"
    assert parse(at_limit).variables == [Variable("x", "text")]
    error = syntax_error(at_limit.replace("</p>", "{{ x }}</p>"))
    assert error.code == "template_too_large"
    assert error.offset == 3 + 7 * MAX_PLACEHOLDERS


def test_pathological_braces_are_scanned_in_linear_time() -> None:
    # Given a large text node of braces that never close, Then an error, promptly (no backtracking)
    assert syntax_error("<p>" + "{{ a" * 200_000 + "</p>").offset == 3
    assert syntax_error("<p>" + "{" * 1_000_000 + "</p>").code == "template_syntax"
    html = "<p>" + "{ } " * 400_000 + "</p>"
    assert fill(html, {}) == html


# --- a Chinese sales contract -------------------------------------------------------------------------------

SALES_CONTRACT = """<h1 style="text-align:center">买卖合同</h1>
<p>合同编号：{{ contract_no }}</p>
<p>买方（甲方）：{{ buyer.organization }}，统一社会信用代码：{{ buyer.uscc }}，
法定代表人：{{ buyer.legal_representative }}，地址：{{ buyer.address }}</p>
<p>卖方（乙方）：{{ seller.organization }}，统一社会信用代码：{{ seller.uscc }}</p>
<p>担保方（丙方）：{{ party_a.name }}，电话：{{ text: party_a_phone }}</p>
<p>一、标的：{{ goods }}，数量 {{ quantity | number }} 件。</p>
<p>二、价款：人民币 <strong>{{ price | money }}</strong> 元（大写：{{ price | money_capital }}）。</p>
<p>三、付款方式：{{ payment | choice: 银行转账, 现金, 承兑汇票 }}；交货日期：{{ delivery | date_cn }}。</p>
<p>四、收货地址：{{ text: buyer_address }}&nbsp;&nbsp;确认：{{ checkbox: buyer_confirm }}</p>
<table><tr><td>甲方（盖章）：{{ seal: buyer }}<br>签字：{{ signature: buyer }}<br>日期：{{ date_signed: buyer }}</td>
<td>乙方（盖章）：{{ seal: seller }}<br>签字：{{ signature: seller }}</td></tr></table>
<p>附件签字（甲方）：{{ signature: buyer }}　{{ initials: buyer }}</p>
<p>丙方签字：{{ signature: party_a }}</p>"""

SALES_VALUES: dict[str, Any] = {
    "contract_no": "HT-2026-0012",
    "buyer": {
        "organization": "北京某某科技有限公司",
        "uscc": "91110108MA01ABCD2X",
        "legal_representative": "张三",
        "address": "北京市海淀区中关村大街1号",
        "email": "unused@example.com",
    },
    "seller": {"organization": "上海某某贸易有限公司", "uscc": "91310000MA1FL0XY3Q"},
    "party_a": {"name": "李四"},
    "goods": "服务器 <机架式>",
    "quantity": "20",
    "price": Decimal("1680.32"),
    "payment": "银行转账",
    "delivery": date(2026, 12, 2),
}


def test_a_sales_contract_is_parsed() -> None:
    # Given a Chinese sales contract with three parties, When parsed, Then its variables, fields (party_a_phone to party_a) and roles
    parsed = parse(SALES_CONTRACT)
    assert parsed.roles == ["buyer", "seller", "party_a"]
    assert parsed.variables == [
        Variable("contract_no", "text"),
        Variable("buyer", "party", attributes=("organization", "uscc", "legal_representative", "address")),
        Variable("seller", "party", attributes=("organization", "uscc")),
        Variable("party_a", "party", attributes=("name",)),
        Variable("goods", "text"),
        Variable("quantity", "number"),
        Variable("price", "money"),
        Variable("payment", "choice", options=("银行转账", "现金", "承兑汇票")),
        Variable("delivery", "date"),
    ]
    assert parsed.fields == [
        FieldPlaceholder("text", "party_a", "party_a_phone"),
        FieldPlaceholder("text", "buyer", "buyer_address"),
        FieldPlaceholder("checkbox", "buyer", "buyer_confirm"),
        FieldPlaceholder("seal", "buyer", "seal_buyer"),
        FieldPlaceholder("signature", "buyer", "signature_buyer"),
        FieldPlaceholder("date_signed", "buyer", "date_signed_buyer"),
        FieldPlaceholder("seal", "seller", "seal_seller"),
        FieldPlaceholder("signature", "seller", "signature_seller"),
        FieldPlaceholder("initials", "buyer", "initials_buyer"),
        FieldPlaceholder("signature", "party_a", "signature_party_a"),
    ]


def test_a_sales_contract_is_filled() -> None:
    # Given the sales contract and its values, When filled, Then values rendered and escaped, fields as spans with unique ids
    filled = fill(SALES_CONTRACT, SALES_VALUES)
    assert "合同编号：HT-2026-0012" in filled
    assert "法定代表人：张三，地址：北京市海淀区中关村大街1号" in filled
    assert "标的：服务器 &lt;机架式&gt;，数量 20 件" in filled
    assert "<strong>1,680.32</strong> 元（大写：壹仟陆佰捌拾元零叁角贰分）" in filled
    assert "付款方式：银行转账；交货日期：2026年12月2日。" in filled
    assert "担保方（丙方）：李四，电话：" + field_span("text", "party_a_phone", "party_a", 1) in filled
    assert "收货地址：" + field_span("text", "buyer_address", "buyer", 1) + "&nbsp;&nbsp;确认：" in filled
    assert "签字：" + field_span("signature", "signature_buyer", "buyer", 1) + "<br>" in filled
    assert "附件签字（甲方）：" + field_span("signature", "signature_buyer", "buyer", 2) + "　" in filled
    assert field_span("signature", "signature_party_a", "party_a", 1) in filled
    assert "{{" not in filled and "}}" not in filled
    ids = lxml.html.fragment_fromstring(filled, create_parent="div").xpath("//span/@id")
    assert len(ids) == 11 and len(set(ids)) == 11
    assert "ec-field-signature_buyer-1" in ids and "ec-field-signature_buyer-2" in ids
    assert sanitizing.clean_html(filled).count('class="ec-field ') == 11


# --- properties ---------------------------------------------------------------------------------------------


def _acceptable(text: str) -> bool:
    try:
        return bool(clean_text(text, TextKind.LINE, max_length=2000))
    except UnsafeText:
        return False


hostile_text = st.one_of(
    st.text(alphabet=st.sampled_from(list("<>&\"'/=! -abc{}中;#x")), min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
).filter(_acceptable)

PROPERTY_TEMPLATE = (
    '<div class="text-align-center"><p>甲方：{{ buyer.name }}，{{ note }}</p>'
    "<table><tr><td>{{ note }}</td><td>{{ buyer.address }} {{ signature: buyer }}</td></tr></table>"
    '<p><a href="https://example.com/">{{ label }}</a><img src="/x.png" alt="x"></p></div>'
)


def _elements(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    root = lxml.html.fragment_fromstring(html, create_parent="section")
    return [(element.tag, sorted(element.attrib.items())) for element in root.iter()]


@settings(max_examples=200, deadline=None)
@given(name=hostile_text, address=hostile_text, note=hostile_text, label=hostile_text)
def test_filling_arbitrary_text_never_produces_a_tag(name: str, address: str, note: str, label: str) -> None:
    # Given any acceptable text values, When filled, Then the output has exactly the elements of the
    # template plus the field span (as with harmless values), and each value reads back as text
    values = {"buyer": {"name": name, "address": address}, "note": note, "label": label}
    filled = fill(PROPERTY_TEMPLATE, values)
    harmless = fill(PROPERTY_TEMPLATE, {"buyer": {"name": "a", "address": "b"}, "note": "c", "label": "d"})
    assert _elements(filled) == _elements(harmless)
    assert [tag for tag, _ in _elements(filled)].count("span") == 1
    root = lxml.html.fragment_fromstring(filled, create_parent="section")
    cleaned = {key: clean_text(value, TextKind.LINE) for key, value in (("n", name), ("a", address))}
    assert root.xpath("string(.//p[1])") == f"甲方：{cleaned['n']}，{clean_text(note, TextKind.LINE)}"
    assert root.xpath("string(.//a)") == clean_text(label, TextKind.LINE)
    assert root.xpath("string(.//td[2])") == cleaned["a"] + " "


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('{}<>"|.:_ab1 &;/p')), max_size=60))
def test_any_text_is_either_a_template_or_a_placeholder_error(html: str) -> None:
    # Given arbitrary text made of the grammar's characters, When parsed and filled, Then either it
    # works or it is a PlaceholderError, never another exception
    try:
        parsed = parse(html)
    except PlaceholderError as error:
        assert error.offset is None or 0 <= error.offset < len(html)
        return
    values: dict[str, Any] = {v.name: {a: "x" for a in v.attributes} or "x" for v in parsed.variables}
    assume(all(v.type in ("text", "party") for v in parsed.variables))
    fill(html, values)


def test_a_filled_document_keeps_its_fields_as_placeholders_until_it_is_rendered():
    # Given a template with a party variable, two placements of a signature, a text field and a literal
    template = (
        "<p>买方：{{ buyer.name }} 签字：{{ signature: buyer }} {{ signature: buyer }} "
        '地址 {{ text: buyer_address }} {{ "{{" }}</p>'
    )
    # When it is filled as a document with a value that contains braces and markup
    document = fill(template, {"buyer": {"name": "x{{ signature: evil }}y <b>"}}, keep_fields=True)
    # Then the fields and the literal are still placeholder text, and the value's braces are literal braces
    assert (
        "{{ signature: buyer }} {{ signature: buyer }}" in document
        and "{{ text: buyer_address }}" in document
    )
    assert 'x{{ "{{" }} signature: evil {{ "}}" }}y &lt;b&gt;' in document
    assert "ec-field" not in document
    # When it is rendered, the fields become spans (placements counted), the value's braces stay text
    rendered = render_fields(document)
    assert (
        rendered.count('data-field="signature_buyer"') == 2 and 'id="ec-field-signature_buyer-2"' in rendered
    )
    assert 'data-field="buyer_address"' in rendered and "signature: evil" in rendered
    assert 'data-field="signature_evil"' not in rendered  # a value never becomes a field
    # and a document with a variable left unfilled cannot be rendered
    with pytest.raises(PlaceholderError) as unfilled:
        render_fields("<p>{{ buyer.name }} {{ signature: buyer }}</p>")
    assert unfilled.value.code == "template_value" and unfilled.value.variable == "buyer"
