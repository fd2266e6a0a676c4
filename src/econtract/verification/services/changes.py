"""Classifying what later revisions changed the way the ETSI validation model does.

ETSI EN 319 102-1 and the reference validator sort changes after a signature into validation data,
signing, form filling, annotations and content. pyHanko's default policy is stricter than that in
places where nothing a reader sees can change, and each strictness is a false alarm on real files:

* validation data **rewritten** (a VRI entry replaced or dropped, a DSS rebuilt) rather than only
  appended, and the replaced DSS objects **freed**;
* an object rewritten with a deep copy of itself (a page pointing at a fresh but identical
  resource dictionary);
* a choice field's ``/I`` (selected indices) written with its value;
* **annotations** added to a page (``ModificationLevel.ANNOTATIONS``; reported as a warning).

``ETSI_DIFF_POLICY`` is pyHanko's ``StandardDiffPolicy`` with those rules added: anything else stays
unexplained (``other``). None of the rules judges what a page *shows*: the visual comparison
(:mod:`econtract.verification.services.visual`) does, for every signature followed by form filling
or annotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import Reference
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.constants import VALUE_UPDATE_KEYS

# A deep comparison visits at most this many object pairs per rewritten object: beyond that the
# rewrite is simply not called identical (and stays unexplained).
MAX_COMPARED_NODES = 20_000
_DSS_KEYS = frozenset({"/Type", "/VRI", "/Certs", "/CRLs", "/OCSPs"})
_VRI_KEYS = frozenset({"/Type", "/TU", "/TS", "/Cert", "/CRL", "/OCSP"})
_DSS_PATH = ("/Root", "/DSS")


def _only_validation_data(old: HistoricalResolver, ref: Reference) -> bool:
    """In ``old``, ``ref`` is reachable only through the DSS, or not at all (an orphan)."""
    old._load_reverse_xref_cache()
    return all(tuple(path.path[:2]) == _DSS_PATH for path in old._get_usages_of_ref(ref))


class ValidationDataRule(QualifiedWhitelistRule):
    """The DSS may be added, extended or rewritten, and objects only it used may be freed.

    Validation data never reaches a page. What matters is that nothing *else* is touched through
    it: an overwritten object that the signed revision used outside the DSS is left unexplained.
    """

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        level = ModificationLevel.LTA_UPDATES
        for ref in new.refs_freed_in_revision():
            if not _only_validation_data(old, ref):
                raise SuspiciousModification(f"{ref} is freed although the signed revision uses it")
            yield level, ReferenceUpdate(ref)
        raw_dss = new.root.raw_get("/DSS") if "/DSS" in new.root else None
        if raw_dss is None:
            return
        dss = raw_dss.get_object()
        if not isinstance(dss, generic.DictionaryObject) or not set(dss.keys()) <= _DSS_KEYS:
            raise SuspiciousModification("the DSS has an unexpected shape")
        vri = dss.get("/VRI")
        if vri is not None:
            if not isinstance(vri, generic.DictionaryObject):
                raise SuspiciousModification("/VRI is not a dictionary")
            for entry in vri.values():
                entry = entry.get_object()
                if not isinstance(entry, generic.DictionaryObject) or not set(entry.keys()) <= _VRI_KEYS:
                    raise SuspiciousModification("a VRI entry has an unexpected shape")
        touched = new.collect_dependencies(dss, since_revision=new.revision)
        if isinstance(raw_dss, generic.IndirectObject):
            touched.add(raw_dss.reference)
        for ref in touched:
            if old.is_ref_unassignable(ref) or _only_validation_data(old, ref):
                yield level, ReferenceUpdate(ref)


def _deep_equal(
    old: HistoricalResolver, new: HistoricalResolver, a: generic.PdfObject, b: generic.PdfObject
) -> bool:
    """Value equality across two revisions, following references (cycles count as equal)."""
    xrefs = new.reader.xrefs
    changed = set().union(
        *(xrefs.explicit_refs_in_revision(r) for r in range(old.revision + 1, new.revision + 1))
    )
    seen: set[tuple[Reference, Reference]] = set()
    budget = [MAX_COMPARED_NODES]

    def equal(x: generic.PdfObject, y: generic.PdfObject) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if isinstance(x, generic.IndirectObject) and isinstance(y, generic.IndirectObject):
            xr, yr = x.reference, y.reference
            if xr == yr and xr not in changed:
                return True  # the very object, untouched by this revision
            if (xr, yr) in seen:
                return True
            seen.add((xr, yr))
            return equal(old(xr), new(yr))
        # a direct value and a reference to an equal object are the same to a reader
        if isinstance(x, generic.IndirectObject):
            return equal(old(x.reference), y)
        if isinstance(y, generic.IndirectObject):
            return equal(x, new(y.reference))
        if isinstance(x, generic.StreamObject):
            if not isinstance(y, generic.StreamObject) or x.encoded_data != y.encoded_data:
                return False
        if isinstance(x, generic.DictionaryObject):
            return (
                isinstance(y, generic.DictionaryObject)
                and set(x.keys()) == set(y.keys())
                and all(equal(x.raw_get(k), y.raw_get(k)) for k in x)
            )
        if isinstance(x, generic.ArrayObject):
            return (
                isinstance(y, generic.ArrayObject)
                and len(x) == len(y)
                and all(equal(x.raw_get(i), y.raw_get(i)) for i in range(len(x)))
            )
        if isinstance(x, (generic.TextStringObject, generic.ByteStringObject)):
            return isinstance(y, (generic.TextStringObject, generic.ByteStringObject)) and (
                x.original_bytes == y.original_bytes
            )
        return type(x) is type(y) and x == y

    return equal(a, b)


class IdenticalRewriteRule(QualifiedWhitelistRule):
    """An object overwritten with a value-identical copy (fresh references to identical objects).

    pyHanko already ignores a byte-identical rewrite; this also follows references, so a page that
    points at a new but identical resource dictionary, and that new dictionary, are no-ops.
    """

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        for ref in new.explicit_refs_in_revision():
            if old.is_ref_unassignable(ref):
                continue  # new objects are explained by whoever uses them
            before, after = old(ref), new(ref)
            if not isinstance(before, (generic.DictionaryObject, generic.ArrayObject)):
                continue
            if not _deep_equal(old, new, before, after):
                continue
            yield ModificationLevel.LTA_UPDATES, ReferenceUpdate(ref)
            for dependency in new.collect_dependencies(after, since_revision=new.revision):
                if old.is_ref_unassignable(dependency):
                    yield ModificationLevel.LTA_UPDATES, ReferenceUpdate(dependency)


def _is_page(obj: generic.PdfObject) -> bool:
    return isinstance(obj, generic.DictionaryObject) and obj.get("/Type") == "/Page"


def _annots(resolver: HistoricalResolver, page: generic.DictionaryObject) -> list[generic.PdfObject]:
    raw = page.get("/Annots")
    if raw is None:
        return []
    if not isinstance(raw, generic.ArrayObject):
        raise SuspiciousModification("/Annots is not an array")
    return [raw.raw_get(i) for i in range(len(raw))]


class AnnotationAdditionRule(QualifiedWhitelistRule):
    """Annotations (not widgets: those are form fields) appended to a page's ``/Annots``.

    The page may change in ``/Annots`` only, every annotation it had must still be there, and each
    new one must be a new object. What the annotations look like is left to the visual comparison.
    """

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        for ref in new.explicit_refs_in_revision():
            if old.is_ref_unassignable(ref):
                continue
            before, after = old(ref), new(ref)
            if not (_is_page(before) and _is_page(after)):
                continue
            yield from self._page(old, new, ref, before, after)

    def _page(
        self,
        old: HistoricalResolver,
        new: HistoricalResolver,
        ref: Reference,
        before: generic.DictionaryObject,
        after: generic.DictionaryObject,
    ) -> Iterator[tuple[ModificationLevel, ReferenceUpdate]]:
        others = (set(before.keys()) | set(after.keys())) - {"/Annots"}
        if any(
            k not in before
            or k not in after
            or not _deep_equal(old, new, before.raw_get(k), after.raw_get(k))
            for k in others
        ):
            return
        old_entries, new_entries = _annots(old, before), _annots(new, after)
        old_refs = [e.reference for e in old_entries if isinstance(e, generic.IndirectObject)]
        new_refs = [e.reference for e in new_entries if isinstance(e, generic.IndirectObject)]
        if len(new_refs) != len(new_entries) or not set(old_refs) <= set(new_refs):
            return
        added = [r for r in new_refs if r not in old_refs]
        if not all(isinstance(new(r), generic.DictionaryObject) for r in added):
            return  # a freed or broken entry: nothing a rule can vouch for
        annotations = [r for r in added if new(r).get("/Subtype") != "/Widget"]
        if not annotations or any(not old.is_ref_unassignable(r) for r in annotations):
            return
        level = ModificationLevel.ANNOTATIONS
        yield level, ReferenceUpdate(ref)
        raw_annots = after.raw_get("/Annots")
        if isinstance(raw_annots, generic.IndirectObject):
            yield level, ReferenceUpdate(raw_annots.reference)
        for annotation in annotations:
            yield level, ReferenceUpdate(annotation)
            for dependency in new.collect_dependencies(new(annotation), since_revision=new.revision):
                if old.is_ref_unassignable(dependency):
                    yield level, ReferenceUpdate(dependency)


class EtsiDiffPolicy(StandardDiffPolicy):
    """pyHanko's standard policy, object freeing decided by :class:`ValidationDataRule`."""

    def __init__(self) -> None:
        super().__init__(
            global_rules=[
                CatalogModificationRule(),
                DocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
                XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
                ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
                ValidationDataRule(),
                MetadataUpdateRule().as_qualified(ModificationLevel.LTA_UPDATES),
                IdenticalRewriteRule(),
                AnnotationAdditionRule(),
            ],
            form_rule=FormUpdatingRule(
                field_rules=[
                    SigFieldCreationRule(),
                    SigFieldModificationRule(),
                    # /I: a choice field's selected indices, written together with /V
                    GenericFieldModificationRule(value_update_keys=VALUE_UPDATE_KEYS | {"/I"}),
                ],
            ),
            reject_object_freeing=False,
        )


ETSI_DIFF_POLICY = EtsiDiffPolicy()

__all__ = ["ETSI_DIFF_POLICY", "EtsiDiffPolicy"]
