"""Shared machinery for the platform benchmarks (burst, fanout, process).

- The in-repo fakes (tests/fakes) with timing hooks, subclassed here and never edited: when each
  interaction went out and was answered on the fake Discord, when each response_url or modal
  arrived on the fake Slack, when each message was posted, and every 429 either one answered.
- A scratch conference: config.toml with the fake guild, `[delivery]` values and FAQ engine
  chosen per run, next to copies of faq.toml and program.toml.
- `python -m bot run` (or a bare app) as a child process: its output read as it comes, its
  peak RSS (the kernel's VmHWM) and CPU time read from /proc.
- Slack requests signed with the signing secret, as Slack sends them.

The fakes run in the benchmark's own process, which also generates the load; the bot runs in a
child, so on a 2-core machine each side has a core. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from bench import ROOT, percentile
from tests.fakes.discord_server import CALL, DEFERRED_MESSAGE, DM, MANAGE_EVENTS, FakeDiscord
from tests.fakes.slack_server import FakeSlack

HOST = "127.0.0.1"
CONFIG = ROOT / "config.toml"
DISCORD_TOKEN = "bench-discord-token"
SLACK_SIGNING_SECRET = "bench-signing-secret-0123456789ab"
# Three weeks before the shipped deadline (2023-06-30): proposals are open, no reminder is due.
BURST_NOW = dt.datetime(2023, 6, 9, 13, 0, tzinfo=dt.UTC)
ORGANIZER_ROLE = "Organizer"


# -- small statistics ------------------------------------------------------------------------------
def latency_ms(seconds: Sequence[float | None], cap: float | None = None) -> dict[str, Any]:
    """p50/p95/p99/max in ms of `seconds`; None is a request that got no answer within `cap`
    (counted as slower than everything, so a percentile that lands on one reads as None)."""
    finite = [s * 1000 for s in seconds if s is not None]
    missing = len(seconds) - len(finite)
    ordered = sorted(finite) + [float("inf")] * missing
    result: dict[str, Any] = {"n": len(seconds), "answered": len(finite), "missing": missing}
    for pct in (50, 95, 99):
        value = percentile(ordered, pct) if ordered else float("nan")
        result[f"p{pct}"] = None if value == float("inf") else value
    result["max"] = None if missing else (max(finite) if finite else None)
    result["mean"] = statistics.fmean(finite) if finite else None
    if cap is not None:
        result["cap_s"] = cap
    return result


# -- the fake Discord, timed -----------------------------------------------------------------------
class TimedDiscord(FakeDiscord):
    """The fake Discord, noting when each interaction went out and was answered, and when each
    message was posted (time.monotonic, this process)."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.sent_at: dict[int, float] = {}  # interaction id -> INTERACTION_CREATE written to the gateway
        self.acked_at: dict[int, float] = {}  # the first callback (a reply, a modal, or "thinking…")
        self.final_at: dict[int, float] = {}  # the answer itself: a non-deferred callback or the first followup
        self._token_ids: dict[str, int] = {}
        self.posted: list[tuple[float, int, dict]] = []  # (when, channel id, message payload) of bot posts
        self.dm_opened: list[float] = []

    async def _send_event(self, session, name: str, data: dict) -> None:
        if name == "INTERACTION_CREATE":
            self.sent_at[int(data["id"])] = time.monotonic()
            self._token_ids[data["token"]] = int(data["id"])
        await super()._send_event(session, name, data)

    async def _callback(self, request: web.Request) -> web.Response:
        response = await super()._callback(request)  # an error (late, twice) raises past the notes
        now = time.monotonic()
        interaction_id = int(request.match_info["interaction_id"])
        self.acked_at.setdefault(interaction_id, now)
        if self.interactions[interaction_id].response_type != DEFERRED_MESSAGE:
            self.final_at.setdefault(interaction_id, now)
        return response

    async def _followup(self, request: web.Request) -> web.Response:
        response = await super()._followup(request)
        interaction_id = self._token_ids.get(request.match_info["token"])
        if interaction_id is not None:
            self.final_at.setdefault(interaction_id, time.monotonic())
        return response

    async def _post_message(self, request: web.Request) -> web.Response:
        response = await super()._post_message(request)
        if response.status == 200:
            self.posted.append((time.monotonic(), int(request.match_info["channel_id"]), request[CALL].json))
        return response

    async def _create_dm(self, request: web.Request) -> web.Response:
        self.dm_opened.append(time.monotonic())
        return await super()._create_dm(request)

    # -- acting as many members at once ------------------------------------------------------------
    async def fire(self, kind: int, member: dict, channel: dict, data: dict, *, name: str = "", message=None) -> int:
        """Send one interaction without waiting for its answer; returns its id."""
        interaction = await self._interact(kind, member, channel, data, name=name, message=message)
        return interaction.id

    def slash_data(self, name: str, options: dict[str, Any]) -> dict:
        return self._command_data(self.command(name), name, options)

    def bot_message(self, channel: dict, body: dict):
        """A message from the bot stored as if it had posted it (e.g. one carrying a button)."""
        return self._store_message(int(channel["id"]), self.bot_user, body)

    def forget_interactions(self) -> None:
        """Drop finished interactions (the fake finds followups by scanning them all)."""
        self.interactions.clear()
        self._token_ids.clear()

    def status_count(self, status: int, since: int = 0) -> int:
        return sum(1 for call in self.calls[since:] if call.status == status)

    def dm_recipient(self, channel_id: int) -> str | None:
        channel = self.channels.get(channel_id)
        if channel is None or channel["type"] != DM:
            return None
        return channel["recipients"][0]["id"]


def conference_guild(members: int, *, extra_channels: Iterable[str] = (), announcements: bool = False) -> TimedDiscord:
    """The fake server the benchmarks use: `members` people named p0, p1…, an organizer (olu), the
    general/help/organizers channels (announcements only when asked: its reminders would fire)."""
    from bot.adapters.discord import REQUIRED_PERMISSIONS

    fake = TimedDiscord(token=DISCORD_TOKEN, guild_name="Challenging Norms", bot_permissions=REQUIRED_PERMISSIONS.value)
    fake.add_role(ORGANIZER_ROLE, permissions=MANAGE_EVENTS, position=2)
    fake.add_role("Announcements", position=1)
    fake.people = [fake.add_member(f"p{n}") for n in range(members)]  # type: ignore[attr-defined]
    fake.add_member("olu", roles=[ORGANIZER_ROLE])
    fake.add_channel("Conference", type=4)
    names = ["general", "help", "organizers"] + (["announcements"] if announcements else [])
    for name in names:
        fake.add_channel(name, parent="Conference", private=name == "organizers")
    for name in extra_channels:
        fake.add_channel(name)
    return fake


# -- the fake Slack, timed -------------------------------------------------------------------------
class TimedSlack(FakeSlack):
    """The fake Slack, noting when each response_url post and each modal arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.response_at: dict[str, float] = {}  # response_url token -> first accepted post
        self.views_at: dict[str, float] = {}  # trigger_id -> views.open

    async def _response_url(self, request: web.Request) -> web.Response:
        response = await super()._response_url(request)
        if response.status == 200:
            self.response_at.setdefault(request.match_info["token"], time.monotonic())
        return response

    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        opened = super().m_views_open(args)
        self.views_at.setdefault(str(args.get("trigger_id", "")), time.monotonic())
        return opened

    def status_count(self, status: int, since: int = 0) -> int:
        return sum(1 for call in self.calls[since:] if call.status == status)


def slack_workspace(people: int, *, channels: Iterable[str] = ("general", "help", "organizers")) -> TimedSlack:
    fake = TimedSlack()
    fake.people = [fake.add_user(f"U{n:08d}", f"Person {n}") for n in range(people)]  # type: ignore[attr-defined]
    for name in channels:
        fake.add_channel(name, members=tuple(fake.people[:50]))  # type: ignore[attr-defined]
    return fake


def signed(body: str, content_type: str, secret: str = SLACK_SIGNING_SECRET) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


def command_form(fake: FakeSlack, line: str, user: str, channel_id: str, channel_name: str) -> dict[str, str]:
    """A slash command request's fields, with a fresh response_url and trigger_id."""
    word, _, text = line.strip().lstrip("/").partition(" ")
    return {
        "token": "legacy",
        "team_id": FakeSlack.TEAM,
        "team_domain": "fake-team",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": fake.users[user]["name"],
        "command": f"/{word}",
        "text": text,
        "api_app_id": FakeSlack.APP_ID,
        "is_enterprise_install": "false",
        "response_url": fake.response_url(channel_id, user),
        "trigger_id": fake.trigger(),
    }


def urlencoded(fields: dict[str, str]) -> str:
    return urllib.parse.urlencode(fields)


# -- a scratch conference --------------------------------------------------------------------------
def scratch_dir(prefix: str) -> Path:
    """A fresh folder under $TMPDIR (removed by the caller with `shutil.rmtree`)."""
    return Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))


def write_config(
    folder: Path,
    *,
    guild_id: int = 0,
    delivery: dict[str, float] | None = None,
    faq_engine: str | None = None,
) -> Path:
    """config.toml as shipped, with these values changed, next to copies of the files it names."""
    from bot.config import load_config

    text = CONFIG.read_text("utf-8")
    changes: dict[str, Any] = {"guild_id": guild_id, **(delivery or {})}
    if faq_engine:
        changes["engine"] = f'"{faq_engine}"'
    for key, value in changes.items():
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        if count != 1:
            raise ValueError(f"config.toml: expected one `{key} = …` line, found {count}")
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    for name in ("faq.toml", "program.toml"):
        shutil.copy(ROOT / name, folder / name)
    config = load_config(path)  # the file must still be valid, with the values asked for
    for key, value in (delivery or {}).items():
        assert getattr(config.delivery, key) == value, key
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: this one without platform, bot and proxy settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DISCORD_", "BOT_")) and k.lower() not in _PROXIES
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


_PROXIES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def discord_env(fake: FakeDiscord) -> dict[str, str]:
    return {"DISCORD_TOKEN": DISCORD_TOKEN, "DISCORD_API_URL": fake.api_url, "DISCORD_GATEWAY_URL": fake.gateway_url}


def slack_env(fake: FakeSlack) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": FakeSlack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SLACK_SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "SLACK_HOST": HOST,
        "SLACK_PORT": "0",
    }


# -- child processes -------------------------------------------------------------------------------
SLACK_LISTENING = re.compile(r"Slack \(HTTP mode\) listening on (http://127\.0\.0\.1:\d+/\S+)")
DISCORD_READY = re.compile(r"connected to Discord as")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Child:
    """A child process whose stdout and stderr lines are collected (with their arrival time)."""

    def __init__(self, process: asyncio.subprocess.Process, name: str):
        self.process = process
        self.name = name
        self.started = time.monotonic()
        self.lines: collections.deque[tuple[float, str]] = collections.deque(maxlen=20000)
        self._changed = asyncio.Event()
        self._readers = [
            asyncio.create_task(self._read(stream)) for stream in (process.stdout, process.stderr) if stream
        ]

    @classmethod
    async def start(cls, args: Sequence[str], env: dict[str, str], name: str, *, stdin: bool = False) -> Child:
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, name)

    @classmethod
    async def bot(cls, env: dict[str, str], name: str = "bot", module: str = "bot", *args: str) -> Child:
        """`python -m bot run` (or another module taking the same arguments)."""
        return await cls.start([sys.executable, "-m", module, "run", *args], env, name)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append((time.monotonic(), line.decode("utf-8", "replace").rstrip()))
            self._changed.set()
        self._changed.set()

    def find(self, pattern: re.Pattern) -> tuple[float, re.Match] | None:
        for when, line in self.lines:
            match = pattern.search(line)
            if match:
                return when, match
        return None

    async def wait_for(self, pattern: re.Pattern, within: float = 30.0) -> tuple[float, re.Match]:
        """When the first line matching `pattern` arrived, and the match; fails loudly if the process
        ends or `within` passes first."""
        deadline = time.monotonic() + within
        while True:
            found = self.find(pattern)
            if found:
                return found
            if self.process.returncode is not None and all(r.done() for r in self._readers):
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}) first:\n{self.tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"{self.name}: no line matching {pattern.pattern!r} within {within} s:\n{self.tail()}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
            except TimeoutError:
                pass

    def tail(self, count: int = 30) -> str:
        return "\n".join(line for _, line in list(self.lines)[-count:])

    def memory_mib(self) -> dict[str, float | None]:
        """Current and peak resident set size (VmRSS, VmHWM); None once the process is gone."""
        found: dict[str, float | None] = {"rss": None, "peak": None}
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return found
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found["rss"] = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                found["peak"] = int(line.split()[1]) / 1024
        return found

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    async def stop(self, *, kill: bool = False, grace: float = 30.0) -> int:
        """SIGINT and wait (SIGKILL after `grace`; the bot bounds its own stop at 20 s), or SIGKILL at once;
        returns the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        return self.process.returncode


async def slack_bot_url(child: Child, within: float = 30.0) -> tuple[float, str]:
    when, match = await child.wait_for(SLACK_LISTENING, within)
    return when, match.group(1)


async def until(predicate, within: float, interval: float = 0.02) -> bool:
    """Poll `predicate` until it holds (True) or `within` seconds pass (False)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True
