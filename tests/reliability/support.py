"""Shared pieces of the reliability tests: hostile text, values for every option and field kind
(generated from the registry's declarations), storage snapshots, and the checks every outcome must pass.

A bug these tests find and that cannot be fixed at once goes into KNOWN_BUGS: the property tests
skip the inputs that trigger it (`hypothesis.assume` on a recogniser written here), so they keep
guarding everything else, and the bug gets its own `xfail(strict=True)` test that becomes an
unexpected pass, failing the run, the day it is fixed: then delete the skip and the xfail together.
The bugs found so far are fixed, and their tests are the regression tests at the end of
test_bad_input.py and test_secrets.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import shlex
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.core.dispatch import UsageError, convert_options
from bot.core.model import Command, FieldKind, Form, FormErrors, FormField, Option, OptionKind, Reply
from storage.db import Database

# -- settings ----------------------------------------------------------------------------------------
# Derandomized so the default run is the same every time (and within its time budget); the examples
# below still cover every input class on every run. `database=None`: nothing is written to .hypothesis/.
MANY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PER_COMMAND = settings(MANY, max_examples=20)
FEW = settings(MANY, max_examples=8)

GENERIC_CRASH = "Something went wrong on our side"
ADAPTER_CRASH = "something went wrong showing that"  # Discord's last-resort apology

# -- hostile text ------------------------------------------------------------------------------------------
ZERO_WIDTH_AND_BIDI = (
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space, non-joiner, joiner, word joiner, BOM
    "\u200e\u200f\u061c"  # left-to-right / right-to-left / Arabic letter marks
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides (U+202E flips what follows)
    "\u2066\u2067\u2068\u2069"  # isolates
)
CONTROL = "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u2028\u2029"
EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "❤️", "🧑🏿‍⚕️", "𝕳𝖊𝖑𝖑𝖔", "ﷺ", "Ꙭ", "\u0301\u0301\u0301"]
MENTIONS = [
    "@everyone",
    "@here",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0ORGANIZ|@organizers>",
    "<@&123>",
    "<@U123>",
    "<@UORG00001>",
    "<@!123456789012345678>",
    "<@123456789012345678>",
    "<#C123>",
    "<#C123|general>",
    "@Organizer",
]
MARKUP = [
    "**bold**",
    "_italic_",
    "`code`",
    "```\nblock\n```",
    "[link](https://example.org)",
    "[click](javascript:alert(1))",
    "<https://example.org|label>",
    "<script>alert(1)</script>",
    "<b>hi</b>",
    "<img src=x onerror=alert(1)>",
    "&amp; &lt; &gt;",
    "> quoted",
    "- item",
    "# heading",
    "||spoiler||",
    "~~strike~~",
    "*single*",
    "<t:1688169599:F>",  # an instant in range: every adapter renders it
    "<t:0:R>",
    "<t:999999999999:F>",  # the year 33658: no calendar shows it, so it stays literal text
    "<t:-99999999999:R>",
    "%s %d {0} ${x}",
]
SQL = [
    "'; DROP TABLE intents; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE people;--",
    "1; DELETE FROM reports",
    "' OR ''='",
    "%",
    "_",
    "\\",
    "NULL",
]
WORDS = ["Hello", "question", "poster", "help", "ume", "all", "yes", "no", "reset", "42", "-1", "=", "a=b", '"', "'"]
PIECES = MENTIONS + MARKUP + SQL + EMOJI + WORDS + list(ZERO_WIDTH_AND_BIDI) + list(CONTROL)
LONG = 10_000


def _long(piece: str) -> str:
    return ((piece or "x") + " ") * (LONG // (len(piece) + 1) + 1)


def _combinations(count: int, seed: int = 11) -> list[str]:
    """Fixed mixes of the pieces (drawing from a list is much cheaper than composing strategies)."""
    chooser = random.Random(seed)
    return [
        (" " if chooser.random() < 0.5 else "").join(chooser.choices(PIECES, k=chooser.randint(2, 12)))
        for _ in range(count)
    ]


HOSTILE = (
    ["", " ", "\t", "\n", "   \n\t "]
    + PIECES
    + _combinations(120)
    + [_long(p)[:LONG] for p in ["x", "@everyone", "<script>alert(1)</script>", "'; DROP TABLE intents; --"]]
    + [_long(p)[:LONG] for p in ["👍🏽", "\u202e", "\x00", "\u200b", "**bold**", "<!channel>"]]
)


def nasty_text(max_size: int = 12) -> st.SearchStrategy[str]:
    """Empty, blank, arbitrary Unicode, control characters, zero-width and right-to-left marks,
    emoji, mentions, markdown and HTML, SQL-looking text, and 10,000-character text."""
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(max_size=40),
        st.lists(st.sampled_from(PIECES), min_size=1, max_size=max_size).map("".join),
    )


def line_text(max_size: int = 12) -> st.SearchStrategy[str]:
    """Hostile text that fits on one typed line (console and Slack commands)."""
    return nasty_text(max_size).map(lambda t: re.sub(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", " ", t))


WRONG_TYPES = st.sampled_from([0, -1, 7, 2**40, True, False, None, [], ["a"], {}, {"a": 1}, b"", b"12", b"\xff", ()])

DATE_TEXTS = [
    "2023-06-30",
    "2023-07-07T17:00",
    "2023-07-07 17:00",
    "2023-07-07T17:00-04:00",
    "2023-07-07T17:00Z",
    " 2023-07-07T17:00 ",
    "2023-02-30",
    "2023-06-31T10:00",
    "2023-06-30T24:00",
    "2023-13-01",
    "0000-01-01",
    "10000-01-01",
    "2023-06-30T17:00+25:00",
    "9999-12-31T23:59+00:00",
    "0001-01-01",
    "0001-01-01T00:00-12:00",
    "1688169599",
    "tomorrow",
    "next friday",
    "2023-06-30 17:00 EST",
    "٢٠٢٣-٠٦-٣٠",
]
# Far from now, at the edges of what Python's datetime holds: refused with a specific error (typed
# instants must fall in the years 1970 to 2200).
EXTREME_DATES = ["9999-12-31T23:59", "9999-12-31T23:59-12:00", "0001-01-01T00:00+14:00"]


ISO_SAMPLES = [
    (dt.datetime(2000, 1, 1) + dt.timedelta(minutes=random.Random(n).randrange(60 * 24 * 365 * 100))).isoformat(
        timespec="minutes"
    )
    for n in range(40)
]
AWARE_SAMPLES = [
    dt.datetime(2023, 7, 7, 17, 0, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("Etc/GMT+12")),
    dt.datetime(1, 1, 1, 0, 0, tzinfo=ZoneInfo("Pacific/Kiritimati")),
    dt.datetime(2023, 6, 9, 13, 0, tzinfo=ZoneInfo("Asia/Kathmandu")),
]


def dates() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(DATE_TEXTS + EXTREME_DATES + ISO_SAMPLES + AWARE_SAMPLES),
        st.dates().map(str),
        nasty_text(4),
        WRONG_TYPES,
    )


INTEGER_TEXTS = [" 7 ", "+3", "1_0", "٣", "²", "1e3", "0x10", "3.5", "½", "", " ", "-0", "00", "0", "1", "-1"]


def integers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([*range(-3, 11), *INTEGER_TEXTS, 2**63 - 1, -(2**63)]),
        st.integers(-(2**63), 2**63 - 1),
        nasty_text(4),
        WRONG_TYPES,
    )


def option_values(option: Option) -> st.SearchStrategy[Any]:
    """Valid values, hostile text and wrong types for one declared option."""
    kind = option.kind
    if kind is OptionKind.INTEGER:
        return integers()
    if kind is OptionKind.CHOICE:
        values = [c.value for c in option.choices] + [c.label for c in option.choices]
        return st.one_of(
            st.sampled_from(values),
            st.sampled_from(values).map(lambda v: f"  {v.upper()} "),
            nasty_text(4),
            WRONG_TYPES,
        )
    if kind is OptionKind.DATETIME:
        return dates()
    if kind is OptionKind.USER:
        return st.one_of(
            st.sampled_from(["ana", "@ana", "<@U123>", "<@!123>", "<@UPART0001|ana.participant>", "@everyone"]),
            nasty_text(4),
            WRONG_TYPES,
        )
    if kind is OptionKind.CHANNEL:
        return st.one_of(
            st.sampled_from(["general", "#help", "<#C123|general>", "<#C123>"]), nasty_text(4), WRONG_TYPES
        )
    plausible = {
        "zone": ["America/Chicago", "reset", "Europe/Paris", "chicago"],
        "session": ["opening", "workshop-gme", "Opening keynote: Challenging norms together"],
        "name": ["Curriculum reform", "Residency culture"],
        "id": ["cost", "dates", "poster"],
        "command": ["about", "/proposals", "faq"],
        "which": ["today", "tomorrow", "ume", "gme"],
    }.get(option.name, ["Hello there, this is a question about the conference"])
    return st.one_of(st.sampled_from(plausible), nasty_text(), WRONG_TYPES)


def raw_options(command: Command) -> st.SearchStrategy[dict[str, Any]]:
    """Some, all or none of a command's options, with values of every kind, sometimes an unknown key."""
    parts = {o.name: st.one_of(st.none(), option_values(o)) for o in command.options}
    known = st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not None})
    extra = st.dictionaries(st.sampled_from(["bogus", "ID", "text ", ""]), nasty_text(2), max_size=1)
    return st.one_of(known, st.tuples(known, extra).map(lambda pair: {**pair[0], **pair[1]}))


def field_values(field: FormField) -> st.SearchStrategy[Any]:
    """Valid values (at the length limits too), hostile text and wrong kinds for one form field."""
    kind = field.kind
    if kind is FieldKind.CHOICE:
        values = [c.value for c in field.choices] + [c.label for c in field.choices]
        return st.one_of(st.sampled_from(values), nasty_text(4), st.none())
    if kind is FieldKind.DATETIME:
        return st.one_of(dates().filter(lambda v: isinstance(v, str)), st.just(""), st.none())
    if kind is FieldKind.EMAIL:
        return st.one_of(
            st.sampled_from(
                ["ana@example.org", " ana@example.org ", "a@b.co", "Ana <ana@example.org>", "ana@", "@x.org"]
            ),
            st.emails().filter(lambda e: len(e) <= field.max_length),
            nasty_text(4),
        )
    if kind is FieldKind.INTEGER:
        return st.one_of(integers().map(lambda v: v if isinstance(v, str) else str(v)), st.none())
    sizes = sorted({0, 1, max(field.min_length - 1, 0), field.min_length, field.max_length, field.max_length + 1})
    exact = st.tuples(st.sampled_from(sizes), st.sampled_from(PIECES)).map(lambda p: _long(p[1])[: p[0]])
    plausible = {
        "areas": ["all", "ume, gme", "UME", "community,ume", "nowhere"],
        "id": ["parking", "new-entry", "Not An Id", "x" * 41],
        "channels": ["announcements", "#announcements, help", "nowhere"],
        "timezone": ["America/Chicago", "Mars/Base"],
    }.get(field.name, ["A plausible answer, long enough for the minimum length of the field."])
    return st.one_of(st.sampled_from(plausible), exact, nasty_text(), st.none())


def form_values(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    parts = {f.name: field_values(f) for f in form.fields}
    extra = st.dictionaries(st.sampled_from(["bogus", "state", "__class__"]), nasty_text(2), max_size=1)
    return st.tuples(st.fixed_dictionaries(parts), extra).map(lambda pair: {**pair[1], **pair[0]})


# -- known bugs ------------------------------------------------------------------------------------------------
# KNOWN_BUGS[key] = what goes wrong, for the `reason` of a strict xfail (see the module docstring). Empty: every
# bug these tests found so far is fixed.
KNOWN_BUGS: dict[str, str] = {}


# -- checks ----------------------------------------------------------------------------------------------------
def problems_logged(records: list[logging.LogRecord]) -> list[str]:
    """Errors and tracebacks in the log: a handled bad input leaves none."""
    return [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


def assert_specific(outcome: Any) -> None:
    """Success or a specific, human-readable error: never the crash apology, never a blank."""
    if isinstance(outcome, Reply):
        assert outcome.text.strip(), "an empty reply"
        assert GENERIC_CRASH not in outcome.text, outcome.text
        assert "Traceback" not in outcome.text, outcome.text
    elif isinstance(outcome, FormErrors):
        assert outcome.errors, "FormErrors without a message"
        for message in outcome.errors.values():
            assert isinstance(message, str) and message.strip(), outcome.errors
            assert GENERIC_CRASH not in message
    else:
        assert isinstance(outcome, Form), f"unexpected outcome {outcome!r}"


def assert_not_truncated(command: Command, raw: dict[str, Any], outcome: Any, zone: dt.tzinfo) -> None:
    """A text longer than its option allows is never converted (so never stored) shortened: the
    person is told the limit instead."""
    too_long = [
        o
        for o in command.options
        if o.kind is OptionKind.TEXT
        and o.max_length
        and isinstance(raw.get(o.name), str)
        and raw[o.name].strip()
        and len(raw[o.name]) > o.max_length
    ]
    if not too_long:
        return
    try:
        convert_options(command, raw, zone)
    except UsageError as refused:
        assert isinstance(outcome, Reply) and str(refused) in outcome.text, outcome
    else:
        raise AssertionError(f"/{command.name} accepted {too_long[0].name} longer than {too_long[0].max_length}")


# -- storage ---------------------------------------------------------------------------------------------------
async def tables(db: Database) -> list[str]:
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return sorted(r["name"] for r in rows)


async def snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, to compare before and after something that must change nothing."""
    found = {}
    for table in await tables(db):
        rows = await db.fetchall(f"SELECT * FROM {table}")
        found[table] = sorted((tuple(r) for r in rows), key=repr)
    return found


def changed_tables(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


# -- typing commands on text platforms -------------------------------------------------------------------------
SAMPLE_USER = {"console": "ana", "slack": "<@UPART0001|ana.participant>", "discord": "dana"}


def sample_options(command: Command, platform: str = "console") -> dict[str, Any]:
    """Valid options for `command` (so a refusal cannot be an option error in disguise)."""
    found: dict[str, Any] = {}
    for option in command.options:
        if option.kind is OptionKind.INTEGER:
            found[option.name] = max(1, option.min_value or 1)
        elif option.kind is OptionKind.CHOICE:
            found[option.name] = option.choices[0].value
        elif option.kind is OptionKind.USER:
            found[option.name] = SAMPLE_USER[platform]
        elif option.kind is OptionKind.CHANNEL:
            found[option.name] = "general"
        elif option.kind is OptionKind.DATETIME:
            found[option.name] = "2023-07-07T17:00"
        else:
            found[option.name] = "Something to say"[: option.max_length or 100]
    return found


def command_line(command: Command, options: dict[str, Any]) -> str:
    """What a person types on a text platform: /name key=value … (quoted as needed)."""
    words = [f"/{command.name}"]
    words += [shlex.quote(f"{name}={value}") for name, value in options.items()]
    return " ".join(words)
