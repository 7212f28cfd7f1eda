"""Recovering from crashes and faults, below the e2e tests: the ledger's reconcile and uncertain sends,
the timer's retries, Slack's seen event ids, and /event setup interrupted after creating a channel or category."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.adapters.slack_port import Unconfirmed
from bot.core.model import Message, Place, Platform, Posted
from bot.core.port import PlatformError
from bot.delivery import Occurrence, Target
from bot.scheduler import RETRY_JOB, Timer
from cogs.event import places
from storage import deliveries as ledger
from storage import seen_events
from tests.recording_port import RecordingPort


class Port:
    """Posts to 'C1'; `gate` holds a post until set, `errors` are raised first, one per post."""

    platform = Platform.SLACK

    def __init__(self):
        self.posts: list[Message] = []
        self.errors: list[Exception] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()

    async def post(self, place: Place, message: Message) -> Posted:
        self.started.set()
        await self.gate.wait()
        if self.errors:
            raise self.errors.pop(0)
        self.posts.append(message)
        return Posted(place, f"m{len(self.posts)}")

    async def find_posted(self, kind: str, target_id: str, key: str) -> str | None:
        return next((f"m{n}" for n, m in enumerate(self.posts, 1) if m.dedupe_key == key), None)


def occurrence(now: dt.datetime) -> Occurrence:
    async def targets():
        return [Target("slack", "channel", "C1")]

    async def message(target, late):
        return Message("Hello")

    return Occurrence("test", "1", now, "a test", "C1", targets, message)


@pytest.fixture
def port(app):
    found = Port()
    app.platforms[Platform.SLACK] = found
    return found


async def test_reconcile_leaves_alone_a_row_this_process_is_sending(app, port):
    port.gate.clear()
    sending = asyncio.create_task(app.deliveries.run_occurrence(occurrence(app.clock.now())))
    await port.started.wait()
    (row,) = await ledger.for_occurrence(app.db, "test", "1")
    assert row.status == "sending"
    assert await app.deliveries.reconcile() == 0
    assert (await ledger.for_occurrence(app.db, "test", "1"))[0].status == "sending"  # not released
    port.gate.set()
    report = await sending
    assert report.sent == 1 and len(port.posts) == 1


async def test_reconcile_settles_a_row_an_earlier_run_left_sending(app, port):
    await ledger.record(app.db, "test", "1", "slack", ["channel:C1"], app.clock.now(), app.clock.now())
    (row,) = await ledger.for_occurrence(app.db, "test", "1")
    assert await ledger.claim(app.db, row.id, app.clock.now())  # as a run that then crashed
    port.posts.append(Message("Hello", dedupe_key=row.key))  # the platform had it
    assert await app.deliveries.reconcile() == 1
    assert (await ledger.for_occurrence(app.db, "test", "1"))[0].status == "sent"


async def test_a_send_that_may_have_happened_is_recorded_failed_not_tried_again(app, port):
    port.errors = [Unconfirmed("Slack failed and could not show whether it arrived")]
    report = await app.deliveries.run_occurrence(occurrence(app.clock.now()))
    assert report.failed == 1 and port.posts == []  # one try only
    (row,) = await ledger.for_occurrence(app.db, "test", "1")
    assert (row.status, row.attempts) == ("failed", 1)
    assert "could not show whether" in row.detail


async def test_a_plain_refusal_is_still_tried_again_with_the_same_marker(app, port, monkeypatch):
    monkeypatch.setattr("bot.delivery.RETRY_DELAY", 0.0)
    port.errors = [PlatformError("busy")]
    report = await app.deliveries.run_occurrence(occurrence(app.clock.now()))
    assert report.sent == 1 and len(port.posts) == 1


async def test_a_failed_wake_up_is_tried_again_sooner_than_the_next_occurrence(app, caplog):
    failures = [RuntimeError("database is locked")] * 2

    async def run_due():
        if failures:
            raise failures.pop(0)
        return await original()

    original = app.deliveries.run_due
    app.deliveries.run_due = run_due
    timer = Timer(app.deliveries)
    await timer.start()
    try:
        job = timer.scheduler.get_job(RETRY_JOB)
        assert job is not None and timer.failures == 1
        first = (job.next_run_time - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 < first <= 2.0
        await timer.wake()  # another occurrence due at the same instant fails too: it shares the retry
        assert timer.failures == 1 and len(failures) == 0
        timer.scheduler.remove_job(RETRY_JOB)  # as APScheduler does when the retry runs
        failures.append(RuntimeError("database is locked"))
        await timer.wake()  # the retry fails again: it waits longer
        second = (timer.scheduler.get_job(RETRY_JOB).next_run_time - dt.datetime.now(dt.UTC)).total_seconds()
        assert timer.failures == 2 and 2.0 < second <= 4.0
        timer.scheduler.remove_job(RETRY_JOB)
        await timer.wake()
        assert timer.failures == 0 and timer.scheduler.get_job(RETRY_JOB) is None
        assert "trying again in 2 s" in caplog.text and "trying again in 4 s" in caplog.text
    finally:
        timer.stop()


async def test_seen_event_ids_are_kept_for_an_hour(app):
    assert await seen_events.first_time(app.db, "slack", "Ev1", 1000.0)
    assert not await seen_events.first_time(app.db, "slack", "Ev1", 1000.0 + 3599)
    assert await seen_events.first_time(app.db, "discord", "Ev1", 1000.0)  # per platform
    assert await seen_events.first_time(app.db, "slack", "Ev1", 1000.0 + 3601)  # pruned, then seen anew
    rows = await app.db.fetchall("SELECT event_id, seen_at FROM seen_events WHERE platform = 'slack'")
    assert [(r["event_id"], r["seen_at"]) for r in rows] == [("Ev1", 4601.0)]


class Crash(BaseException):
    """The process dying (nothing after it runs)."""


class CrashingPort(RecordingPort):
    """Creates #lobby on the platform, then the process dies before the bot hears back."""

    crash = True

    async def create_channel(self, name, **options) -> Place:
        place = await super().create_channel(name, **options)
        if name == "lobby" and self.crash:
            raise Crash
        return place


async def test_a_channel_created_just_before_a_crash_is_the_events_own(app, config):
    port = CrashingPort(Platform.SLACK, ("help",))
    now = app.clock.now()
    with pytest.raises(Crash):
        await places.set_up(port, config, app.db, now, dry_run=False)
    assert await places.stored(app.db, "slack") == {}
    assert await places.intended(app.db, "slack") == {"lobby": "lobby"}

    port.crash = False  # the next run
    dry = await places.set_up(port, config, app.db, now, dry_run=True)
    assert "would finish creating #lobby (an earlier setup was interrupted)" in dry
    lines = await places.set_up(port, config, app.db, now, dry_run=False)
    assert lines[0] == "created #lobby (finished after an interruption)"
    assert "adopted the existing #help" in lines  # one that really existed before is still adopted
    assert [n for kind, n in port.created if kind == "channel"].count("lobby") == 1
    assert any(m.dedupe_key == "welcome:lobby" for _, _, m in port.sent)  # welcomed after all
    assert await places.intended(app.db, "slack") == {}
    archived = await places.archive_all(port, app.db)
    assert "archived #lobby" in archived and any("left #help open" in line for line in archived)


async def test_a_refused_creation_leaves_no_intent_behind(app, config):
    class Refusing(RecordingPort):
        async def create_channel(self, name, **kwargs) -> Place:
            raise PlatformError("name_taken")

    lines = await places.set_up(Refusing(Platform.SLACK, ()), config, app.db, app.clock.now(), dry_run=False)
    assert lines[0] == "could not create #lobby: name_taken"
    assert await places.intended(app.db, "slack") == {}


class CrashingCategoryPort(RecordingPort):
    """Creates the event's category on Discord, then the process dies before the bot hears back."""

    crash = True

    async def create_category(self, name: str) -> str:
        category_id = await super().create_category(name)
        if self.crash:
            raise Crash
        return category_id


async def test_a_category_created_just_before_a_crash_is_the_events_own(app, config):
    port = CrashingCategoryPort(Platform.DISCORD, ())
    name, now = config.event.category, app.clock.now()
    with pytest.raises(Crash):
        await places.set_up(port, config, app.db, now, dry_run=False)
    assert await places.intended(app.db, "discord") == {"category": name}

    port.crash = False  # the next run
    dry = await places.set_up(port, config, app.db, now, dry_run=True)
    assert dry[0] == f"would finish creating category {name} (an earlier setup was interrupted)"
    lines = await places.set_up(port, config, app.db, now, dry_run=False)
    assert lines[0] == f"created category {name} (finished after an interruption)"
    assert [n for kind, n in port.created if kind == "category"] == [name]  # not a second one
    (category_id,) = port.categories
    assert (await places.stored(app.db, "discord"))["category"]["place_id"] == category_id
    assert await places.intended(app.db, "discord") == {}


async def test_a_category_of_that_name_without_an_intent_is_not_taken(app, config):
    port = RecordingPort(Platform.DISCORD, ())
    await port.create_category(config.event.category)  # someone's own, made by hand
    lines = await places.set_up(port, config, app.db, app.clock.now(), dry_run=False)
    assert lines[0] == f"created category {config.event.category}"
    assert len(port.categories) == 2 and await places.intended(app.db, "discord") == {}
