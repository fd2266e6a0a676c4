"""Find active content in a PDF: scripts, launches, form submission, media, executables.

What you see must be what you sign. A viewer that runs a document's JavaScript, launches a program,
submits or imports form data, hides annotations or layers, or plays media can show something other
than the signed bytes, or act on the signer's machine. Uploads carrying any of it are refused
(``inspect_pdf``, code ``active_content``); ``econtract verify`` reports it as a warning.

Navigation stays allowed: destinations, ``/GoTo``, ``/GoToR`` and ``/GoToE`` (open another or an
embedded PDF at a page), ``/GoToDp``, ``/URI`` (except ``javascript:``), ``/Named``, ``/Thread``,
``/Trans``. An action type outside ISO 32000-2 Table 201 is treated as active: we cannot say what a
viewer does with it.

Embedded files are not active by themselves (PDF/A-3 invoices carry XML): they are listed apart, and
only executables (by name, declared MIME type or magic bytes) count as active content.

The walk is bounded: each indirect object is entered at most once per role (action, annotation,
field, ...), so reference loops end; trees and chains deeper than :data:`MAX_DEPTH` and more than
:data:`MAX_VISITS` objects in all stop the walk. Whatever could not be walked to the end is itself
reported as active content, so a file cannot hide a script behind a deep tree.

Used by the sandboxed probe (the upload check) and by verification on the reader it already holds:
standard library and pyHanko only, no Django.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from econtract.documents.errors import RESOURCE_LIMIT, UnsafePdf
from econtract.documents.streamfilters import DecodeBudget, decoded_prefix

if TYPE_CHECKING:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

MAX_VISITS = 250_000
MAX_DEPTH = 64
MAX_CHAIN = 64
MAX_FINDINGS = 100
MAX_NAME_CHARS = 80
MAGIC_BYTES = 8

# ISO 32000-2 Table 201 action types, by what a viewer does with them.
NAVIGATION_ACTIONS = frozenset(
    {"/GoTo", "/GoToR", "/GoToE", "/GoToDp", "/URI", "/Named", "/Thread", "/Trans", "/GoTo3DView"}
)
ACTIVE_ACTIONS: dict[str, str] = {
    "/JavaScript": "JavaScript action",
    "/Launch": "Launch action",
    "/SubmitForm": "SubmitForm action",
    "/ImportData": "ImportData action",
    # Change what the page shows without changing the file: the shadow attacks' tools, live.
    "/ResetForm": "ResetForm action",
    "/Hide": "Hide action",
    "/SetOCGState": "SetOCGState action",
    "/Rendition": "Rendition action",
    "/Movie": "Movie action",
    "/Sound": "Sound action",
    "/RichMediaExecute": "RichMediaExecute action",
}
# Annotations that play media or run embedded players and scripts (3D artwork may carry JavaScript).
ACTIVE_ANNOTATIONS = frozenset({"/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})

EXECUTABLE_EXTENSIONS = frozenset(
    {
        *("exe", "dll", "scr", "com", "pif", "cpl", "msi", "msp", "sys", "drv", "ocx"),
        *("bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse", "wsf", "wsh", "hta", "lnk", "reg"),
        *("jar", "class", "sh", "bash", "command", "app", "pkg", "dmg", "apk", "so", "dylib", "elf"),
        *("docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam"),
    }
)
EXECUTABLE_MIME_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-dosexec",
        "application/x-msdos-program",
        "application/vnd.microsoft.portable-executable",
        "application/x-executable",
        "application/x-elf",
        "application/x-sharedlib",
        "application/x-mach-binary",
        "application/java-archive",
        "application/x-sh",
        "application/x-msi",
        "application/hta",
    }
)
# Checked in order: the first prefix that matches names the kind.
EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows executable"),
    (b"\x7fELF", "ELF executable"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal binary or Java class"),
    (b"#!", "script"),
)


@dataclass
class ActiveContent:
    """What :func:`find_active_content` found, each entry saying what and where."""

    # Refused at upload, a warning at verification.
    active: list[str] = field(default_factory=list)
    # Embedded files that are not executables: admitted, yet not shown on any page.
    embedded_files: list[str] = field(default_factory=list)


def find_active_content(reader: PdfFileReader, budget: DecodeBudget | None = None) -> ActiveContent:
    """Walk the current revision of ``reader`` for active content.

    :param budget: bounds the decoding of embedded files' first bytes (a fresh one when ``None``).
    :raises UnsafePdf: ``resource_limit`` when the document has more objects than the walk visits.
    """
    walker = _Walker(budget or DecodeBudget())
    walker.document(reader.root)
    return walker.result()


class _Walker:
    def __init__(self, budget: DecodeBudget) -> None:
        from pyhanko.pdf_utils import generic

        self._generic = generic
        self._budget = budget
        self._seen: set[tuple[int, int, str]] = set()
        self._visits = 0
        self._active: dict[str, None] = {}
        self._files: dict[str, None] = {}
        self._dropped = 0
        # Widgets whose actions the form-field walk already reported.
        self._checked_widgets: set[tuple[int, int]] = set()

    # --- objects ----------------------------------------------------------------------------------

    def _resolve(self, raw: Any, role: str) -> Any:
        """The object behind ``raw``; ``None`` when this indirect object was already walked in ``role``."""
        self._visits += 1
        if self._visits > MAX_VISITS:
            raise UnsafePdf(
                RESOURCE_LIMIT, f"the PDF has more than {MAX_VISITS} objects to check for active content"
            )
        if isinstance(raw, self._generic.IndirectObject):
            key = (raw.idnum, raw.generation, role)
            if key in self._seen:
                return None
            self._seen.add(key)
            return raw.get_object()
        return raw

    def _dict(self, raw: Any, role: str) -> generic.DictionaryObject | None:
        obj = self._resolve(raw, role)
        return obj if isinstance(obj, self._generic.DictionaryObject) else None

    def _array(self, raw: Any, role: str) -> list[Any]:
        obj = self._resolve(raw, role)
        if not isinstance(obj, self._generic.ArrayObject):
            return []
        return [obj.raw_get(index) for index in range(len(obj))]

    def _entry(self, node: generic.DictionaryObject, key: str) -> Any:
        return node.raw_get(key) if key in node else None

    def _name(self, node: generic.DictionaryObject, key: str) -> str | None:
        value = self._entry(node, key)
        if isinstance(value, self._generic.IndirectObject):
            value = value.get_object()
        return str(value) if isinstance(value, self._generic.NameObject) else None

    def _text(self, raw: Any) -> str:
        if isinstance(raw, self._generic.IndirectObject):
            raw = raw.get_object()
        if isinstance(raw, self._generic.TextStringObject | self._generic.NameObject):
            text = str(raw)
        elif isinstance(raw, self._generic.ByteStringObject):
            text = bytes(raw).decode("latin-1")
        else:
            return ""
        cleaned = "".join(char if char.isprintable() else "?" for char in text)
        return cleaned if len(cleaned) <= MAX_NAME_CHARS else cleaned[: MAX_NAME_CHARS - 1] + "…"

    # --- findings ---------------------------------------------------------------------------------

    def _found(self, what: str) -> None:
        if what in self._active:
            return
        if len(self._active) >= MAX_FINDINGS:
            self._dropped += 1
            return
        self._active[what] = None

    def result(self) -> ActiveContent:
        active = list(self._active)
        if self._dropped:
            active.append(f"and {self._dropped} more")
        return ActiveContent(active=active, embedded_files=list(self._files)[:MAX_FINDINGS])

    # --- the document -----------------------------------------------------------------------------

    def document(self, root: generic.DictionaryObject) -> None:
        open_action = self._entry(root, "/OpenAction")
        if open_action is not None:
            # An array is a destination (show a page); a dictionary is an action.
            self._action(open_action, "document open action (OpenAction)")
        self._triggers(self._entry(root, "/AA"), "document")
        names = self._dict(self._entry(root, "/Names"), "names")
        if names is not None:
            self._document_javascript(names)
            for name, value in self._name_tree(self._entry(names, "/EmbeddedFiles"), "Names/EmbeddedFiles"):
                self._file_spec(value, f"'{name}'", "Names/EmbeddedFiles")
        self._associated_files(self._entry(root, "/AF"), "document (AF)")
        self._acro_form(self._entry(root, "/AcroForm"))
        self._outlines(self._entry(root, "/Outlines"))
        self._pages(self._entry(root, "/Pages"))

    def _document_javascript(self, names: generic.DictionaryObject) -> None:
        tree = self._entry(names, "/JavaScript")
        for name, _value in self._name_tree(tree, "Names/JavaScript"):
            label = f" '{name}'" if name else ""
            self._found(f"document JavaScript{label} (Names/JavaScript)")

    def _name_tree(self, raw: Any, where: str) -> Iterator[tuple[str, Any]]:
        """The (key, raw value) pairs of a name tree, in order."""
        if raw is None:
            return
        stack: list[tuple[Any, int]] = [(raw, 0)]
        while stack:
            raw_node, depth = stack.pop()
            node = self._dict(raw_node, "name tree")
            if node is None:
                continue
            pairs = self._array(self._entry(node, "/Names"), "name tree array")
            for index in range(0, len(pairs) - 1, 2):
                yield self._text(pairs[index]), pairs[index + 1]
            kids = self._array(self._entry(node, "/Kids"), "name tree array")
            if kids and depth >= MAX_DEPTH:
                self._found(f"{where}: a name tree nested deeper than {MAX_DEPTH} levels (not checked)")
                continue
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    # --- actions ----------------------------------------------------------------------------------

    def _action(self, raw: Any, where: str) -> None:
        """Judge an action and every action chained after it through ``/Next``."""
        stack: list[tuple[Any, bool]] = [(raw, False)]
        count = 0
        while stack:
            raw_action, chained = stack.pop()
            action = self._dict(raw_action, "action")
            if action is None:
                continue
            count += 1
            if count > MAX_CHAIN:
                self._found(f"{where}: an action chain longer than {MAX_CHAIN} actions (not checked)")
                return
            self._judge_action(action, where, " (in its /Next chain)" if chained else "")
            following = self._entry(action, "/Next")
            if following is None:
                continue
            if isinstance(following, self._generic.IndirectObject):
                resolved = following.get_object()
                if isinstance(resolved, self._generic.ArrayObject):
                    following = self._resolve(following, "action array")
            if isinstance(following, self._generic.ArrayObject):
                items = [following.raw_get(index) for index in range(len(following))]
                stack.extend((item, True) for item in reversed(items))
            elif following is not None:
                stack.append((following, True))

    def _judge_action(self, action: generic.DictionaryObject, where: str, chained: str) -> None:
        kind = self._name(action, "/S")
        if kind is None:
            return  # not an action dictionary (or one a viewer ignores)
        if kind in ACTIVE_ACTIONS:
            self._found(f"{where}: {ACTIVE_ACTIONS[kind]}{chained}")
        elif kind == "/URI":
            uri = self._text(self._entry(action, "/URI")).strip().lower()
            if uri.startswith("javascript:"):
                self._found(f"{where}: JavaScript link (javascript: URI){chained}")
        elif kind not in NAVIGATION_ACTIONS:
            self._found(f"{where}: unknown action type {self._text(self._entry(action, '/S'))}{chained}")

    def _triggers(self, raw: Any, where: str) -> None:
        """An additional-actions (``/AA``) dictionary: every trigger's action."""
        if raw is None:
            return
        triggers = self._dict(raw, "additional actions")
        if triggers is None:
            return
        for key in sorted(str(name) for name in triggers):
            self._action(triggers.raw_get(key), f"{where} additional action (AA {key})")

    # --- forms, outlines, pages -------------------------------------------------------------------

    def _acro_form(self, raw: Any) -> None:
        if raw is None:
            return
        form = self._dict(raw, "acroform")
        if form is None:
            return
        if "/XFA" in form:
            # XFA forms carry their own scripts and layout, drawn instead of (or over) the PDF page.
            self._found("XFA form (AcroForm/XFA)")
        fields = self._array(self._entry(form, "/Fields"), "field array")
        stack: list[tuple[Any, str, int]] = [(item, "", 0) for item in reversed(fields)]
        while stack:
            raw_field, parent_name, depth = stack.pop()
            node = self._dict(raw_field, "field")
            if node is None:
                continue
            partial = self._text(self._entry(node, "/T"))
            name = f"{parent_name}.{partial}" if parent_name and partial else partial or parent_name
            where = f"form field '{name}'" if name else "form field"
            self._action_entries(node, where)
            if isinstance(raw_field, self._generic.IndirectObject):
                self._checked_widgets.add((raw_field.idnum, raw_field.generation))
            kids = self._array(self._entry(node, "/Kids"), "field array")
            if kids and depth >= MAX_DEPTH:
                self._found(f"{where}: fields nested deeper than {MAX_DEPTH} levels (not checked)")
                continue
            stack.extend((kid, name, depth + 1) for kid in reversed(kids))

    def _action_entries(self, node: generic.DictionaryObject, where: str) -> None:
        """The ``/A`` action and ``/AA`` triggers of an annotation or form field."""
        action = self._entry(node, "/A")
        if action is not None:
            self._action(action, where)
        self._triggers(self._entry(node, "/AA"), where)

    def _outlines(self, raw: Any) -> None:
        if raw is None:
            return
        outlines = self._dict(raw, "outline")
        if outlines is None:
            return
        stack: list[tuple[Any, int]] = [(self._entry(outlines, "/First"), 0)]
        while stack:
            raw_item, depth = stack.pop()
            if raw_item is None:
                continue
            item = self._dict(raw_item, "outline")
            if item is None:
                continue
            title = self._text(self._entry(item, "/Title"))
            action = self._entry(item, "/A")
            if action is not None:
                self._action(action, f"outline item '{title}'")
            stack.append((self._entry(item, "/Next"), depth))
            child = self._entry(item, "/First")
            if child is not None:
                if depth >= MAX_DEPTH:
                    self._found(f"outline nested deeper than {MAX_DEPTH} levels (not checked)")
                    continue
                stack.append((child, depth + 1))

    def _pages(self, raw: Any) -> None:
        if raw is None:
            return
        page_number = 0
        stack: list[tuple[Any, int]] = [(raw, 0)]
        while stack:
            raw_node, depth = stack.pop()
            node = self._dict(raw_node, "page tree")
            if node is None:
                continue
            if "/Kids" in node:
                kids = self._array(node.raw_get("/Kids"), "page tree array")
                if kids and depth >= MAX_DEPTH:
                    self._found(f"page tree nested deeper than {MAX_DEPTH} levels (not checked)")
                    continue
                stack.extend((kid, depth + 1) for kid in reversed(kids))
                continue
            page_number += 1
            self._page(node, page_number)

    def _page(self, page: generic.DictionaryObject, number: int) -> None:
        self._triggers(self._entry(page, "/AA"), f"page {number}")
        self._associated_files(self._entry(page, "/AF"), f"page {number} (AF)")
        for index, raw in enumerate(self._array(self._entry(page, "/Annots"), "annotation array"), start=1):
            annotation = self._dict(raw, "annotation")
            if annotation is None:
                continue
            subtype = self._name(annotation, "/Subtype") or ""
            where = f"page {number} annotation {index}" + (f" ({subtype[1:]})" if subtype else "")
            if subtype in ACTIVE_ANNOTATIONS:
                self._found(f"page {number} annotation {index}: {subtype[1:]} annotation")
            is_checked_widget = (
                isinstance(raw, self._generic.IndirectObject)
                and (raw.idnum, raw.generation) in self._checked_widgets
            )
            if not is_checked_widget:
                self._action_entries(annotation, where)
            if subtype == "/FileAttachment":
                spec = self._entry(annotation, "/FS")
                if spec is not None:
                    self._file_spec(spec, "", f"page {number} annotation {index}")

    # --- embedded files ---------------------------------------------------------------------------

    def _associated_files(self, raw: Any, where: str) -> None:
        if raw is None:
            return
        for spec in self._array(raw, "file array"):
            self._file_spec(spec, "", where)

    def _file_spec(self, raw: Any, key: str, where: str) -> None:
        spec = self._dict(raw, "file specification")
        if spec is None:
            return  # a string file specification names a file outside the PDF: nothing embedded
        name = ""
        for entry in ("/UF", "/F", "/Unix", "/DOS", "/Mac"):
            name = self._text(self._entry(spec, entry))
            if name:
                break
        name = name or key.strip("'")
        embedded = self._dict(self._entry(spec, "/EF"), "embedded file dictionary")
        if embedded is None:
            return
        streams = [self._entry(embedded, entry) for entry in ("/F", "/UF") if entry in embedded]
        kinds = [self._executable_kind(name, raw_stream) for raw_stream in streams]
        kind = next((kind for kind in kinds if kind), None)
        if kind is not None:
            self._found(f"embedded executable '{name}' ({where}): {kind}")
        elif streams:
            self._files[f"embedded file '{name}' ({where})"] = None

    def _executable_kind(self, name: str, raw_stream: Any) -> str | None:
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension in EXECUTABLE_EXTENSIONS:
            return f".{extension} file"
        stream = self._resolve(raw_stream, "embedded file")
        if not isinstance(stream, self._generic.StreamObject):
            return None
        mime = (self._name(stream, "/Subtype") or "").lstrip("/").lower()
        if mime in EXECUTABLE_MIME_TYPES:
            return f"declared as {mime}"
        # pdfprobe._filters reads /Filter and /DecodeParms the same way the stream measurement does.
        from econtract.documents.pdfprobe import _filters

        prefix = decoded_prefix(
            stream.encoded_data, _filters(stream), self._budget, MAGIC_BYTES, "embedded file"
        )
        if prefix is None:
            return None
        return next((kind for magic, kind in EXECUTABLE_MAGIC if prefix.startswith(magic)), None)
