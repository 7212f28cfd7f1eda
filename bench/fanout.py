"""Fan-out benchmark: `python -m bench fanout`.

A deadline nudge (the reminders cog's "7d" personal nudge: a direct message to everyone with an
unsubmitted intent) to 250, 1,000 and 5,000 people, and an organizer's announcement to 10, 25
and 50 channels, on each platform, through `python -m bot run` in a child process started at the
nudge's time (`BOT_NOW`), as a bot that was just (re)started would send them: the timer
reconciles the ledger, expands the occurrences into rows, and sends (the announcement's rows
first, being due first; each part is timed on its own).

The fakes enforce Discord's 50 requests/s per bot and Slack's 1 message/s per channel (with a
short burst). Reported per part: wall time (first request to last message), the floor the limits
imply (Discord: requests ÷ 50 — a direct message costs two, opening the DM channel and posting;
Slack: one message per channel implies no floor), wall ÷ floor (target ≤ 1.1), the floor the
`[delivery]` rate itself implies (Discord requests or Slack messages ÷ rate), duplicates and
losses (both must be 0: people who got a message twice or not at all, however the ledger
settled), 429s received, and the ledger's final statuses.

Each scenario runs with the shipped `[delivery]` values and with tuned ones. Every scenario has
its own fake (its own bot token, so its own limits) and bot process, and they run side by side:
they are bound by the limits, not the CPU, and the largest Discord one alone takes its
200-second floor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness as h
from bench import machine

DISCORD_LIMIT = 50.0  # requests per second per bot
DEFAULTS = {"discord_rate": 48.0, "slack_rate": 8.0, "concurrency": 8}  # config.toml as shipped
# discord_rate counts requests (a direct message costs two: open the DM channel, post; a channel post
# one), slack_rate messages; Slack's ceiling in config is 50/s.
TUNED = {"discord_rate": 48.0, "slack_rate": 50.0, "concurrency": 8}
SIZES = ((250, 10), (1000, 25), (5000, 50))  # (people, channels)
DEFAULT_SIZES = ((1000, 50),)  # the shipped values at one size: Slack's 8/s makes 5,000 take 10 minutes
TARGET = 1.1
PACKAGES = ("discord.py", "slack-bolt", "slack-sdk", "aiohttp", "aiosqlite")
NUDGE_MARK = "not marked submitted"


@dataclass(frozen=True)
class Scenario:
    platform: str
    config: str  # "shipped" or "tuned"
    people: int
    channels: int
    delivery: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.platform} {self.config} {self.people} DMs + {self.channels} channels"


def scenarios(
    sizes: Sequence[tuple[int, int]] = SIZES,
    default_sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    platforms: Sequence[str] = ("discord", "slack"),
) -> list[Scenario]:
    found = []
    for platform in platforms:
        found += [Scenario(platform, "tuned", p, c, TUNED) for p, c in sizes]
        found += [Scenario(platform, "shipped", p, c, DEFAULTS) for p, c in default_sizes]
    # Longest first, so the whole run lasts as long as the longest scenario.
    return sorted(
        found, key=lambda s: -s.people * (2 / 50 if s.platform == "discord" else 1 / s.delivery["slack_rate"])
    )


# -- one scenario ---------------------------------------------------------------------------------------
async def _seed(db_path: Path, platform: str, people: list[str], channels: list[tuple[str, str]], now) -> None:
    """An intent per person (so the nudge goes to each) and a scheduled announcement to the channels."""
    from storage import proposals
    from storage.db import Database

    db = await Database.open(db_path)
    try:
        created = now - dt.timedelta(days=20)
        async with db.transaction():
            for n, user_id in enumerate(people):
                values = {
                    "type": "poster",
                    "area": "ume",
                    "title": f"Project {n}",
                    "description": "How residents and neighbours co-designed a curriculum together.",
                    "email": f"p{n}@example.org",
                }
                await proposals.create(db, platform, user_id, f"Person {n}", values, created, 5)
            if channels:
                targets = [{"platform": platform, "channel_id": cid, "name": name} for cid, name in channels]
                await db.execute(
                    "INSERT INTO announcements (text, targets, send_at, ping, status, created_by, created_at)"
                    " VALUES (?, ?, ?, 0, 'scheduled', 'Olu', ?)",
                    (
                        "📣 Sessions for the spring cohort are open: see the program and pick yours.",
                        json.dumps(targets),
                        (now - dt.timedelta(seconds=60)).isoformat(),
                        (now - dt.timedelta(days=1)).isoformat(),
                    ),
                )
    finally:
        await db.close()


def _ledger(db_path: Path) -> dict[str, Counter]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT what, status, COUNT(*) FROM deliveries"
            " WHERE what IN ('nudge', 'announcement') GROUP BY what, status"
        ).fetchall()
    found: dict[str, Counter] = {"nudge": Counter(), "announcement": Counter()}
    for what, status, count in rows:
        found[what][status] = count
    return found


async def _until_settled(db_path: Path, expected: dict[str, int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            ledger = _ledger(db_path)
        except sqlite3.Error:
            ledger = None
        if ledger is not None:
            rows = {what: sum(c.values()) for what, c in ledger.items()}
            open_ = sum(c["pending"] + c["sending"] for c in ledger.values())
            if all(rows[w] >= n for w, n in expected.items()) and not open_:
                return True
        await asyncio.sleep(0.5)
    return False


async def run_scenario(scenario: Scenario, delay: float = 0.0) -> dict[str, Any]:
    await asyncio.sleep(delay)  # staggered starts: imports are the one CPU-heavy moment
    folder = h.scratch_dir(f"fanout-{scenario.platform}")
    channel_names = [f"fanout-{k:02d}" for k in range(scenario.channels)]
    if scenario.platform == "discord":
        fake = await h.conference_guild(scenario.people, extra_channels=channel_names).start()
        people = [m["user"]["id"] for m in fake.people]
        channels = [(fake.channel(name)["id"], name) for name in channel_names]
        platform_env = h.discord_env(fake)
    else:
        fake = await h.slack_workspace(scenario.people, channels=["general", "organizers", *channel_names]).start()
        people = list(fake.people)
        channels = [(fake.channel_named(name).id, name) for name in channel_names]
        platform_env = h.slack_env(fake)
    try:
        config_path = h.write_config(folder, guild_id=getattr(fake, "guild_id", 0), delivery=scenario.delivery)
        from bot.config import load_config

        config = load_config(config_path)
        now = config.deadline - dt.timedelta(days=7) + dt.timedelta(seconds=30)  # the "7d" nudge is due
        db_path = folder / "bot.sqlite3"
        await _seed(db_path, scenario.platform, people, channels, now)
        env = h.child_env(
            **platform_env,
            BOT_CONFIG=str(config_path),
            BOT_DB=str(db_path),
            BOT_NOW=now.isoformat(),
            BOT_LOG_LEVEL="WARNING",
        )
        started = time.monotonic()
        child = await h.Child.bot(env, name=f"bot ({scenario.name})")
        expected = {"nudge": scenario.people, "announcement": scenario.channels}
        floor = scenario.people * 2 / DISCORD_LIMIT if scenario.platform == "discord" else 0.0
        rate = scenario.delivery["discord_rate" if scenario.platform == "discord" else "slack_rate"]
        within = 60 + 3 * max(floor, (scenario.people + scenario.channels) / rate)
        try:
            settled = await _until_settled(db_path, expected, within)
            await asyncio.sleep(1.5)  # a late duplicate would show up now
            cpu, memory = child.cpu_seconds(), child.memory_mib()
            warnings = Counter(line.split(" ", 3)[-1][:120] for _, line in child.lines if "WARNING" in line)
        finally:
            await child.stop(kill=True)
        ledger = _ledger(db_path)
        if scenario.platform == "discord":
            parts = _discord_parts(fake, people, channels)
        else:
            parts = _slack_parts(fake, people, channels)
        result: dict[str, Any] = {
            "platform": scenario.platform,
            "config": scenario.config,
            "delivery": scenario.delivery,
            "settled": settled,
            "bot_cpu_s": cpu,
            "bot_peak_rss_mib": memory["peak"],
            "warnings": dict(warnings.most_common(5)),
        }
        for part, what, count in (("dms", "nudge", scenario.people), ("channels", "announcement", scenario.channels)):
            found = parts[part]
            sends = count
            requests = count * (2 if part == "dms" and scenario.platform == "discord" else 1)
            limit_floor = requests / DISCORD_LIMIT if scenario.platform == "discord" else 0.0
            wall = found.pop("wall_s")
            found.update(
                targets=count,
                wall_s=wall,
                floor_s=limit_floor,
                ratio=wall / limit_floor if limit_floor and wall is not None else None,
                pacing_floor_s=(requests if scenario.platform == "discord" else sends) / rate,
                ledger=dict(ledger[what]),
                prep_s=found.pop("first_at") - started if found.get("first_at") else None,
            )
            result[part] = found
        return result
    finally:
        await fake.close()
        shutil.rmtree(folder, ignore_errors=True)


def _counts(received: Counter, expected: Sequence[str]) -> dict[str, int]:
    return {
        "delivered": sum(1 for t in expected if received[t] >= 1),
        "duplicates": sum(max(0, received[t] - 1) for t in expected),
        "losses": sum(1 for t in expected if received[t] == 0),
    }


def _discord_parts(fake: h.TimedDiscord, people: list[str], channels: list[tuple[str, str]]) -> dict[str, dict]:
    channel_ids = {int(cid) for cid, _ in channels}
    dm_times, channel_times = [], []
    by_person, by_channel = Counter(), Counter()
    for when, channel_id, body in fake.posted:
        if channel_id in channel_ids:
            channel_times.append(when)
            by_channel[str(channel_id)] += 1
            continue
        recipient = fake.dm_recipient(channel_id)
        if recipient is not None and NUDGE_MARK in str((body or {}).get("content", "")):
            dm_times.append(when)
            by_person[recipient] += 1
    limited = Counter()
    for call in fake.calls:
        if call.status != 429:
            continue
        target = call.path.split("/")[2] if call.path.startswith("/channels/") else ""
        limited["channels" if target.isdigit() and int(target) in channel_ids else "dms"] += 1
    first_dm = min(fake.dm_opened + dm_times, default=None)
    return {
        "dms": {
            **_counts(by_person, people),
            "wall_s": max(dm_times) - first_dm if dm_times and first_dm is not None else None,
            "first_at": first_dm,
            "rate_limited_429": limited["dms"],
        },
        "channels": {
            **_counts(by_channel, [cid for cid, _ in channels]),
            "wall_s": max(channel_times) - min(channel_times) if channel_times else None,
            "first_at": min(channel_times, default=None),
            "rate_limited_429": limited["channels"],
        },
    }


def _slack_parts(fake: h.TimedSlack, people: list[str], channels: list[tuple[str, str]]) -> dict[str, dict]:
    channel_ids = {cid for cid, _ in channels}
    dm_channels = {"D" + user[1:]: user for user in people}
    dm_times, channel_times, opened = [], [], []
    by_person, by_channel = Counter(), Counter()
    limited = Counter()
    for call in fake.calls:
        channel = str(call.args.get("channel", ""))
        if call.method == "conversations.open":
            opened.append(call.at)
        if call.method != "chat.postMessage":
            continue
        part = "channels" if channel in channel_ids else "dms"
        if call.status == 429:
            limited[part] += 1
        if not call.ok:
            continue
        if channel in channel_ids:
            channel_times.append(call.at)
            by_channel[channel] += 1
        elif channel in dm_channels and NUDGE_MARK in str(call.args.get("text", "")):
            dm_times.append(call.at)
            by_person[dm_channels[channel]] += 1
    first_dm = min(opened + dm_times, default=None)
    return {
        "dms": {
            **_counts(by_person, people),
            "wall_s": max(dm_times) - first_dm if dm_times and first_dm is not None else None,
            "first_at": first_dm,
            "rate_limited_429": limited["dms"],
        },
        "channels": {
            **_counts(by_channel, list(channel_ids)),
            "wall_s": max(channel_times) - min(channel_times) if channel_times else None,
            "first_at": min(channel_times, default=None),
            "rate_limited_429": limited["channels"],
        },
    }


async def _run_all(chosen: list[Scenario], stagger: float) -> list[dict[str, Any]]:
    async def one(index: int, scenario: Scenario) -> dict[str, Any]:
        found = await run_scenario(scenario, delay=index * stagger)
        dms, ch = found["dms"], found["channels"]
        print(
            f"  {scenario.name}: DMs {_s(dms['wall_s'])} (floor {_s(dms['floor_s'])}), "
            f"channels {_s(ch['wall_s'])}; duplicates {dms['duplicates'] + ch['duplicates']}, "
            f"losses {dms['losses'] + ch['losses']}, 429s {dms['rate_limited_429'] + ch['rate_limited_429']}",
            file=sys.stderr,
            flush=True,
        )
        return {"scenario": scenario.name, "people": scenario.people, "channels_n": scenario.channels, **found}

    return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(chosen))))


def run(
    sizes: Sequence[tuple[int, int]] = SIZES,
    default_sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    platforms: Sequence[str] = ("discord", "slack"),
    stagger: float = 1.5,
) -> dict[str, Any]:
    began = time.perf_counter()
    chosen = scenarios(sizes, default_sizes, platforms)
    runs = asyncio.run(_run_all(chosen, stagger))
    result = {
        "machine": machine(PACKAGES),
        "shipped": DEFAULTS,
        "tuned": TUNED,
        "target_ratio": TARGET,
        "runs": runs,
        "duration_s": time.perf_counter() - began,
    }
    result["targets"] = targets(result)
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for r in result["runs"]:
        for part in ("dms", "channels"):
            p = r[part]
            found.append(
                {
                    "scenario": r["scenario"],
                    "part": part,
                    "ratio": p["ratio"],
                    "ratio_met": None if p["ratio"] is None else p["ratio"] <= TARGET,
                    "no_duplicates": p["duplicates"] == 0,
                    "no_losses": p["losses"] == 0,
                }
            )
    return found


# -- reporting -------------------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    versions = ", ".join(f"{name} {v}" for name, v in m["packages"].items() if v)
    shipped, tuned = result["shipped"], result["tuned"]

    def conf(d: dict) -> str:
        return f"discord_rate {d['discord_rate']:g}, slack_rate {d['slack_rate']:g}, concurrency {d['concurrency']}"

    lines = [
        "## Fan-out (`python -m bench fanout`)",
        "",
        f"- date: {m['date']}; git HEAD {m['git_head'] or '?'} (working tree may differ); whole run "
        f"{result['duration_s']:.0f} s (scenarios side by side, each with its own fake and bot process)",
        f"- machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; Python {m['python']}; {versions}",
        '- the "7d" deadline nudge (a DM to each person with an unsubmitted intent) and an announcement to N '
        "channels, sent by `python -m bot run` started at their time; the fakes enforce Discord's 50 "
        "requests/s and Slack's 1 message/s per channel",
        "- wall: first request of the part to its last message; floor: what the limits imply (Discord: "
        "requests ÷ 50, a DM being two requests; Slack: none for one message per channel); pacing floor: "
        "what the configured rate implies (Discord: requests ÷ discord_rate; Slack: messages ÷ slack_rate)",
        f"- `[delivery]` shipped: {conf(shipped)}; tuned: {conf(tuned)}",
        "",
        "| platform | config | part | targets | wall | limit floor | wall ÷ floor | pacing floor | duplicates "
        "| losses | 429s | ledger | bot CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(result["runs"], key=lambda r: (r["platform"], r["config"] != "tuned", r["people"]))
    for r in ordered:
        for part in ("dms", "channels"):
            p = r[part]
            ratio = f"{p['ratio']:.2f}" if p["ratio"] is not None else "n/a"
            mark = "" if p["ratio"] is None else (" ✅" if p["ratio"] <= TARGET else " ❌")
            ledger = ", ".join(f"{k} {v}" for k, v in sorted(p["ledger"].items()))
            cpu = f"{r['bot_cpu_s']:.0f} s" if part == "dms" and r["bot_cpu_s"] is not None else ""
            lines.append(
                f"| {r['platform']} | {r['config']} | {'DMs' if part == 'dms' else 'channels'} | {p['targets']} "
                f"| {_s(p['wall_s'])} | {_s(p['floor_s']) if p['floor_s'] else 'none'} | {ratio}{mark} "
                f"| {_s(p['pacing_floor_s'])} | {p['duplicates']} | {p['losses']} | {p['rate_limited_429']} "
                f"| {ledger} | {cpu} |"
            )
    return "\n".join(lines) + "\n"
