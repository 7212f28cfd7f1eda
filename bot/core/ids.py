"""Reading the numeric ids that travel through a platform (button arguments, form state).

Such text comes back from Discord's custom_id or Slack's action value and private_metadata, so a
forged click can put anything there. `parse_id` is the one place that turns it into a row id.
"""

from __future__ import annotations

# Ids (SQLite rowids) are positive and far below this; the bound keeps every query within SQLite's
# 64-bit integers. Integer options use the same bound when they declare none (bot.core.dispatch).
MAX_DIGITS = 18
MAX_ID = 10**MAX_DIGITS - 1


def parse_id(value: object) -> int | None:
    """The id written in `value` (ASCII digits only, at most 18 of them, or a non-negative int),
    else None: the caller answers as it does for an id that does not exist."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_ID else None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > MAX_DIGITS:
        return None
    return int(value)
