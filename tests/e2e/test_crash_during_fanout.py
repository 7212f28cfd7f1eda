"""Kill the bot (SIGKILL) in the middle of a 300-person fan-out, restart it: everyone gets one message."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sqlite3
import sys

from bot.config import load_config
from storage import proposals
from storage.db import Database
from tests.conftest import CONFIG_PATH, ROOT
from tests.fakes.slack_server import FakeSlack

PEOPLE = 300


def nudges(fake: FakeSlack) -> dict[str, int]:
    """DM channel → how many deadline nudges the bot posted there."""
    counts: dict[str, int] = {}
    for call in fake.calls_to("chat.postMessage"):
        channel = call.args.get("channel", "")
        if channel.startswith("D") and "not marked submitted" in str(call.args.get("text", "")):
            counts[channel] = counts.get(channel, 0) + 1
    return counts


async def start_bot(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def wait_until(check, within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def test_sigkill_mid_fanout_then_restart_delivers_each_exactly_once(tmp_path):
    config_text = CONFIG_PATH.read_text().replace("slack_rate = 8", "slack_rate = 40")
    config_path = tmp_path / "config.toml"
    config_path.write_text(config_text)
    for name in ("faq.toml", "program.toml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    config = load_config(config_path)
    fake = await FakeSlack().start()
    try:
        fake.add_channel("announcements")
        fake.add_channel("organizers")
        db_path = tmp_path / "bot.sqlite3"
        db = await Database.open(db_path)
        created = config.deadline - dt.timedelta(days=20)
        for n in range(PEOPLE):
            user = fake.add_user(f"U{n:08d}", f"Person {n}")
            values = {
                "type": "poster",
                "area": "ume",
                "title": f"Project {n}",
                "description": "d" * 30,
                "email": f"p{n}@example.org",
            }
            await proposals.create(db, "slack", user, f"Person {n}", values, created, 5)
        await db.close()
        start = config.deadline - dt.timedelta(days=7) + dt.timedelta(seconds=30)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "BOT_"))}
        env.update(
            SLACK_BOT_TOKEN=FakeSlack.BOT_TOKEN,
            SLACK_SIGNING_SECRET="s" * 32,
            SLACK_API_URL=fake.api_url,
            SLACK_HOST="127.0.0.1",
            SLACK_PORT="0",
            BOT_CONFIG=str(config_path),
            BOT_DB=str(db_path),
            BOT_NOW=start.isoformat(),
            BOT_LOG_LEVEL="WARNING",
        )

        bot = await start_bot(env)
        try:
            assert await wait_until(lambda: len(nudges(fake)) >= 60, 90), "the fan-out never got going"
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
            before = len(nudges(fake))
            assert before < PEOPLE, "the fan-out finished before the kill; nothing was tested"
            bot = await start_bot(env)
            assert await wait_until(lambda: len(nudges(fake)) >= PEOPLE, 120), f"only {len(nudges(fake))} reached"
            await asyncio.sleep(1.0)  # anything duplicated late would show up now
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(bot.wait(), 15)
                except TimeoutError:
                    bot.kill()
                    await bot.wait()
        counts = nudges(fake)
        assert len(counts) == PEOPLE and set(counts.values()) == {1}
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            statuses = dict(
                conn.execute("SELECT status, COUNT(*) FROM deliveries WHERE what = 'nudge' GROUP BY status").fetchall()
            )
        assert statuses == {"sent": PEOPLE}
    finally:
        await fake.close()
