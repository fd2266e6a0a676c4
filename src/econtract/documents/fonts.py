"""A font with Simplified Chinese glyphs for pyHanko's ``GlyphAccumulatorFactory``.

pyHanko's default fonts have no CJK glyphs, and ``GlyphAccumulatorFactory`` cannot open the
``.ttc`` collections Noto CJK ships as: we extract the Simplified Chinese face once into the data
directory and reuse it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Any

from django.conf import settings

from econtract.documents.errors import FontUnavailable

DEBIAN_NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
EXTRACTED_NAME = "NotoSansCJKsc-Regular.otf"
COLLECTION_MAGIC = b"ttcf"

_lock = threading.Lock()
_cached: Path | None = None


def cjk_font_path() -> Path:
    """Path of a single-face OpenType/TrueType font with Simplified Chinese glyphs.

    In order: ``settings.ECONTRACT_CJK_FONT``; the " SC" face of the ``noto-cjk-sans-otc`` package's
    collection; the same face of Debian's ``fonts-noto-cjk``. Collections are extracted once to
    ``DATA_DIR/fonts/``. The answer is cached for the life of the process.

    :raises FontUnavailable: when none of these exists or the configured font lacks Chinese glyphs.
    """
    global _cached
    cached = _cached
    if cached is not None and cached.is_file():
        return cached
    with _lock:
        if _cached is None or not _cached.is_file():
            _cached = _locate()
        return _cached


def _locate() -> Path:
    configured = str(getattr(settings, "ECONTRACT_CJK_FONT", "") or "")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FontUnavailable(f"ECONTRACT_CJK_FONT points to {path}, which is not a file")
        if _is_collection(path):
            return _extract_sc_face(path, _fonts_dir() / f"{path.stem}-SC.otf")
        _require_chinese_glyphs(path)
        return path
    for candidate in (_packaged_collection(), DEBIAN_NOTO_CJK):
        if candidate is not None and candidate.is_file():
            return _extract_sc_face(candidate, _fonts_dir() / EXTRACTED_NAME)
    raise FontUnavailable(
        "no font with Chinese glyphs: install the noto-cjk-sans-otc package or Debian's fonts-noto-cjk, "
        "or set ECONTRACT_CJK_FONT to an .otf/.ttf file"
    )


def _packaged_collection() -> Path | None:
    try:
        package = resources.files("noto_cjk_sans_otc")
    except ModuleNotFoundError:
        return None
    candidate = Path(str(package)) / "NotoSansCJK-Regular.ttc"
    return candidate if candidate.is_file() else None


def _fonts_dir() -> Path:
    directory = Path(settings.DATA_DIR) / "fonts"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _is_collection(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == COLLECTION_MAGIC


def _extract_sc_face(collection_path: Path, target: Path) -> Path:
    """Save the collection's Simplified Chinese face as ``target`` unless it is already there."""
    if target.is_file():
        return target
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(collection_path), lazy=True)
    families = [(index, font["name"].getDebugName(1) or "") for index, font in enumerate(collection.fonts)]
    simplified = [(index, family) for index, family in families if family.endswith(" SC")]
    if not simplified:
        raise FontUnavailable(f"{collection_path} has no face whose family name ends in ' SC'")
    # Prefer the proportional face ("Noto Sans CJK SC") over the monospaced one.
    index = min(simplified, key=lambda entry: "Mono" in entry[1])[0]
    try:
        _save_atomically(collection.fonts[index], target)
    finally:
        collection.close()
    return target


def _save_atomically(font: Any, target: Path) -> None:
    """Atomic: a concurrent process sees either no file or the whole font."""
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(descriptor)
    try:
        font.save(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _require_chinese_glyphs(path: Path) -> None:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, OSError) as exc:
        raise FontUnavailable(
            f"ECONTRACT_CJK_FONT={path} is not a usable OpenType/TrueType font: {exc}"
        ) from None
    if not all(ord(character) in cmap for character in "电子合同签署"):
        raise FontUnavailable(f"ECONTRACT_CJK_FONT={path} has no Simplified Chinese glyphs")


# Characters every signature appearance may use besides the signer's name.
_APPEARANCE_BASE = "".join(chr(code) for code in range(0x20, 0x7F)) + "签署人时间日期年月日：，。（）·"
# Part of the cache key: bump when the way subsets are cut changes.
_SUBSET_VERSION = 2


def cjk_font_subset_path(text: str, *, base: str = _APPEARANCE_BASE) -> Path:
    """A small font with just the glyphs ``text`` (plus ``base``, by default ASCII) needs, cut once.

    pyHanko subsets the font it is given at every signature; cutting Noto CJK (tens of thousands of
    glyphs) costs ~0.4 s, a 100-glyph font almost nothing. Subsets are cached on disk by character set.
    The layout closure follows HarfBuzz's default features only (what shaping applies): the same
    glyphs are drawn as with every feature, in a font a third the size.
    """
    import hashlib

    characters = "".join(sorted(set(base + text)))
    digest = hashlib.sha256(f"{_SUBSET_VERSION}:{characters}".encode()).hexdigest()[:24]
    directory = _fonts_dir() / "subsets"
    directory.mkdir(exist_ok=True)
    target = directory / f"cjk-{digest}.otf"
    if target.is_file():
        return target
    from fontTools import subset

    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(cjk_font_path()), options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        _save_atomically(font, target)
    finally:
        font.close()
    return target
