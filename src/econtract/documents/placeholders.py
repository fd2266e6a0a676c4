"""The placeholder grammar of document templates, and the only code that interprets it.

A template is the HTML the rich-text editor saves. It never passes through a template engine (Django,
Jinja): this module reads it with an HTML parser, looks for placeholders in **text nodes only**, and
leaves every other byte of the HTML as it was. A placeholder written in an attribute
(``<a href="{{ url }}">``), a comment, or the content of ``<script>``/``<style>`` is not interpreted:
it stays as written, so a value can never land in a URL, an event handler or code.

Placeholders are ``{{ … }}`` within one text node; whitespace inside the braces is free:

- ``{{ NAME }}`` or ``{{ NAME | FORMAT }}``: a variable. FORMAT is ``text``, ``number``, ``date``
  (2026-12-02), ``date_cn`` (2026年12月2日), ``money`` (12,345.67), ``money_capital`` (壹万贰仟叁佰
  肆拾伍元陆角柒分, :func:`econtract.documents.money.capital_amount`) or ``choice: A, B, C`` (the
  value is one of the options; an option is text without ``,`` ``|`` ``{`` ``}``). The variable's type
  is text, number, date (date, date_cn), money (money, money_capital) or choice; every use of a
  variable must agree on it (a choice on its options too).
- ``{{ ROLE.ATTR }}``: an attribute of a party (name, email, phone, address, id_number, organization,
  uscc, legal_representative); ROLE becomes a variable of type ``party``.
- ``{{ KIND: NAME }}``: a signer field, left for the signer. For signature, seal, initials and
  date_signed, NAME is the party's ROLE and the field is named ``KIND_ROLE``. For text, number and
  checkbox, NAME is the field's name and its party is the template's role that is the longest prefix
  of NAME followed by ``_`` (``party_a_phone`` belongs to ``party_a``, not ``party``); the roles are
  those of party variables and of signature, seal, initials and date_signed fields.
- ``{{ "{{" }}`` and ``{{ "}}" }}`` write literal ``{{`` and ``}}``; a ``}}`` alone is an error. Braces
  written as character references (``&#123;&#123;``) are plain text.

Names (variables, roles, fields) are ``[A-Za-z][A-Za-z0-9_]{0,63}``: no period, which PDF field names
forbid; a field name is at most 64 characters in all. Anything else between the braces, a ``{{``
without its ``}}`` in the same text node (e.g. split by bold: ``{{ <b>buyer</b>.name }}``), a field
name used with two kinds or parties, or markup that imitates field spans (class ``ec-field``, an id
``ec-field-…``, ``data-field``) is a :class:`PlaceholderError` with the offset in the HTML. Templates
over 2 MiB or with more than 2,000 placeholders are refused; the scan is linear (``str.find``, no
backtracking regular expression).

:func:`fill` substitutes the variables, HTML-escaped, and turns every field placeholder into
:func:`field_span`, the markup the renderer lays out (``documents.rendering``) and the sanitizer keeps
(``documents.sanitizing``). Its output is a document, not a template: values may contain braces, so it
must never be parsed as a template again.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any, Final, Literal

from econtract.documents.money import capital_amount, parse_amount
from econtract.textinput import TextKind, UnsafeText, clean_text

TEMPLATE_SYNTAX: Final = "template_syntax"
TEMPLATE_VALUE: Final = "template_value"
TEMPLATE_TOO_LARGE: Final = "template_too_large"

MAX_TEMPLATE_BYTES: Final = 2 * 1024 * 1024
MAX_PLACEHOLDERS: Final = 2000
MAX_NAME_LENGTH: Final = 64
MAX_VALUE_LENGTH: Final = 2000
MAX_OPTIONS: Final = 100
MAX_OPTION_LENGTH: Final = 200
# Numbers: at most this many digits before and after the point (a value is text in a contract, not a
# computation; the bound keeps "1E+999999" from becoming a million zeros).
MAX_NUMBER_DIGITS: Final = 30

FIELD_CLASS: Final = "ec-field"
FIELD_KINDS: Final = frozenset({"signature", "seal", "date_signed", "text", "number", "checkbox", "initials"})
ROLE_FIELD_KINDS: Final = frozenset({"signature", "seal", "initials", "date_signed"})
PARTY_ATTRIBUTES: Final = (
    "name",
    "email",
    "phone",
    "address",
    "id_number",
    "organization",
    "uscc",
    "legal_representative",
)
FORMAT_TYPES: Final[dict[str, str]] = {
    "text": "text",
    "number": "number",
    "date": "date",
    "date_cn": "date",
    "money": "money",
    "money_capital": "money",
}
CHOICE: Final = "choice"
PARTY: Final = "party"
VARIABLE_TYPES: Final = ("text", "number", "date", "money", CHOICE, PARTY)

_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NAME_CHARS: Final = _LETTERS | frozenset("0123456789_")
_DIGITS: Final = frozenset("0123456789")
_FIELD_ATTRIBUTES: Final = frozenset({"data-field", "data-kind", "data-party"})


class PlaceholderError(ValueError):
    """A template or a value for it cannot be accepted.

    ``code``: ``template_syntax`` (``offset`` is where in the HTML, a str index), ``template_value``
    (``variable`` names the variable, e.g. ``buyer.name``), ``template_too_large``.
    """

    code = TEMPLATE_SYNTAX

    def __init__(
        self,
        message: str,
        offset: int | None = None,
        *,
        code: str = TEMPLATE_SYNTAX,
        variable: str | None = None,
    ) -> None:
        super().__init__(message if offset is None else f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset
        self.code = code
        self.variable = variable


_ErrorFactory = Callable[[str], PlaceholderError]


@dataclass(frozen=True)
class Variable:
    name: str
    type: str  # one of VARIABLE_TYPES
    options: tuple[str, ...] = ()  # a choice's options
    attributes: tuple[str, ...] = ()  # a party's attributes used, in first-appearance order


@dataclass(frozen=True)
class FieldPlaceholder:
    kind: str
    party: str
    name: str


@dataclass(frozen=True)
class ParsedTemplate:
    variables: list[Variable]
    fields: list[FieldPlaceholder]
    roles: list[str]


@dataclass(frozen=True)
class _Placeholder:
    """One ``{{ … }}`` as written: where (str offsets of ``{{`` and just past ``}}``) and what."""

    start: int
    end: int
    what: Literal["literal", "variable", "party", "field"]
    name: str = ""  # variable name, role, or a field's NAME as written
    detail: str = ""  # format, party attribute, field kind, or the literal text
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Reading:
    placeholders: list[_Placeholder]
    parsed: ParsedTemplate
    field_of: dict[int, FieldPlaceholder]  # placeholder start → its field


# --- public API ----------------------------------------------------------------------------------


def parse(html_text: str) -> ParsedTemplate:
    """The variables, fields and roles of a template, or :class:`PlaceholderError`."""
    return _read(html_text).parsed


def variables_form_spec(parsed: ParsedTemplate) -> list[dict[str, Any]]:
    """What a form asks for, as the API returns it (JSON-ready)."""
    return [
        {
            "name": variable.name,
            "type": variable.type,
            "options": list(variable.options),
            "attributes": list(variable.attributes),
        }
        for variable in parsed.variables
    ]


def field_span(kind: str, name: str, party: str, n: int) -> str:
    """The element that stands for the ``n``-th placement (from 1) of a signer field."""
    if kind not in FIELD_KINDS or _name_problem(name) or _name_problem(party):
        raise ValueError(f"not a field: {kind!r} {name!r} {party!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a placement counts from 1, not {n!r}")
    return (
        f'<span class="{FIELD_CLASS} {FIELD_CLASS}-{kind}" id="{FIELD_CLASS}-{name}-{n}" '
        f'data-field="{name}" data-kind="{kind}" data-party="{party}"></span>'
    )


_BRACES = re.compile(r"\{\{|\}\}")


def _literal_braces(text: str) -> str:
    """Braces in a value, written so the filled document reads them as text, not as a placeholder."""
    return _BRACES.sub(lambda m: '{{ "' + m.group(0) + '" }}', text)


def fill(html_text: str, values: Mapping[str, Any], *, keep_fields: bool = False) -> str:
    """The template with its variables replaced by ``values`` (escaped) and its fields by spans.

    With ``keep_fields`` the result is a *document*: variables filled, every field placeholder and
    literal brace left as written, and braces inside values written as literal braces, so the document
    can be edited in any editor (which would drop field spans) and :func:`render_fields` turns its
    fields into spans when it is rendered.

    ``values`` maps a variable's name to: text → str; number → int, Decimal or a decimal str;
    date → a ``datetime.date`` or ``YYYY-MM-DD``; money → Decimal, int or str, at most two decimals,
    not negative; choice → one of its options; party → a mapping from attribute to str. Text is
    refused with control characters (the rules of :mod:`econtract.textinput`, single line), NFC-
    normalised, trimmed and must not be empty. Floats are refused (not exact). Values for names the
    template does not use are ignored.
    """
    reading = _read(html_text)
    rendered: dict[tuple[str, str], str] = {}
    placements: dict[str, int] = {}
    pieces: list[str] = []
    position = 0
    for placeholder in reading.placeholders:
        pieces.append(html_text[position : placeholder.start])
        if keep_fields and placeholder.what in ("literal", "field"):
            pieces.append(html_text[placeholder.start : placeholder.end])
        elif placeholder.what == "literal":
            pieces.append(placeholder.detail)
        elif placeholder.what == "field":
            found = reading.field_of[placeholder.start]
            placements[found.name] = placements.get(found.name, 0) + 1
            pieces.append(field_span(found.kind, found.name, found.party, placements[found.name]))
        else:
            key = (placeholder.name, placeholder.detail)
            if key not in rendered:
                text = html.escape(_render(placeholder, values), quote=True)
                rendered[key] = _literal_braces(text) if keep_fields else text
            pieces.append(rendered[key])
        position = placeholder.end
    pieces.append(html_text[position:])
    return "".join(pieces)


def render_fields(html_text: str) -> str:
    """A document's field placeholders as the spans the renderer lays out, its literal braces as braces.

    A variable still in the document is an error naming it (``template_value``): a document is
    rendered only once every variable was filled.
    """
    return fill(html_text, {})


# --- reading a template ----------------------------------------------------------------------------


def _read(html_text: str) -> _Reading:
    if (
        len(html_text) > MAX_TEMPLATE_BYTES
        or len(html_text.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES
    ):
        raise PlaceholderError(
            f"the template is larger than {MAX_TEMPLATE_BYTES} bytes", code=TEMPLATE_TOO_LARGE
        )
    placeholders: list[_Placeholder] = []
    for start, end in _text_runs(html_text):
        _scan_run(html_text, start, end, placeholders)
    return _analyse(placeholders)


class _TextRunFinder(HTMLParser):
    """Where each construct starts, and which are text, to cut the HTML into raw text runs.

    Offsets come from the parser's own (line, column) position, so the raw bytes of a text node
    (character references still written as they are) can be cut out of the original string.
    """

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0]
        newline = source.find("\n")
        while newline != -1:
            self.line_starts.append(newline + 1)
            newline = source.find("\n", newline + 1)
        self.events: list[tuple[int, bool]] = []  # (offset, is a text node)
        self.raw_text_element: str | None = None  # inside <script> or <style>: not text nodes

    def position(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_data(self, data: str) -> None:
        self.events.append((self.position(), self.raw_text_element is None))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(attrs)
        if tag in self.CDATA_CONTENT_ELEMENTS:
            self.raw_text_element = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(attrs)
        if tag in self.CDATA_CONTENT_ELEMENTS:
            # A browser ignores the slash of "<script/>" and runs what follows as code, whereas
            # html.parser reads on as text: never put a value there.
            self.raw_text_element = tag

    def handle_endtag(self, tag: str) -> None:
        self.events.append((self.position(), False))
        if tag == self.raw_text_element:
            self.raw_text_element = None

    def handle_comment(self, data: str) -> None:
        self.events.append((self.position(), False))

    def handle_decl(self, decl: str) -> None:
        self.events.append((self.position(), False))

    def handle_pi(self, data: str) -> None:
        self.events.append((self.position(), False))

    def unknown_decl(self, data: str) -> None:
        self.events.append((self.position(), False))

    def _tag(self, attrs: list[tuple[str, str | None]]) -> None:
        offset = self.position()
        self.events.append((offset, False))
        # Field spans are ours: markup that imitates them would place a forged field on the page.
        for name, value in attrs:
            value = value or ""
            if (
                (name == "class" and any(c.lower().startswith(FIELD_CLASS) for c in value.split()))
                or (name == "id" and value.strip().lower().startswith(f"{FIELD_CLASS}-"))
                or name in _FIELD_ATTRIBUTES
            ):
                raise PlaceholderError(
                    f"the template's HTML has field markup ({name}={value[:40]!r}); "
                    "write signer fields as placeholders such as {{ signature: buyer }}",
                    offset,
                )


def _text_runs(source: str) -> list[tuple[int, int]]:
    """(start, end) offsets of every text node, adjacent text events merged."""
    finder = _TextRunFinder(source)
    finder.feed(source)
    finder.close()
    runs: list[tuple[int, int]] = []
    events = finder.events
    for index, (offset, is_text) in enumerate(events):
        if not is_text:
            continue
        end = events[index + 1][0] if index + 1 < len(events) else len(source)
        if runs and runs[-1][1] == offset:
            runs[-1] = (runs[-1][0], end)
        elif end > offset:
            runs.append((offset, end))
    return runs


def _scan_run(source: str, start: int, end: int, found: list[_Placeholder]) -> None:
    raw = source[start:end]
    if "{{" not in raw and "}}" not in raw:
        return
    if "<" in raw:
        # A parser took a "<" for text: the HTML around the placeholder is malformed, and a browser
        # might read it as markup, so the placeholder is refused rather than guessed at.
        raise PlaceholderError(
            "malformed HTML around a placeholder (a bare '<' in text)", start + raw.index("<")
        )
    position = 0
    while True:
        opening = raw.find("{{", position)
        closing = raw.find("}}", position)
        if opening == -1 and closing == -1:
            return
        if opening == -1 or (closing != -1 and closing < opening):
            raise PlaceholderError(
                '"}}" without an opening "{{"; write {{ "}}" }} for literal braces', start + closing
            )
        closing = raw.find("}}", opening + 2)
        if closing == -1:
            raise PlaceholderError(
                '"{{" is not closed by "}}" in the same text node; a placeholder must not be split '
                "by formatting (bold, a link, a line break): retype it in one piece",
                start + opening,
            )
        inner = html.unescape(raw[opening + 2 : closing])
        if inner.strip() == '"':  # {{ "}}" }}: the first "}}" is the quoted one
            later = raw.find("}}", closing + 2)
            if later != -1:
                closing = later
                inner = html.unescape(raw[opening + 2 : closing])
        if len(found) >= MAX_PLACEHOLDERS:
            raise PlaceholderError(
                f"the template has more than {MAX_PLACEHOLDERS} placeholders",
                start + opening,
                code=TEMPLATE_TOO_LARGE,
            )
        found.append(_placeholder(inner, start + opening, start + closing + 2))
        position = closing + 2


def _placeholder(inner: str, start: int, end: int) -> _Placeholder:
    text = inner.strip()
    shown = f"{{{{ {text[:60]}{'…' if len(text) > 60 else ''} }}}}"

    def error(problem: str) -> PlaceholderError:
        return PlaceholderError(f"{shown}: {problem}", start)

    if not text:
        raise error("the placeholder is empty")
    if text[0] == '"':
        if text in ('"{{"', '"}}"'):
            return _Placeholder(start, end, "literal", detail=text[1:3])
        raise error('the only quoted texts are "{{" and "}}" (for literal braces)')
    if "|" in text:
        name, _, format_text = (part.strip() for part in text.partition("|"))
        if "." in name:
            raise error("a party attribute takes no format")
        _check_name(name, "variable name", error)
        if format_text in FORMAT_TYPES:
            return _Placeholder(start, end, "variable", name, format_text)
        head, colon, option_text = format_text.partition(":")
        if head.strip() != CHOICE or not colon:
            formats = ", ".join([*FORMAT_TYPES, "choice: A, B"])
            raise error(f"unknown format {format_text[:40]!r}; the formats are {formats}")
        return _Placeholder(start, end, "variable", name, CHOICE, _options(option_text, error))
    if ":" in text:
        kind, _, name = (part.strip() for part in text.partition(":"))
        if kind not in FIELD_KINDS:
            raise error(f"unknown field kind {kind[:40]!r}; the kinds are {', '.join(sorted(FIELD_KINDS))}")
        _check_name(name, "role" if kind in ROLE_FIELD_KINDS else "field name", error)
        return _Placeholder(start, end, "field", name, kind)
    if "." in text:
        role, _, attribute = (part.strip() for part in text.partition("."))
        _check_name(role, "role", error)
        if attribute not in PARTY_ATTRIBUTES:
            raise error(
                f"unknown party attribute {attribute[:40]!r}; the attributes are {', '.join(PARTY_ATTRIBUTES)}"
            )
        return _Placeholder(start, end, "party", role, attribute)
    _check_name(text, "variable name", error)
    return _Placeholder(start, end, "variable", text, "text")


def _options(option_text: str, error: _ErrorFactory) -> tuple[str, ...]:
    options = tuple(option.strip() for option in option_text.split(","))
    if len(options) > MAX_OPTIONS:
        raise error(f"a choice has at most {MAX_OPTIONS} options")
    for option in options:
        if not option:
            raise error("a choice option is empty")
        if len(option) > MAX_OPTION_LENGTH:
            raise error(f"a choice option is longer than {MAX_OPTION_LENGTH} characters")
        if any(char in option for char in "|{}"):
            raise error("a choice option must not contain | { or }")
        problem = _text_problem(option)
        if problem:
            raise error(f"a choice option {problem}")
    if len(set(options)) != len(options):
        raise error("a choice lists an option twice")
    return options


def _name_problem(name: str) -> str:
    if "." in name:
        return "has a period (PDF field names forbid them)"
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"must have 1 to {MAX_NAME_LENGTH} characters"
    if name[0] not in _LETTERS or not set(name) <= _NAME_CHARS:
        return "must be a letter followed by letters, digits or _"
    return ""


def _check_name(name: str, what: str, error: _ErrorFactory) -> None:
    problem = _name_problem(name)
    if problem:
        raise error(f"the {what} {name[:40]!r} {problem}")


def _analyse(placeholders: list[_Placeholder]) -> _Reading:
    variables: dict[str, Variable] = {}
    roles: dict[str, None] = {}  # ordered set
    for placeholder in placeholders:
        if placeholder.what == "variable":
            kind = CHOICE if placeholder.detail == CHOICE else FORMAT_TYPES[placeholder.detail]
            _add_variable(variables, Variable(placeholder.name, kind, placeholder.options), placeholder)
        elif placeholder.what == "party":
            roles.setdefault(placeholder.name)
            previous = variables.get(placeholder.name)
            attributes = previous.attributes if previous and previous.type == PARTY else ()
            if placeholder.detail not in attributes:
                attributes = (*attributes, placeholder.detail)
            _add_variable(variables, Variable(placeholder.name, PARTY, (), attributes), placeholder)
        elif placeholder.what == "field" and placeholder.detail in ROLE_FIELD_KINDS:
            roles.setdefault(placeholder.name)

    fields: dict[str, FieldPlaceholder] = {}
    field_of: dict[int, FieldPlaceholder] = {}
    for placeholder in placeholders:
        if placeholder.what != "field":
            continue
        kind = placeholder.detail
        if kind in ROLE_FIELD_KINDS:
            found = FieldPlaceholder(kind, placeholder.name, f"{kind}_{placeholder.name}")
        else:
            found = FieldPlaceholder(kind, _owning_role(placeholder, roles), placeholder.name)
        if len(found.name) > MAX_NAME_LENGTH:
            raise PlaceholderError(
                f"the field name {found.name!r} is longer than {MAX_NAME_LENGTH} characters; "
                "use a shorter role",
                placeholder.start,
            )
        if found.name in variables:
            raise PlaceholderError(
                f"{found.name!r} is used both as a variable and as a field name", placeholder.start
            )
        previous_field = fields.setdefault(found.name, found)
        if previous_field != found:
            raise PlaceholderError(
                f"the field {found.name!r} is placed as a {found.kind} of {found.party!r} here but as a "
                f"{previous_field.kind} of {previous_field.party!r} before",
                placeholder.start,
            )
        field_of[placeholder.start] = found
    parsed = ParsedTemplate(list(variables.values()), list(fields.values()), list(roles))
    return _Reading(placeholders, parsed, field_of)


def _add_variable(variables: dict[str, Variable], variable: Variable, placeholder: _Placeholder) -> None:
    previous = variables.get(variable.name)
    if previous is not None and previous.type != variable.type:
        raise PlaceholderError(
            f"the variable {variable.name!r} is used as {variable.type} here but as {previous.type} before",
            placeholder.start,
        )
    if previous is not None and previous.options != variable.options:
        raise PlaceholderError(
            f"the choice {variable.name!r} lists other options here than before", placeholder.start
        )
    variables[variable.name] = variable  # same position in the dict: first appearance stays first


def _owning_role(placeholder: _Placeholder, roles: dict[str, None]) -> str:
    name = placeholder.name
    owners = [role for role in roles if name.startswith(f"{role}_") and len(name) > len(role) + 1]
    if not owners:
        raise PlaceholderError(
            f"the field {name!r} belongs to no party: its name must start with a role and _, "
            f"e.g. buyer_{name}; the template's roles are {', '.join(roles) or 'none'} (a role comes "
            "from {{ ROLE.name }} or {{ signature: ROLE }})",
            placeholder.start,
        )
    return max(owners, key=len)


# --- values ------------------------------------------------------------------------------------------


def _render(placeholder: _Placeholder, values: Mapping[str, Any]) -> str:
    """The text (not yet escaped) of a variable or party placeholder."""
    name = placeholder.name
    if name not in values:
        raise PlaceholderError(f"no value for the variable {name!r}", code=TEMPLATE_VALUE, variable=name)
    value = values[name]
    if placeholder.what == "party":
        label = f"{name}.{placeholder.detail}"
        if not isinstance(value, Mapping) or placeholder.detail not in value:
            raise _value_error(label, f"the party {name!r} needs its {placeholder.detail}")
        return _text(label, value[placeholder.detail])
    form = placeholder.detail
    if form == "text":
        return _text(name, value)
    if form == CHOICE:
        if not isinstance(value, str) or value not in placeholder.options:
            raise _value_error(name, f"must be one of {', '.join(placeholder.options)}")
        return value
    if form == "number":
        return _number(name, value)
    if form in ("date", "date_cn"):
        day = _date(name, value)
        return day.isoformat() if form == "date" else f"{day.year}年{day.month}月{day.day}日"
    try:
        amount = parse_amount(value)
    except (TypeError, ValueError) as exc:
        raise _value_error(name, f"is not an amount of money: {exc}") from exc
    return f"{amount:,.2f}" if form == "money" else capital_amount(amount)


def _value_error(label: str, problem: str) -> PlaceholderError:
    return PlaceholderError(f"{label}: {problem}", code=TEMPLATE_VALUE, variable=label)


def _text_problem(value: str) -> str:
    try:
        clean_text(value, TextKind.LINE)
    except UnsafeText as exc:
        return exc.problem
    return ""


def _text(label: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _value_error(label, "must be text")
    try:
        cleaned = clean_text(value, TextKind.LINE, field=label, max_length=MAX_VALUE_LENGTH)
    except UnsafeText as exc:
        raise _value_error(label, exc.problem) from exc
    if not cleaned:
        raise _value_error(label, "is empty")
    return cleaned


def _number(label: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise _value_error(label, "must be a number given as an int, a Decimal or a str (not a float)")
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        whole, dot, fraction = digits.partition(".")
        if not whole or (dot and not fraction) or not set(whole + fraction) <= _DIGITS:
            raise _value_error(label, f"is not a plain decimal number: {value[:40]!r}")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError) as exc:
        raise _value_error(label, "is not a number") from exc
    if not number.is_finite():
        raise _value_error(label, "must be a finite number")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if number.adjusted() >= MAX_NUMBER_DIGITS or exponent < -MAX_NUMBER_DIGITS:
        raise _value_error(label, f"has more than {MAX_NUMBER_DIGITS} digits before or after the point")
    return format(number, "f")


def _date(label: str, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):  # a day, not an instant
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10 and text[4] == text[7] == "-" and set(text[:4] + text[5:7] + text[8:]) <= _DIGITS:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
    raise _value_error(label, "must be a date written YYYY-MM-DD")
