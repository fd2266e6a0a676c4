"""Boxes drawn on a rotated page's image land where they were drawn, in the page's user space."""

import pytest

from econtract.signing.models import Envelope
from econtract.signing.services import FieldSpec
from econtract.web import editor


def test_rotated_page_shows_landscape_and_boxes_convert_to_user_space():
    envelope = Envelope(page_sizes=[[0, 0, 595, 842], [0, 0, 595, 842]], page_rotations=[90, 0])
    assert editor.page_dimensions(envelope) == [
        {"number": 1, "width": 842.0, "height": 595.0},
        {"number": 2, "width": 595.0, "height": 842.0},
    ]
    drawn = [FieldSpec(party=0, page=1, x=0, y=0, width=200, height=50)]  # displayed lower-left corner
    (user,) = editor.to_user_fields(envelope, drawn)
    # displayed lower-left of a page turned 90 degrees clockwise is the user-space lower-right
    assert (user.x, user.y, user.width, user.height) == pytest.approx((545, 0, 50, 200))
    (unrotated,) = editor.to_user_fields(
        envelope, [FieldSpec(party=0, page=2, x=10, y=20, width=200, height=50)]
    )
    assert (unrotated.x, unrotated.y) == (10, 20)
