"""Deadline reminders and nudges through the ledger: once per target, across jumps and restarts."""

import datetime as dt
import json
import subprocess
import sys

import pytest

from bot.app import App
from bot.core.clock import Clock
from bot.core.model import Platform
from storage import deliveries as ledger
from storage.db import Database
from tests.cogs.test_proposals import propose
from tests.conftest import ROOT, console_actor
from tests.recording_port import RecordingPort

MAY_1 = dt.datetime(2023, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
async def world(config, tmp_path):
    """An app on a stopped clock with two recording platforms; `restart()` reopens the same database."""

    class World:
        def __init__(self):
            self.clock = Clock.frozen(MAY_1)
            self.discord = RecordingPort(Platform.DISCORD)
            self.slack = RecordingPort(Platform.SLACK)
            self.app = None

        async def start(self):
            db = await Database.open(tmp_path / "w.sqlite3")
            self.app = App(config, db, self.clock)
            self.app.platforms[Platform.DISCORD] = self.discord
            self.app.platforms[Platform.SLACK] = self.slack
            return self.app

        async def restart(self):
            await self.app.close()
            return await self.start()

        async def at(self, when: dt.datetime):
            self.clock.advance(when - self.clock.now())
            return await self.app.deliveries.run_due()

    w = World()
    await w.start()
    yield w
    await w.app.close()


def reminder_texts(port):
    return [t for t in port.texts("D1" if port.platform == Platform.DISCORD else "S1")]


async def test_every_deadline_reminder_reaches_every_platform_once(world, config):
    deadline = config.deadline
    offsets = [dt.timedelta(days=d) for d in (30, 14, 7, 3, 1)] + [dt.timedelta(hours=6)]
    for offset in offsets:
        await world.at(deadline - offset - dt.timedelta(seconds=1))
        before = len(world.discord.sent)
        await world.at(deadline - offset)
        assert len(world.discord.sent) == before + 1
        await world.app.deliveries.run_due()  # running again sends nothing more
        assert len(world.discord.sent) == before + 1
    await world.at(deadline + dt.timedelta(minutes=1))
    for port in (world.discord, world.slack):
        texts = reminder_texts(port)
        assert len(texts) == 7, texts
        assert texts[0].startswith("📣 **Proposals for Challenging Norms are open** until <t:1688183999:F>")
        assert texts[2].startswith("⏳ **7 days left**")
        assert texts[4].startswith("🚨 **Last call for Challenging Norms proposals!** They close <t:1688183999:R>")
        assert all("/propose" in t and "[submission form](https://" in t for t in texts[:6])
        assert "has passed" in texts[6]
        assert not any("late" in t for t in texts)
    keys = [m.dedupe_key for _, _, m in world.discord.sent]
    assert keys[0] == "deadline:30d:channel:D1" and len(set(keys)) == len(keys)


async def test_a_restart_between_offsets_repeats_nothing_and_skips_nothing(world, config):
    deadline = config.deadline
    for days in (30, 14, 7, 3, 1):
        await world.at(deadline - dt.timedelta(days=days))
        await world.restart()
        await world.app.deliveries.run_due()  # at start, after the restart
    occurrences = [r.occurrence for r in await ledger_rows(world.app, "deadline", "slack")]
    assert occurrences == ["30d", "14d", "7d", "3d", "1d"]
    assert len(reminder_texts(world.slack)) == 5
    assert not any("late" in t for t in reminder_texts(world.slack))


async def ledger_rows(app, what, platform):
    rows = await app.db.fetchall(
        "SELECT * FROM deliveries WHERE what = ? AND platform = ? AND status = 'sent' ORDER BY due_at",
        (what, platform),
    )
    return [ledger._delivery(r) for r in rows]


async def test_missed_reminders_go_out_late_once_or_are_recorded_as_skipped(world, config):
    deadline = config.deadline
    # Down from before the 14-day reminder until an hour after it: it goes out, marked late.
    await world.at(deadline - dt.timedelta(days=14) + dt.timedelta(hours=1))
    texts = reminder_texts(world.discord)
    assert len(texts) == 1 and "This reminder is late" in texts[0]
    rows = {
        r["occurrence"]: r
        for r in await world.app.db.fetchall(
            "SELECT occurrence, status, detail FROM deliveries WHERE what = 'deadline' AND platform = 'discord'"
        )
    }
    # The 30-day one is superseded by the 14-day one: recorded as skipped, never silently dropped.
    assert rows["30d"]["status"] == "skipped"
    assert rows["14d"]["status"] == "sent" and rows["14d"]["detail"] == "late"


async def test_a_long_outage_skips_what_is_no_longer_useful_and_says_so(world, config, caplog):
    deadline = config.deadline
    await world.at(deadline - dt.timedelta(days=2))  # first start: 30d, 14d, 7d and 3d all overdue
    rows = {
        r["occurrence"]: (r["status"], r["detail"])
        for r in await world.app.db.fetchall(
            "SELECT occurrence, status, detail FROM deliveries WHERE what = 'deadline' AND platform = 'slack'"
        )
    }
    assert rows["30d"] == ("skipped", "missed while the bot was down; no longer useful")
    assert rows["14d"][0] == rows["7d"][0] == "skipped"
    assert rows["3d"] == ("sent", "late")
    assert len(reminder_texts(world.slack)) == 1
    assert "was missed and is no longer useful" in caplog.text


async def test_nudges_reach_people_with_unsubmitted_intents_once_per_offset(world, config, lobby):
    app = world.app
    ana, ben, cam = (console_actor(n) for n in ("ana", "ben", "cam"))
    ana, ben, cam = (a.__class__(Platform.SLACK, a.user_id, a.display_name) for a in (ana, ben, cam))
    await propose(app, ana, lobby)
    await propose(app, ben, lobby)
    await propose(app, cam, lobby)
    await app.dispatcher.run_command("proposals submitted", {"id": "2"}, ben, lobby)  # ben is done
    await app.dispatcher.run_command("reminders", {"state": "off"}, cam, lobby)  # cam opted out
    deadline = config.deadline
    await world.at(deadline - dt.timedelta(days=7))
    await world.restart()
    await world.at(deadline - dt.timedelta(days=7) + dt.timedelta(minutes=1))
    dms = [(t, m.text) for kind, t, m in world.slack.sent if kind == "user"]
    assert [t for t, _ in dms] == ["ana"]
    assert "#1 “Our anti-racist curriculum pilot”" in dms[0][1]
    assert "Type /reminders off" in dms[0][1]
    await world.app.dispatcher.run_command("reminders", {"state": "off"}, ana, lobby)
    await world.app.dispatcher.run_command("reminders", {"state": "on"}, cam, lobby)
    await world.at(deadline - dt.timedelta(days=2))
    dms = [t for kind, t, _ in world.slack.sent if kind == "user"]
    assert dms == ["ana", "cam"]
    await world.at(deadline - dt.timedelta(hours=12))
    assert [t for kind, t, _ in world.slack.sent if kind == "user"] == ["ana", "cam", "cam"]


async def test_a_send_interrupted_by_a_crash_is_confirmed_or_resent_once(world, config):
    app = world.app
    await world.at(config.deadline - dt.timedelta(days=30))
    # Simulate a crash mid-send: the Slack row was claimed, the platform kept it, the ledger did not hear.
    row = (await ledger.for_occurrence(app.db, "deadline", "30d"))[1]
    assert row.platform == "slack"
    await app.db.execute("UPDATE deliveries SET status = 'sending' WHERE id = ?", (row.id,))
    await world.restart()
    assert await world.app.deliveries.reconcile() == 0  # no find_posted: released to be sent again
    await world.app.deliveries.run_due()
    assert len(reminder_texts(world.slack)) == 1  # same marker: the platform answered with the original
    settled = (await ledger.for_occurrence(world.app.db, "deadline", "30d"))[1]
    assert settled.status == "sent"


async def test_a_platform_that_refuses_is_reported_not_retried_forever(world, config):
    world.discord.fail_for["D1"] = "Missing Access"
    report = await world.at(config.deadline - dt.timedelta(days=30))
    assert report.failed == 1 and "Missing Access" in report.details[0]
    row = next(r for r in await ledger.for_occurrence(world.app.db, "deadline", "30d") if r.platform == "discord")
    assert row.status == "failed" and row.detail == "Missing Access"


def test_schedule_json_lists_the_six_reminders_in_new_york_time():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "schedule", "--json", "--from", "2023-05-01"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = [r for r in json.loads(done.stdout) if r["what"] == "deadline" and r["key"] != "passed"]
    assert [r["when"] for r in rows] == [
        "2023-05-31T23:59:59-04:00",
        "2023-06-16T23:59:59-04:00",
        "2023-06-23T23:59:59-04:00",
        "2023-06-27T23:59:59-04:00",
        "2023-06-29T23:59:59-04:00",
        "2023-06-30T17:59:59-04:00",
    ]
