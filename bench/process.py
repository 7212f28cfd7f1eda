"""Process benchmark: `python -m bench process`.

- Start-up: `python -m bot run` with both platforms (the fake Discord and the fake Slack), from
  spawning the process to each platform being ready (Discord: `on_ready`, "connected to Discord";
  Slack: "listening"), median of a few fresh processes; and the same command with no credentials,
  which starts the console, to its first answer.
- Memory: VmRSS when ready, and the kernel's peak (VmHWM) after the first `/faq` on each platform
  (which loads the MiniLM model) and 50 more questions; the same for the console.
- Where the memory goes: a child process loading the same modules step by step (the bot's
  imports, onnxruntime, the model session, the FAQ index, 50 questions), as shipped and with the
  model's graph as published (`cogs/faq/model_graph.int8_lookups` turned off at run time, never
  edited here: the word-embedding table dequantized to float32 when the session loads).
- Storage: the SQLite file (with its WAL, checkpointed) after 10,000 proposal intents and 100,000
  delivery rows (settled as sent, with message ids), written through the storage functions the bot
  uses; the write rates seen on the way.

Targets (reported, not asserted): start-up < 3 s; peak RSS < 300 MB.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import harness as h
from bench import machine

STARTUP_RUNS = 3
QUESTIONS = 50
INTENTS = 10_000
DELIVERIES = 100_000
STARTUP_TARGET_S = 3.0
RSS_TARGET_MB = 300.0
PACKAGES = ("discord.py", "slack-bolt", "onnxruntime", "tokenizers", "numpy", "aiosqlite")
CONSOLE_READY = re.compile(r"^Welcome to the .* bot \(console\)")
CONSOLE_ANSWER = re.compile(r"^A free virtual conference|hosted by")
CONSOLE_PRIVATE = re.compile(r"^\(only you can see this\)")
PROFILE_MARK = "BENCH-PROCESS-PROFILE "


# -- the comparison, applied at run time ---------------------------------------------------------------
def _published_graph() -> None:
    """The model loaded as published: no int8 lookup tables (what `--profile --published` measures)."""
    import cogs.faq.embedding as embedding

    embedding.int8_lookups = lambda model: None


def _status() -> dict[str, float]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            found[line[:5]] = int(line.split()[1]) / 1024
    return {"rss": found.get("VmRSS", 0.0), "peak": found.get("VmHWM", 0.0)}


def _profile(published: bool) -> int:
    """`python -m bench.process --profile [--published]`: memory after each loading step."""
    steps = [("start", _status())]
    import bot.adapters.discord
    import bot.adapters.slack
    import bot.cli  # noqa: F401
    import cogs  # noqa: F401

    steps.append(("bot, discord.py, slack-bolt, aiohttp imported", _status()))
    import onnxruntime  # noqa: F401

    if published:
        _published_graph()
    steps.append(("onnxruntime imported", _status()))
    from bot.config import load_config
    from cogs.faq.engine import FaqEngine, best_ranker
    from cogs.faq.knowledge import load_entries

    config = load_config(h.CONFIG)
    ranker, bands = best_ranker("embedding")
    steps.append(("MiniLM session created", _status()))
    engine = FaqEngine(load_entries(config.resolve(config.faq.path)), ranker, bands)
    steps.append(("FAQ indexed", _status()))
    from bench.burst import questions

    for question in questions()[:QUESTIONS]:
        engine.ask(question)
    steps.append((f"{QUESTIONS} questions answered", _status()))
    print(PROFILE_MARK + json.dumps(steps), flush=True)
    return 0


async def _profile_child(published: bool) -> list:
    args = [sys.executable, "-m", "bench.process", "--profile"] + (["--published"] if published else [])
    child = await h.Child.start(args, h.child_env(), "memory profile")
    await child.process.wait()
    await child.stop()
    found = child.find(re.compile(re.escape(PROFILE_MARK) + "(.*)"))
    if found is None:
        raise RuntimeError(f"the memory profile failed:\n{child.tail()}")
    return json.loads(found[1].group(1))


# -- `python -m bot run` with both platforms ---------------------------------------------------------------
async def _platform_run(folder: Path, index: int, *, exercise: bool, faq_engine: str | None = None) -> dict[str, Any]:
    from bench.burst import DiscordSide, SlackSide, questions
    from tests.fakes.discord_server import APPLICATION_COMMAND

    discord_fake = await h.conference_guild(QUESTIONS + 5).start()
    slack_fake = await h.slack_workspace(QUESTIONS + 5).start()
    session = aiohttp.ClientSession()
    try:
        run_folder = folder / f"run{index}"
        run_folder.mkdir()
        config = h.write_config(run_folder, guild_id=discord_fake.guild_id, faq_engine=faq_engine)
        env = h.child_env(
            **h.discord_env(discord_fake),
            **h.slack_env(slack_fake),
            BOT_CONFIG=str(config),
            BOT_DB=str(run_folder / "bot.sqlite3"),
            BOT_NOW=h.BURST_NOW.isoformat(),
            BOT_LOG_LEVEL="INFO",
        )
        args = [sys.executable, "-m", "bot", "run"]
        spawned = time.monotonic()
        child = await h.Child.start(args, env, "bot (both platforms)")

        async def first_discord_answer() -> float | None:
            """When the bot first answered a command (/about), sent as soon as it was on the gateway."""
            if not await h.until(lambda: discord_fake.connected, 30, 0.01):
                return None
            data = discord_fake.slash_data("about", {})
            general = discord_fake.channel("general")
            sent = await discord_fake.fire(APPLICATION_COMMAND, discord_fake.people[-1], general, data, name="about")
            if not await h.until(lambda: sent in discord_fake.final_at, 30, 0.01):
                return None
            return discord_fake.final_at[sent] - spawned

        answering = asyncio.create_task(first_discord_answer())
        try:
            slack_at, url = await h.slack_bot_url(child)
            discord_at, _ = await child.wait_for(h.DISCORD_READY)
            ready = {
                "discord_first_answer_s": await answering,
                "slack_s": slack_at - spawned,
                "discord_s": discord_at - spawned,
                "both_s": max(slack_at, discord_at) - spawned,
                "rss_mib": child.memory_mib()["rss"],
            }
            result: dict[str, Any] = {"ready": ready}
            if exercise:
                asked = questions()
                discord_side, slack_side = DiscordSide(discord_fake), SlackSide(slack_fake, url, session)
                first = time.monotonic()
                member = discord_fake.people[0]
                data = discord_fake.slash_data("faq ask", {"question": asked[0]})
                assert await discord_side.one((APPLICATION_COMMAND, member, data, "faq ask", None), 30)
                result["first_faq_s"] = time.monotonic() - first
                general = slack_fake.channel_named("general").id
                form = h.command_form(slack_fake, f"/faq {asked[1]}", slack_fake.people[0], general, "general")
                token = form["response_url"].rsplit("/", 1)[-1]
                assert await slack_side.one((h.urlencoded(form), "application/x-www-form-urlencoded", token), 30)
                payloads = [
                    (
                        APPLICATION_COMMAND,
                        discord_fake.people[1 + k],
                        discord_fake.slash_data("faq ask", {"question": asked[k % len(asked)]}),
                        "faq ask",
                        None,
                    )
                    for k in range(QUESTIONS)
                ]
                burst = await discord_side.burst(payloads, 20)
                result["faq_burst_complete"] = burst["complete"]
                result["after_faq"] = child.memory_mib()
        finally:
            stopping = time.monotonic()
            code = await child.stop()
            result_stop = {"shutdown_s": time.monotonic() - stopping, "exit_code": code}
        result.update(result_stop)
        return result
    finally:
        await session.close()
        await discord_fake.close()
        await slack_fake.close()


async def _console_run(folder: Path, faq_engine: str | None = None) -> dict[str, Any]:
    run_folder = folder / "console"
    run_folder.mkdir()
    config = h.write_config(run_folder, faq_engine=faq_engine)
    env = h.child_env(BOT_CONFIG=str(config), BOT_DB=str(run_folder / "bot.sqlite3"), BOT_NOW=h.BURST_NOW.isoformat())
    spawned = time.monotonic()
    child = await h.Child.start([sys.executable, "-m", "bot", "run"], env, "bot (console)", stdin=True)
    try:
        child.process.stdin.write(b"/about\n")
        await child.process.stdin.drain()
        ready_at, _ = await child.wait_for(CONSOLE_READY)
        answer_at, _ = await child.wait_for(CONSOLE_ANSWER)
        result = {"ready_s": ready_at - spawned, "first_answer_s": answer_at - spawned, "rss_mib": child.memory_mib()}
        count = len(child.lines)
        child.process.stdin.write(b"/faq when is the proposal deadline\n")
        await child.process.stdin.drain()
        await h.until(lambda: any(CONSOLE_PRIVATE.search(line) for _, line in list(child.lines)[count:]), 30, 0.05)
        result["after_faq"] = child.memory_mib()
        child.process.stdin.close()
        await asyncio.wait_for(child.process.wait(), 15)
    finally:
        await child.stop()
    return result


# -- storage --------------------------------------------------------------------------------------------------
def _intent(n: int) -> tuple[str, str, str, dict[str, str]]:
    """(platform, user id, display name, values) of a realistic intent."""
    values = {
        "type": ("poster", "narrative", "workshop", "fireside")[n % 4],
        "area": ("ume", "gme", "community")[n % 3],
        "title": f"Co-designing an anti-racist curriculum with our community, part {n}",
        "description": "How residents, students and neighbours rewrote three cases together, and what "
        "changed in how we teach race in clinical reasoning. " * 2,
        "co_presenters": "Dana Reyes (faculty), Sam Okafor (community partner)",
        "email": f"person{n}@example.org",
        "affiliation": "Second-year medical student, Icahn Mount Sinai",
    }
    platform = "discord" if n % 2 else "slack"
    user_id = f"{1_100_000_000_000_000_000 + n}" if platform == "discord" else f"U{n:08d}"
    return platform, user_id, f"Person {n}", values


async def storage_size(folder: Path, intents: int = INTENTS, deliveries: int = DELIVERIES) -> dict[str, Any]:
    """The database after `intents` intents and `deliveries` delivery rows, written as the bot writes them."""
    from storage import deliveries as ledger
    from storage import proposals
    from storage.db import Database

    path = folder / "size.sqlite3"
    db = await Database.open(path)
    now = h.BURST_NOW
    result: dict[str, Any] = {"intents": intents, "deliveries": deliveries}
    try:
        timed = min(intents, 2000)
        started = time.perf_counter()
        for n in range(timed):  # one statement (its own transaction) each, as a submission does
            await proposals.create(db, *_intent(n), now, 5)
        result["intent_writes_per_s"] = timed / (time.perf_counter() - started)
        async with db.transaction():  # the rest, the same rows, in one go
            for n in range(timed, intents):
                await proposals.create(db, *_intent(n), now, 5)

        per_occurrence = min(deliveries, 5000)
        targets = [f"user:{1_100_000_000_000_000_000 + n}" for n in range(per_occurrence)]
        started = time.perf_counter()  # expanding an occurrence: its rows in one transaction
        await ledger.record(db, "nudge", "bench-0", "discord", targets, now, now)
        result["ledger_rows_per_s"] = per_occurrence / (time.perf_counter() - started)
        stamp = now.isoformat()
        rest = [
            ("nudge", f"bench-{k}", ("slack", "discord")[k % 2], target, stamp, "pending", "", stamp)
            for k in range(1, -(-deliveries // per_occurrence))
            for target in targets
        ][: deliveries - per_occurrence]
        async with db.transaction():  # the same rows ledger.record writes, in one go
            await db.conn.executemany(
                "INSERT INTO deliveries (what, occurrence, platform, target, due_at, status, detail, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rest,
            )

        rows = await db.fetchall("SELECT id FROM deliveries ORDER BY id")
        started, sample = time.perf_counter(), rows[:5000]
        for row in sample:  # claim then settle, one statement each, as a send does
            await ledger.claim(db, row["id"], now)
            await ledger.settle(db, row["id"], "sent", now, message_id=f"{1_200_000_000_000_000_000 + row['id']}")
        result["sends_settled_per_s"] = len(sample) / (time.perf_counter() - started)
        await db.execute(  # the rest settled in one statement: the same final content, faster
            "UPDATE deliveries SET status = 'sent', attempts = 1, message_id = CAST(1200000000000000000 + id AS TEXT),"
            " updated_at = ? WHERE status = 'pending'",
            (now.isoformat(),),
        )
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = await db.fetchone("SELECT (SELECT COUNT(*) FROM intents) AS i, (SELECT COUNT(*) FROM deliveries) AS d")
        result["rows"] = {"intents": counts["i"], "deliveries": counts["d"]}
    finally:
        await db.close()
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    result["file_mib"] = sum(p.stat().st_size for p in files if p.exists()) / 2**20
    result["main_file_mib"] = path.stat().st_size / 2**20
    return result


# -- the benchmark ----------------------------------------------------------------------------------------------
def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def _run(startup_runs: int, intents: int, deliveries: int, profile: bool, faq_engine: str | None) -> dict:
    folder = h.scratch_dir("process")
    try:
        runs = [await _platform_run(folder, 0, exercise=True, faq_engine=faq_engine)]
        runs += [await _platform_run(folder, k, exercise=False, faq_engine=faq_engine) for k in range(1, startup_runs)]
        result: dict[str, Any] = {
            "startup_runs": startup_runs,
            "runs": runs,
            "startup": {
                key: _spread([r["ready"][key] for r in runs if r["ready"][key] is not None])
                for key in ("slack_s", "discord_first_answer_s", "discord_s", "both_s")
            },
            "console": await _console_run(folder, faq_engine),
        }
        if profile:
            shipped, published = await asyncio.gather(_profile_child(False), _profile_child(True))
            result["profile"] = {"shipped": shipped, "published_graph": published}
        result["storage"] = await storage_size(folder, intents, deliveries)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(
    startup_runs: int = STARTUP_RUNS,
    intents: int = INTENTS,
    deliveries: int = DELIVERIES,
    profile: bool = True,
    faq_engine: str | None = None,
) -> dict[str, Any]:
    began = time.perf_counter()
    result = {"machine": machine(PACKAGES)}
    result.update(asyncio.run(_run(startup_runs, intents, deliveries, profile, faq_engine)))
    peak = result["runs"][0].get("after_faq", {}).get("peak")
    result["targets"] = {
        "startup_s": {
            "value": result["startup"]["both_s"]["median"],
            "limit": STARTUP_TARGET_S,
            "met": result["startup"]["both_s"]["median"] < STARTUP_TARGET_S,
        },
        "peak_rss_mib": {"value": peak, "limit": RSS_TARGET_MB, "met": peak is not None and peak < RSS_TARGET_MB},
    }
    result["duration_s"] = time.perf_counter() - began
    return result


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} MiB"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    versions = ", ".join(f"{name} {v}" for name, v in m["packages"].items() if v)
    first = result["runs"][0]
    start = result["startup"]
    console = result["console"]
    t = result["targets"]
    lines = [
        "## Process (`python -m bench process`)",
        "",
        f"- date: {m['date']}; git HEAD {m['git_head'] or '?'} (working tree may differ); whole run "
        f"{result['duration_s']:.0f} s",
        f"- machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; Python {m['python']}; {versions}",
        f"- `python -m bot run` with both platforms on the fakes, {result['startup_runs']} fresh processes "
        "(median, min–max); memory: VmRSS when ready, then the kernel's peak (VmHWM) after the first /faq on "
        f"each platform (the MiniLM model loads) and {QUESTIONS} more questions",
        "",
        "| | Slack listening | Discord: first command answered | Discord ready (port registered) | both ready "
        "| RSS when ready | peak RSS after /faq | first /faq (model load) | graceful stop |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| both platforms | {_sp(start['slack_s'])} | {_sp(start['discord_first_answer_s'])} "
        f"| {_sp(start['discord_s'])} | {_sp(start['both_s'])} "
        f"| {_mib(first['ready']['rss_mib'])} | {_mib(first.get('after_faq', {}).get('peak'))} "
        f"| {first.get('first_faq_s', 0):.2f} s | {first['shutdown_s']:.2f} s |",
    ]
    lines += [
        f"| console (no credentials) | – | – | – | {console['ready_s']:.2f} s (first answer "
        f"{console['first_answer_s']:.2f} s) | {_mib(console['rss_mib']['rss'])} "
        f"| {_mib(console['after_faq']['peak'])} | – | – |",
        "",
        "Discord is ready when the configured server is available (`on_guild_available`), not at `on_ready`, "
        "which discord.py holds back 2 s (`guild_ready_timeout`) for servers this bot is never in. The first "
        "/faq builds the knowledge base's vectors; they are then kept next to the database, so after a restart "
        "it only loads the model.",
        "",
        f"Targets: start-up < {t['startup_s']['limit']:.0f} s: {t['startup_s']['value']:.2f} s "
        f"{'✅' if t['startup_s']['met'] else '❌'}; peak RSS < {t['peak_rss_mib']['limit']:.0f} MB: "
        f"{_mib(t['peak_rss_mib']['value'])} {'✅' if t['peak_rss_mib']['met'] else '❌'}.",
    ]
    profile = result.get("profile")
    if profile and "published_graph" in profile:
        lines += [
            "",
            "Where the memory goes (one process loading step by step; RSS / peak so far). As shipped, the "
            "word-embedding table stays int8 (`cogs/faq/model_graph.py`, the same vectors bit for bit); as "
            "published, onnxruntime dequantizes it to float32 when the session loads:",
            "",
            "| step | as shipped | the model's graph as published |",
            "|---|---|---|",
        ]
        for (step, shipped), (_, published) in zip(profile["shipped"], profile["published_graph"], strict=True):
            lines.append(
                f"| {step} | {shipped['rss']:.0f} / {shipped['peak']:.0f} MiB "
                f"| {published['rss']:.0f} / {published['peak']:.0f} MiB |"
            )
    s = result["storage"]
    lines += [
        "",
        f"Storage: {s['rows']['intents']:,} intents and {s['rows']['deliveries']:,} delivery rows (settled as "
        f"sent): **{s['file_mib']:.1f} MiB** (main file {s['main_file_mib']:.1f} MiB after a WAL checkpoint). "
        f"Write rates on the way: {s['intent_writes_per_s']:,.0f} intents/s (one statement each), "
        f"{s['ledger_rows_per_s']:,.0f} ledger rows/s (an occurrence expanded in one transaction), "
        f"{s['sends_settled_per_s']:,.0f} sends claimed and settled/s (two statements each).",
    ]
    return "\n".join(lines) + "\n"


def _sp(spread: dict[str, float]) -> str:
    return f"{spread['median']:.2f} s ({spread['min']:.2f}–{spread['max']:.2f})"


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--profile"]:
        return _profile("--published" in argv)
    sys.exit("internal entry point; run the benchmark with: python -m bench process")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
