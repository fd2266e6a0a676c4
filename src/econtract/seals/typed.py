"""A typed signature: the person's name in a handwriting-style font, as an RGBA PNG.

The font is Ma Shan Zheng (马善政毛笔楷书, SIL Open Font License 1.1, which allows embedding and
redistribution; the licence is ``fonts/OFL.txt``), a brush regular script with Latin letters, joined
from the unicode-range pieces Fontsource publishes into one TrueType file (``fonts/README.md``). It
covers GB 2312 (6,763 hanzi) and ASCII. A character it lacks (a rarer hanzi of a name, 喆 or 堃) is
drawn in Noto Sans CJK SC, the project's PDF font, so every name in Chinese can be typed; a character
neither has is refused, never drawn as an empty box.
"""

from __future__ import annotations

import functools
import io
from importlib import resources
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from econtract.seals.signature_images import SignatureImageRefused
from econtract.textinput import UnsafeText, clean_line

FONT_FILE = "MaShanZheng-Regular.ttf"
MAX_CHARACTERS = 40
FONT_SIZE = 160  # pixels: the stored picture is about 1.4x this high, crisp in a 20 mm box at 300 dpi
INK = (22, 34, 92)  # blue-black, like a fountain pen
DEBIAN_NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def render_typed(text: str) -> bytes:
    """``text`` (a name, one line) written in the handwriting font -> RGBA PNG, trimmed.

    :raises SignatureImageRefused: (InvalidSignatureImage) for empty or over-long text, control
        characters, or a character that no available font can draw.
    """
    name = clean_typed_text(text)
    runs = _runs(name)
    margin = FONT_SIZE // 4
    width = margin * 2 + sum(round(font.getlength(run)) for run, font in runs) + FONT_SIZE // 2
    height = round(FONT_SIZE * 1.8)
    baseline = round(FONT_SIZE * 1.25)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    x = float(margin)
    for run, font in runs:
        # Fonts share the baseline, so a fallback glyph sits on the same line as its neighbours.
        draw.text((x, baseline), run, font=font, fill=255, anchor="ls")
        x += font.getlength(run)
    box = mask.getbbox()
    if box is None:
        raise SignatureImageRefused("empty_text", "the text draws nothing")
    pad = max(6, FONT_SIZE // 16)
    left, top, right, bottom = box
    mask = mask.crop(
        (max(0, left - pad), max(0, top - pad), min(width, right + pad), min(height, bottom + pad))
    )
    picture = Image.new("RGBA", mask.size, (*INK, 0))
    picture.putalpha(mask)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def clean_typed_text(text: str) -> str:
    """The text as it will be stored and drawn: one line, NFC, trimmed, 1..MAX_CHARACTERS long."""
    try:
        name = clean_line(text, field="text", max_length=MAX_CHARACTERS)
    except UnsafeText as exc:
        raise SignatureImageRefused("empty_text" if not text.strip() else "invalid_text", str(exc)) from exc
    if not name:
        raise SignatureImageRefused("empty_text", "type the name to write as a signature")
    return " ".join(name.split())  # one space between words, as handwriting has


def font_path() -> Path:
    return Path(str(resources.files("econtract.seals") / "fonts" / FONT_FILE))


def missing_characters(text: str) -> str:
    """The characters of ``text`` that neither the handwriting font nor the fallback can draw."""
    primary = _primary_cmap()
    unknown = {ch for ch in text if not ch.isspace() and ord(ch) not in primary}
    if not unknown:
        return ""
    fallback = _fallback_cmap()
    return "".join(sorted(ch for ch in unknown if ord(ch) not in fallback))


def _runs(name: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
    """``name`` cut into runs of characters drawn by the same font."""
    missing = missing_characters(name)
    if missing:
        raise SignatureImageRefused(
            "missing_glyph", f"no font can write {missing!r}: type the name without these characters"
        )
    primary_cmap = _primary_cmap()
    runs: list[tuple[str, ImageFont.FreeTypeFont]] = []
    current, current_font = "", None
    for ch in name:
        if ch.isspace() or ord(ch) in primary_cmap:
            font = _font(str(font_path()))
        else:
            font = _fallback_font()
        if current_font is not None and font is not current_font:
            runs.append((current, current_font))
            current = ""
        current, current_font = current + ch, font
    if current_font is not None:
        runs.append((current, current_font))
    return runs


@functools.cache
def _font(path: str, index: int = 0) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, FONT_SIZE, index=index)


@functools.cache
def _primary_cmap() -> frozenset[int]:
    return _cmap_of(str(font_path()), 0)


def _cmap_of(path: str, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=index) as font:
        return frozenset((font.getBestCmap() or {}).keys())


def _fallback_font() -> ImageFont.FreeTypeFont:
    found = _fallback()
    if found is None:  # _runs checked the cmap first: without a fallback, nothing reaches here
        raise SignatureImageRefused("missing_glyph", "no fallback font for this character")
    return _font(str(found[0]), found[1])


@functools.cache
def _fallback_cmap() -> frozenset[int]:
    found = _fallback()
    return _cmap_of(str(found[0]), found[1]) if found is not None else frozenset()


@functools.cache
def _fallback() -> tuple[Path, int] | None:
    """Noto Sans CJK SC: ``ECONTRACT_CJK_FONT``, else the noto-cjk-sans-otc package, else Debian's.

    The same sources as ``documents.fonts`` (which seals may not import: data flows the other way),
    read in place: Pillow opens a face of a ``.ttc`` collection by its index.
    """
    candidates: list[Path] = []
    configured = str(getattr(settings, "ECONTRACT_CJK_FONT", "") or "")
    if configured:
        candidates.append(Path(configured).expanduser())
    try:
        candidates.append(Path(str(resources.files("noto_cjk_sans_otc"))) / "NotoSansCJK-Regular.ttc")
    except ModuleNotFoundError:
        pass
    candidates.append(DEBIAN_NOTO_CJK)
    for path in candidates:
        if path.is_file():
            return path, _simplified_chinese_face(path)
    return None


def _simplified_chinese_face(path: Path) -> int:
    with open(path, "rb") as handle:
        if handle.read(4) != b"ttcf":
            return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(path), lazy=True)
    try:
        families = [
            (index, font["name"].getDebugName(1) or "") for index, font in enumerate(collection.fonts)
        ]
    finally:
        collection.close()
    simplified = [(index, family) for index, family in families if family.endswith(" SC")]
    if not simplified:
        return 0
    return min(simplified, key=lambda entry: "Mono" in entry[1])[0]
