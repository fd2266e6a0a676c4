import pytest

from econtract.signing.geometry import displayed_size, to_display, to_user_space

A4 = (595.0, 842.0)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_box_survives_the_round_trip(rotation):
    box = (50.0, 60.0, 180.0, 40.0)
    shown = to_display(box, *A4, rotation)
    assert to_user_space(shown, *A4, rotation) == pytest.approx(box)


def test_rotated_page_swaps_its_displayed_size():
    assert displayed_size(*A4, 90) == (842.0, 595.0)
    assert displayed_size(*A4, 180) == A4


def test_the_user_space_origin_shows_where_the_rotation_puts_it():
    # A 10x10 box at the user-space origin (MediaBox lower-left):
    # rotated 90 degrees clockwise it shows at the displayed top-left corner.
    assert to_display((0, 0, 10, 10), *A4, 90) == pytest.approx((0, 595 - 10, 10, 10))
    # rotated 270 it shows at the displayed bottom-right.
    assert to_display((0, 0, 10, 10), *A4, 270) == pytest.approx((842 - 10, 0, 10, 10))
    assert to_display((0, 0, 10, 10), *A4, 180) == pytest.approx((595 - 10, 842 - 10, 10, 10))
