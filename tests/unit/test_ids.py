"""Ids that travel through a platform (button arguments, form state) are read by one helper."""

import pytest

from bot.core.ids import MAX_ID, parse_id


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("0042", 42), ("9" * 18, MAX_ID), (7, 7), (MAX_ID, MAX_ID)])
def test_ascii_digits_are_an_id(text, expected):
    assert parse_id(text) == expected


FORGED_TEXT = ["", " 1", "1 ", "+1", "-1", "1_0", "²", "٣", "１", "1e3", "0x10", "9" * 19, "9" * 5000]


@pytest.mark.parametrize("forged", [*FORGED_TEXT, -1, MAX_ID + 1, True, 2.0, None])
def test_anything_else_is_no_id(forged):
    assert parse_id(forged) is None
