"""The injectable clock: every rule that depends on "now" asks one of these.

A rehearsal starts the clock at a chosen instant and may run it faster than real time, so
organizers can watch a whole timeline (deadline reminders, the event day) in minutes.
Tests use speed 0: time stands still until `advance` moves it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


class Clock:
    def __init__(
        self,
        start: dt.datetime | None = None,
        speed: float = 1.0,
        source: Callable[[], float] = time.time,
    ):
        if speed < 0:
            raise ValueError("speed must not be negative")
        if start is not None and start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        self._source = source
        self._real_start = source()
        self._start = start.astimezone(UTC) if start else dt.datetime.fromtimestamp(self._real_start, UTC)
        self.speed = speed
        self._offset = dt.timedelta()

    @classmethod
    def frozen(cls, at: dt.datetime) -> Clock:
        return cls(start=at, speed=0)

    def now(self) -> dt.datetime:
        elapsed = (self._source() - self._real_start) * self.speed
        return self._start + dt.timedelta(seconds=elapsed) + self._offset

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        if delta < dt.timedelta():
            raise ValueError("the clock only moves forward")
        self._offset += delta
        return self.now()

    def real_seconds_until(self, when: dt.datetime) -> float:
        """How long to really wait until the clock shows `when` (for timers in rehearsals)."""
        remaining = (when - self.now()).total_seconds()
        if remaining <= 0:
            return 0.0
        return remaining / self.speed if self.speed else float("inf")

    @property
    def simulated(self) -> bool:
        return self.speed != 1.0 or self._start.timestamp() != self._real_start


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> dt.timedelta:
    """'3d', '1h30m', '2w', '45s' → timedelta. Raises ValueError with a readable message."""
    cleaned = text.strip().replace(" ", "")
    parts = _DURATION.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts).lower() != cleaned.lower():
        raise ValueError(f"{text!r} is not a duration; write it like 3d, 6h, 1h30m or 45s")
    total = dt.timedelta()
    for number, unit in parts:
        total += dt.timedelta(**{_UNITS[unit.lower()]: float(number)})
    return total


# The years a typed instant may fall in: far enough for any plan, and every instant in them can be
# stored, converted to any zone and shown (Python's datetime stops at the years 1 and 9999).
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def parse_instant(text: str, zone: dt.tzinfo) -> dt.datetime:
    """An ISO date or date-time between the years 1970 and 2200; without an offset it is read in `zone`."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time; write it like 2023-06-30T17:00 or 2023-06-30") from None
    return within_range(value if value.tzinfo else value.replace(tzinfo=zone))


class OutOfRangeError(ValueError):
    """A well-formed instant too far in the past or future for the bot to keep or show."""


def within_range(when: dt.datetime) -> dt.datetime:
    """`when` itself, if it falls between the years 1970 and 2200; else OutOfRangeError saying so."""
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise OutOfRangeError(
            f"the year {when.year} is out of range; give a date between {EARLIEST_YEAR} and {LATEST_YEAR}"
        )
    return when


def find_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone called `name`, or None when there is none: besides unknown names, a region
    such as 'America' (a directory in the zone database) or an over-long name is no zone either."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
