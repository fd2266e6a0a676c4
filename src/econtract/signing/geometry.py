"""Boxes on pages: between a page's user space (what PDF and the API use) and what a viewer shows.

A page's /Rotate turns its display clockwise by 0, 90, 180 or 270 degrees. The API takes boxes in
user space, origin at the MediaBox's lower-left; the web editor draws on the displayed (rotated)
page image. These two functions convert a box between the two, both with the origin lower-left.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]  # x, y, width, height


def displayed_size(width: float, height: float, rotation: int) -> tuple[float, float]:
    return (height, width) if rotation % 180 else (width, height)


def _point_to_display(u: float, v: float, width: float, height: float, rotation: int) -> tuple[float, float]:
    if rotation == 90:
        return v, width - u
    if rotation == 180:
        return width - u, height - v
    if rotation == 270:
        return height - v, u
    return u, v


def _point_to_user(x: float, y: float, width: float, height: float, rotation: int) -> tuple[float, float]:
    if rotation == 90:
        return width - y, x
    if rotation == 180:
        return width - x, height - y
    if rotation == 270:
        return y, height - x
    return x, y


def _span(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def to_display(box: Box, width: float, height: float, rotation: int) -> Box:
    """A user-space box as it appears on the displayed page (``width``/``height``: the MediaBox's)."""
    x, y, w, h = box
    corners = [(x, y), (x + w, y + h)]
    return _span([_point_to_display(u, v, width, height, rotation % 360) for u, v in corners])


def to_user_space(box: Box, width: float, height: float, rotation: int) -> Box:
    """A box drawn on the displayed page, in the page's user space."""
    x, y, w, h = box
    corners = [(x, y), (x + w, y + h)]
    return _span([_point_to_user(u, v, width, height, rotation % 360) for u, v in corners])
