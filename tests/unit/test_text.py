import datetime as dt
import logging
from zoneinfo import ZoneInfo

from bot.adapters.slack_text import escape, to_mrkdwn
from bot.core.model import Timestamp
from bot.core.text import format_instant, mark_text, relative, split_text, time_left, to_plain
from bot.secrets import RedactingFormatter, redact

DEADLINE = dt.datetime(2023, 7, 1, 3, 59, 59, tzinfo=dt.UTC)


def test_instants_show_in_the_readers_zone():
    assert format_instant(DEADLINE, ZoneInfo("America/New_York")) == "Friday, June 30, 2023 at 11:59 PM EDT"
    assert format_instant(DEADLINE, ZoneInfo("Europe/Paris"), "f") == "July 1, 2023 at 5:59 AM CEST"
    assert format_instant(DEADLINE, ZoneInfo("America/Chicago"), "t") == "10:59 PM CDT"


def test_plain_text_spells_out_links_times_and_bold():
    text = f"**Due** {Timestamp(DEADLINE)}: see [the guide](https://example.org/guide)"
    plain = to_plain(text, ZoneInfo("America/Los_Angeles"))
    assert plain == "Due Friday, June 30, 2023 at 8:59 PM PDT: see the guide (https://example.org/guide)"


def test_relative_times_and_time_left():
    now = DEADLINE - dt.timedelta(days=3, hours=5)
    assert relative(DEADLINE, now) == "in 3 days"
    assert relative(now, DEADLINE) == "3 days ago"
    assert time_left(DEADLINE, now) == "3 days, 5 hours left"
    assert time_left(DEADLINE, DEADLINE - dt.timedelta(minutes=7)) == "7 minutes left"
    assert time_left(DEADLINE, DEADLINE) == "closed"


def test_split_keeps_every_character_within_the_limit():
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(100))
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_text("y" * 4500, 2000) == ["y" * 2000, "y" * 2000, "y" * 500]
    assert split_text("", 10) == [""]


def test_secrets_never_reach_a_log_line(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1234-5678-abcdefgh")
    monkeypatch.setenv("DISCORD_TOKEN", "plain-secret-value")
    record = logging.LogRecord(
        "t",
        logging.ERROR,
        __file__,
        1,
        "auth with %s and %s failed\nsecond line",
        ("plain-secret-value", "xapp-1-AAAA-BBBBBBBB"),
        None,
    )
    line = RedactingFormatter("%(message)s").format(record)
    assert "plain-secret-value" not in line and "xapp-1-AAAA" not in line
    assert "\n" not in line
    assert redact("token xoxb-1234-5678-abcdefgh") == "token [SLACK_BOT_TOKEN redacted]"


def test_an_instant_no_calendar_can_show_stays_literal_text():
    now = dt.datetime(2023, 6, 29, tzinfo=dt.UTC)
    for zone in (dt.UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")):
        for mark in ("<t:999999999999:F>", "<t:-99999999999:R>"):
            assert to_plain(f"At **{mark}** or <t:0:d>", zone, now) == f"At {mark} or {mark_text('0', 'd', zone)}"
            assert to_mrkdwn(mark, zone, now) == escape(mark)
    # The last second of the year 9999 (UTC): a zone west of UTC can show it, one east of it cannot.
    assert to_plain("<t:253402300799:d>", ZoneInfo("Etc/GMT+12")) == "9999-12-31"
    assert to_plain("<t:253402300799:d>", ZoneInfo("Pacific/Kiritimati")) == "<t:253402300799:d>"
    assert mark_text("999999999999", "F", dt.UTC) is None
