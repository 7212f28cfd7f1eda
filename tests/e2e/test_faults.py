"""Faults from outside the bot: Slack failing or slow during a command and during a fan-out, a locked
or unusable database, and Slack's Events API retrying an event.

Slack redelivering an event with the same event_id (X-Slack-Retry-Num) is covered where the adapter
is: tests/adapters/test_slack_http.py::test_messages_are_answered_in_thread_once_despite_retries
(HTTP mode) and tests/adapters/test_slack_modes.py::test_socket_mode_serves_commands_forms_and_events
(Socket Mode, `retry_attempt`); only the retry arriving across a restart is added here.

The served adapter runs in this process (as in tests/adapters), on the fake Slack of
tests/e2e/support.py, which adds slowness, dropped connections and response_url failures to the
fake's own 429/5xx injection; the database tests that need the real start-up use a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest

from bot.adapters.slack_port import Pacer
from bot.core.clock import Clock
from cogs.general import GeneralCog
from tests.adapters.slack_fixtures import (
    ORGANIZER,
    PARTICIPANT,
    Harness,
    ProbeCog,
    seed,
    start_harness,
    stop_harness,
    visible_text,
)
from tests.adapters.test_slack_proposals import GOOD, buttons_of, opened_modal
from tests.conftest import CONFIG_PATH, ROOT
from tests.e2e.support import SlowSlack, marker, wait_until

INTERNAL = "internal_error"


@pytest.fixture
async def fake(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # every request goes to 127.0.0.1 directly
    slow = await SlowSlack().start()
    seed(slow)
    slow.channel_rate = None  # Slack's per-channel limit is tested in the adapter tests
    yield slow
    await slow.close()


@pytest.fixture
def fast(config):
    return config.model_copy(update={"delivery": config.delivery.model_copy(update={"slack_rate": 50})})


@pytest.fixture
async def slack(fake, fast, clock, tmp_path):
    harness = await start_harness(fake, fast, clock, tmp_path / "bot.sqlite3", None, Pacer(interval=0.0))
    yield harness
    await stop_harness(harness)


async def say(slack: Harness, line: str, user: str = PARTICIPANT, channel: str = "general") -> str:
    sent = await slack.command(line, user=user, channel=channel)
    assert sent.status == 200
    await slack.idle()
    return visible_text(await slack.reply_to(sent, within=30))


# -- Slack failing or slow during a command --------------------------------------------------------------
PLANNED = {  # the channels /event setup creates on Slack (help exists), by their key in the plan
    "lobby": "lobby",
    "announcements": "announcements",
    "undergraduate-medical-education": "area:ume",
    "graduate-medical-education": "area:gme",
    "medical-education-and-the-community": "area:community",
}


async def test_event_setup_through_5xx_and_slow_answers_creates_and_welcomes_each_once(slack, fake):
    def named(name: str):
        return lambda args: args.get("name") == name

    def text_has(fragment: str):
        return lambda args: fragment in str(args.get("text", ""))

    fake.fail("conversations.create", status=503, times=1, when=named("lobby"))  # refused: tried again
    fake.fail("conversations.create", status=500, after_commit=True, when=named("announcements"))  # done, said 500
    fake.lag("conversations.setTopic", 0.5, times=2)  # slow
    fake.fail("chat.postMessage", status=503, times=2, when=text_has("#lobby!"))
    fake.fail("chat.postMessage", status=500, after_commit=True, when=text_has("#graduate-medical-education!"))
    fake.lag("chat.postMessage", 0.5, after=True, when=text_has("#undergraduate-medical-education!"))

    answer = await say(slack, "/event setup", user=ORGANIZER, channel="organizers")

    lines = [line.removeprefix("• ") for line in answer.splitlines() if line.startswith("• ")]
    assert lines == [
        "created #lobby",
        "created #announcements",
        "adopted the existing #help",
        *(f"created #{name}" for name in list(PLANNED)[2:]),
    ], answer
    failed = [(c.method, c.status) for c in fake.calls if c.status >= 500]
    assert Counter(failed) == {
        ("conversations.create", 503): 1,
        ("conversations.create", 500): 1,
        ("chat.postMessage", 503): 2,
        ("chat.postMessage", 500): 1,
    }
    names = Counter(c.name for c in fake.channels.values())
    for name, key in PLANNED.items():
        assert names[name] == 1, names
        posts = fake.bot_posts(fake.channel_named(name).id)
        assert [(m["text"].split("!")[0], marker(m)) for m in posts] == [
            (f"👋 Welcome to #{name}", f"welcome:{key}#0")
        ], name  # once each
    assert fake.bot_posts(fake.channel_named("help").id) == []  # adopted: no welcome


# -- Slack failing or slow during a fan-out ----------------------------------------------------------------
async def announce_to(slack: Harness, names: list[str], text: str) -> tuple[str, str]:
    """/announce by the organizer to `names`, Send pressed; (the preview, the report)."""
    sent = await slack.command("/announce", user=ORGANIZER, channel="organizers")
    view = await opened_modal(slack, sent)
    values = {"text": text, "channels": ",".join(names), "platforms": "all", "ping": "no"}
    accepted = await slack.submit(view, values, user=ORGANIZER)
    assert (accepted.status, accepted.text) == (200, "")
    await slack.idle()
    preview = await slack.reply_to(sent)
    clicked = await slack.click(buttons_of(preview)["Send"], user=ORGANIZER, channel="organizers")
    await slack.idle()
    return visible_text(preview), visible_text(await slack.reply_to(clicked, within=30))


async def test_an_announcement_fan_out_through_5xx_429_and_slow_answers_is_sent_once_or_reported(slack, fake):
    names = [f"news-{n}" for n in range(1, 7)]
    ids = {name: fake.add_channel(name, members=(ORGANIZER,)) for name in names}

    def to(name: str):
        return lambda args: args.get("channel") == ids[name]

    fake.fail("chat.postMessage", status=500, after_commit=True, when=to("news-1"))  # posted, said 500
    fake.fail("chat.postMessage", status=503, times=2, when=to("news-2"))  # refused twice, then fine
    fake.lag("chat.postMessage", 1.5, when=to("news-3"))  # slow
    fake.fail("chat.postMessage", status=429, retry_after=1, when=to("news-4"))  # rate limited once
    fake.fail("chat.postMessage", status=503, times=100, when=to("news-5"))  # down for this channel

    _, report = await announce_to(slack, names, "Registration is open!")

    for name in ("news-1", "news-2", "news-3", "news-4", "news-6"):
        posts = fake.bot_posts(ids[name])
        assert [(m["text"], marker(m)) for m in posts] == [
            ("Registration is open!", f"announcement:1:channel:{ids[name]}#0")
        ], name
        assert f"✅ Slack #{name}: <{fake.permalink(ids[name], posts[0]['ts'])}|view>" in report, report
    assert fake.bot_posts(ids["news-5"]) == []
    assert f"❌ Slack #news-5: Slack refused the message: {INTERNAL}" in report  # reported, not lost
    rows = await slack.app.db.fetchall("SELECT target, status, attempts, detail FROM deliveries ORDER BY id")
    by_target = {r["target"]: r for r in rows}
    assert by_target[f"channel:{ids['news-5']}"]["status"] == "failed"
    assert by_target[f"channel:{ids['news-5']}"]["detail"] == f"Slack refused the message: {INTERNAL}"
    assert Counter(r["status"] for r in rows) == {"sent": 5, "failed": 1}
    # The failed one was tried again (with the same marker), a bounded number of times.
    tries = [c for c in fake.calls_to("chat.postMessage", ok_only=False) if c.args.get("channel") == ids["news-5"]]
    assert 3 <= len(tries) <= 9


# -- bugs: Slack acted, but its answer said otherwise or never came ----------------------------------------
async def test_a_public_reply_slack_posted_but_answered_500_is_not_posted_again(slack, fake):
    fake.response_failures.append((500, True))  # posted, then "500 internal_error"
    sent = await slack.command("/proposals button", user=ORGANIZER)
    assert sent.status == 200
    await slack.idle()
    shared = [m for m in fake.channel_named("general").messages if "Share your work" in str(m.get("text"))]
    assert len(shared) == 1, f"the public reply was posted {len(shared)} times"
    # Only the person is told that Slack may not have shown it (a note nobody else sees).
    (note,) = fake.calls_to("chat.postEphemeral")
    assert note.args["user"] == ORGANIZER and "Slack had trouble showing my answer" in visible_text(note)


async def test_a_post_slack_made_but_answered_500_is_not_repeated_when_the_check_fails(slack, fake, config):
    fake.add_channel("announcements")
    fake.fail("chat.postMessage", status=500, after_commit=True)  # posted, then "500"
    fake.fail("conversations.history", status=500, times=100)  # and the marker cannot be looked for
    slack.app.clock.advance(config.deadline - dt.timedelta(days=7, minutes=-1) - slack.app.clock.now())
    report = await slack.app.deliveries.run_due()
    posts = fake.bot_posts(fake.channel_named("announcements").id)
    assert len(posts) == 1, f"the 7-day reminder was posted {len(posts)} times"
    # Recorded as failed (not knowing), as the ledger's reconcile does, and reported: not tried again.
    (row,) = await slack.app.db.fetchall(
        "SELECT status, detail FROM deliveries WHERE what = 'deadline' AND occurrence = '7d' AND status != 'skipped'"
    )
    assert row["status"] == "failed" and "could not show whether the message arrived" in row["detail"]
    assert report.failed == 1 and report.sent == 0
    assert len(fake.calls_to("chat.postMessage", ok_only=False)) == 1


async def test_a_post_whose_answer_was_lost_is_not_posted_twice(slack, fake, config):
    fake.add_channel("announcements")
    fake.drop("chat.postMessage")  # Slack posts it; the connection drops before the answer
    slack.app.clock.advance(config.deadline - dt.timedelta(days=7, minutes=-1) - slack.app.clock.now())
    await slack.app.deliveries.run_due()
    posts = fake.bot_posts(fake.channel_named("announcements").id)
    assert len(posts) == 1, f"the 7-day reminder was posted {len(posts)} times"


# -- the Events API retrying across a restart -------------------------------------------------------------
async def test_an_event_retried_after_a_restart_is_not_answered_twice(fake, config, clock, tmp_path):
    general = fake.channel_named("general").id
    event = {
        "type": "message",
        "channel": general,
        "user": PARTICIPANT,
        "text": "is this the probe?",
        "ts": "1700000000.000100",
        "channel_type": "channel",
    }
    db_path = tmp_path / "bot.sqlite3"
    first = await start_harness(fake, config, clock, db_path, [GeneralCog, ProbeCog])
    try:
        assert (await first.event(event, "Ev1")).status == 200
        await first.idle()
    finally:
        await stop_harness(first)
    again = await start_harness(fake, config, clock, db_path, [GeneralCog, ProbeCog])
    try:
        assert (await again.event(event, "Ev1", retry=1)).status == 200
        await again.idle()
    finally:
        await stop_harness(again)
    answers = [c for c in fake.calls_to("chat.postMessage") if c.args.get("thread_ts") == event["ts"]]
    assert len(answers) == 1, f"answered {len(answers)} times"


# -- the database: locked by another process, or unusable --------------------------------------------------
class Locked:
    """Another connection (a backup tool, someone's sqlite3 shell) holding the write lock."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)

    def __enter__(self) -> Locked:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class ReadOnly:
    """The database file refusing writes (as a read-only file or mount does), on the bot's own connection."""

    def __init__(self, db):
        self.db = db

    async def __aenter__(self) -> ReadOnly:
        await self.db.conn.execute("PRAGMA query_only = ON")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.db.conn.execute("PRAGMA query_only = OFF")


@contextlib.asynccontextmanager
async def database_fault(db, fault: str):
    if fault == "locked":
        with Locked(db.path):
            yield
    else:
        async with ReadOnly(db):
            yield


@pytest.mark.parametrize(("fault", "cause"), [("locked", "database is locked"), ("read-only", "readonly database")])
async def test_a_database_refusing_writes_fails_a_proposal_clearly_and_writes_nothing(
    slack, fake, caplog, fault, cause
):
    db = slack.app.db
    # The bot waits 5 s for a lock (busy_timeout); the lock here outlasts a shorter wait, to keep the test quick.
    await db.conn.execute("PRAGMA busy_timeout = 300")
    organizers = fake.channel_named("organizers").id
    sent = await slack.command("/propose")
    view = await opened_modal(slack, sent)
    with caplog.at_level(logging.ERROR, logger="bot.core.dispatch"):
        async with database_fault(db, fault):
            accepted = await slack.submit(view, GOOD)
            await slack.idle()
            reply = visible_text(await slack.reply_to(sent))
    assert accepted.status == 200
    match = re.search(r"Something went wrong on our side \(reference ([0-9a-f]{8})\)", reply)
    assert match, reply  # the person is told, with a reference the organizers can look up
    (record,) = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert cause in str(record.exc_info[1])  # the log line names the incident and the cause
    assert await db.fetchall("SELECT id FROM intents") == []  # nothing half-written
    assert fake.bot_posts(organizers) == []  # nobody told of an intent that does not exist

    # Once the database takes writes again, the same person tries again: stored once, organizers told once.
    again = await slack.command("/propose")
    done = await slack.submit(await opened_modal(slack, again), GOOD)
    assert (done.status, done.text) == (200, "")
    await slack.idle()
    assert "Intent #1 recorded" in visible_text(await slack.reply_to(again))
    assert len(await db.fetchall("SELECT id FROM intents")) == 1
    assert len(fake.bot_posts(organizers)) == 1
    assert (await db.fetchone("PRAGMA integrity_check"))[0] == "ok"


async def test_a_proposal_refused_by_a_locked_database_keeps_what_was_typed(slack):
    await slack.app.db.conn.execute("PRAGMA busy_timeout = 300")
    sent = await slack.command("/propose")
    view = await opened_modal(slack, sent)
    with Locked(slack.app.db.path):
        accepted = await slack.submit(view, GOOD)
        await slack.idle()
    assert accepted.text and accepted.json().get("response_action") == "errors", accepted.text
    (error,) = accepted.json()["errors"].values()  # under the first field; the modal keeps the rest
    assert re.match(r"Something went wrong on our side \(reference [0-9a-f]{8}\)", error), error


async def test_a_reminder_due_while_the_database_is_locked_goes_out_when_it_clears(fake, fast, tmp_path):
    announcements = fake.add_channel("announcements")
    due = fast.deadline - dt.timedelta(days=7)
    clock = Clock(start=due - dt.timedelta(seconds=2.0))  # running: the timer fires at the real instant
    harness = await start_harness(fake, fast, clock, tmp_path / "bot.sqlite3", None, Pacer(interval=0.0))
    try:
        await harness.app.db.conn.execute("PRAGMA busy_timeout = 300")
        await harness.app.start_timer()
        left = clock.real_seconds_until(due)
        assert left > 0.2, "the reminder fell due before the lock; the machine is too slow for this test"
        with Locked(harness.app.db.path):
            await asyncio.sleep(left + 1.0)  # the reminder falls due, its wake-up fails
        reached = await wait_until(
            lambda: any(marker(m).startswith("deadline:7d:") for m in fake.bot_posts(announcements)), 3.0
        )
        assert reached, "the 7-day reminder never went out"
    finally:
        await stop_harness(harness)


@pytest.mark.parametrize("problem", ["folder is a file", "path is a folder", "not a database"])
def test_an_unusable_database_stops_the_bot_with_one_clear_line(tmp_path, problem):
    if problem == "folder is a file":
        (tmp_path / "data").write_text("")
        db_path = tmp_path / "data" / "bot.sqlite3"
    elif problem == "path is a folder":
        db_path = tmp_path / "bot.sqlite3"
        db_path.mkdir()
    else:
        db_path = tmp_path / "bot.sqlite3"
        db_path.write_bytes(b"these are my notes, not a database " * 200)
    before = db_path.read_bytes() if db_path.is_file() else None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "BOT_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-not-used",
        SLACK_SIGNING_SECRET="s" * 32,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        SLACK_HOST="127.0.0.1",
        SLACK_PORT="0",
        BOT_CONFIG=str(CONFIG_PATH),
        BOT_DB=str(db_path),
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if before is not None:
        assert db_path.read_bytes() == before  # nothing written into someone's file
    assert done.returncode not in (0, 130)
    assert "Traceback" not in done.stderr, done.stderr
    assert "database" in done.stderr.lower() and len(done.stderr.strip().splitlines()) <= 3, done.stderr
