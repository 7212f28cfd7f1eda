import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import Clock, find_zone, parse_duration, parse_instant

START = dt.datetime(2023, 6, 29, 12, 0, tzinfo=dt.UTC)


class FakeTime:
    def __init__(self):
        self.value = 1000.0

    def __call__(self):
        return self.value


def test_frozen_clock_stands_still_until_advanced():
    clock = Clock.frozen(START)
    assert clock.now() == START
    clock.advance(dt.timedelta(days=1, hours=2))
    assert clock.now() == START + dt.timedelta(days=1, hours=2)


def test_rehearsal_clock_runs_faster_from_the_given_start():
    real = FakeTime()
    clock = Clock(start=START, speed=60, source=real)
    real.value += 10  # ten real seconds are ten minutes of rehearsal
    assert clock.now() == START + dt.timedelta(minutes=10)
    assert clock.real_seconds_until(START + dt.timedelta(minutes=20)) == pytest.approx(10)


def test_real_clock_follows_time():
    real = FakeTime()
    clock = Clock(source=real)
    real.value += 5
    assert clock.now() == dt.datetime.fromtimestamp(1005.0, dt.UTC)
    assert not clock.simulated


def test_clock_refuses_to_go_back_and_naive_starts():
    with pytest.raises(ValueError):
        Clock.frozen(START).advance(dt.timedelta(seconds=-1))
    with pytest.raises(ValueError):
        Clock(start=dt.datetime(2023, 1, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", dt.timedelta(days=3)),
        ("1h30m", dt.timedelta(minutes=90)),
        ("2w", dt.timedelta(weeks=2)),
        ("45s", dt.timedelta(seconds=45)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "3x", "d3", "3d later"])
def test_bad_durations_say_how_to_write_them(text):
    with pytest.raises(ValueError, match="write it like 3d"):
        parse_duration(text)


def test_instants_without_offset_are_read_in_the_given_zone():
    from zoneinfo import ZoneInfo

    value = parse_instant("2023-06-30T17:00", ZoneInfo("America/New_York"))
    assert value.astimezone(dt.UTC).hour == 21
    with pytest.raises(ValueError, match="2023-06-30T17:00"):
        parse_instant("next friday", dt.UTC)


def test_instants_outside_the_years_1970_to_2200_are_refused_with_a_reason():
    assert parse_instant("2200-12-31T23:59", dt.UTC).year == 2200
    assert parse_instant("1970-01-01", dt.UTC).year == 1970
    for typed in ("9999-12-31T23:59", "9999-12-31T23:59-12:00", "0001-01-01T00:00+14:00", "1969-12-31"):
        with pytest.raises(ValueError, match="give a date between 1970 and 2200"):
            parse_instant(typed, ZoneInfo("America/New_York"))


@pytest.mark.parametrize("name", ["America", "Europe", "a" * 300, "", "Mars/Base", "../etc", "UTC\x00", "/etc"])
def test_a_name_that_is_no_time_zone_is_none(name):
    assert find_zone(name) is None


def test_a_time_zone_is_found_by_its_iana_name():
    assert find_zone("America/Chicago") == ZoneInfo("America/Chicago")
