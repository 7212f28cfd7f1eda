"""Shared pieces of the end-to-end tests: the bot as a subprocess (`python -m bot run`, Slack HTTP
mode) against an in-process fake Slack that can be made slow, signed requests as Slack sends them,
and a rehearsal clock that moves forward across restarts.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.adapters.slack_fixtures import (
    SIGNING_SECRET,
    command_payload,
    event_payload,
    signed_headers,
    submission_payload,
)
from tests.conftest import CONFIG_PATH, ROOT
from tests.fakes.slack_server import Call, FakeSlack

ORGANIZER = "UORG00001"
FORM = "application/x-www-form-urlencoded"
NEW_YORK = dt.timezone(dt.timedelta(hours=-4))  # the conference's zone in summer (EDT)


# -- a fake Slack that can be slow -------------------------------------------------------------------
ARGS = web.RequestKey("e2e_args", tuple)


@dataclass
class Lag:
    method: str
    seconds: float
    after: bool  # act first, then answer late (the answer is what is slow); else wait, then act
    times: int | None
    when: Callable[[dict[str, Any]], bool] | None


class SlowSlack(FakeSlack):
    """The fake Slack, with Web API methods (and response_url posts) that can be made slow.

    A lag `before` a method acts models Slack being busy: a client killed meanwhile leaves a request
    that Slack still carries out (aiohttp keeps running the handler after the client is gone), as
    Slack would. A lag `after` models a late answer: the effect is there, the caller does not know yet.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lags: list[Lag] = []
        self._drops: list[Lag] = []
        self.response_lag = 0.0
        self.response_failures: list[tuple[int, bool]] = []  # (status, after it took effect), next first

    def lag(
        self,
        method: str,
        seconds: float,
        *,
        after: bool = False,
        times: int | None = None,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self._lags.append(Lag(method, seconds, after, times, when))

    def drop(self, method: str, *, times: int = 1, when: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """The next `times` calls of `method` take effect, then the connection drops before the answer."""
        self._drops.append(Lag(method, 0.0, True, times, when))

    def clear_lags(self) -> None:
        self._lags.clear()
        self._drops.clear()
        self.response_lag = 0.0
        self.response_failures.clear()

    async def _take_lag(self, method: str, request: web.Request, lags: list[Lag] | None = None) -> Lag | None:
        for lag in self._lags if lags is None else lags:
            if lag.method != method or (lag.times is not None and lag.times <= 0):
                continue
            if lag.when is not None:
                args, _ = await self._read_args(request)
                if not lag.when(args):
                    continue
            if lag.times is not None:
                lag.times -= 1
            return lag
        return None

    async def _read_args(self, request: web.Request) -> tuple[dict[str, Any], str]:
        if ARGS not in request:  # once per request: the body can be read only once
            request[ARGS] = await super()._read_args(request)
        return request[ARGS]

    async def _api(self, request: web.Request) -> web.Response:
        await self._read_args(request)  # the request arrived whole, whatever happens to its sender meanwhile
        lag = await self._take_lag(request.match_info["method"], request)
        if lag and not lag.after:
            await asyncio.sleep(lag.seconds)
        response = await super()._api(request)
        if lag and lag.after:
            await asyncio.sleep(lag.seconds)
        if await self._take_lag(request.match_info["method"], request, self._drops):
            request.transport.abort()  # done, but the caller never hears it
        return response

    async def _response_url(self, request: web.Request) -> web.Response:
        await request.read()
        if self.response_lag:
            await asyncio.sleep(self.response_lag)
        status, after = self.response_failures.pop(0) if self.response_failures else (200, False)
        if status != 200 and not after:
            token = request.match_info["token"]
            self.calls.append(
                Call("response_url", await request.json(), status=status, error="internal_error", target=token)
            )
            return web.Response(status=status, text="internal_error")
        response = await super()._response_url(request)
        if status != 200 and response.status == 200:  # it was posted; the answer says it failed
            self.calls[-1].status, self.calls[-1].error = status, "internal_error"
            return web.Response(status=status, text="internal_error")
        return response

    # -- reading back ------------------------------------------------------------------------------------
    def bot_posts(self, channel_id: str) -> list[dict[str, Any]]:
        channel = self.channels.get(channel_id)
        return [m for m in channel.messages if m.get("bot_id")] if channel else []

    def dm_posts(self, user_id: str) -> list[dict[str, Any]]:
        return self.bot_posts("D" + user_id[1:])


def marker(message: dict[str, Any]) -> str:
    """The delivery marker the bot put in a Slack message's metadata ('' if none)."""
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "")


def visible_text(call_or_message: Call | dict[str, Any]) -> str:
    args = call_or_message.args if isinstance(call_or_message, Call) else call_or_message
    parts = [str(args.get("text", ""))]
    parts += [json.dumps(block, ensure_ascii=False) for block in args.get("blocks") or []]
    return "\n".join(parts)


def buttons_in(args: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons of a message (or response_url payload), by label."""
    return {
        e["text"]["text"]: e
        for block in args.get("blocks") or []
        if block.get("type") == "actions"
        for e in block["elements"]
    }


# -- the configuration and the environment -------------------------------------------------------------
def write_config(folder: Path, *replacements: tuple[str, str]) -> Path:
    """The shipped config in `folder` (with its FAQ and program), with Slack organizers set and
    `replacements` (old, new) applied to its text."""
    text = CONFIG_PATH.read_text().replace("organizer_user_ids = []", f'organizer_user_ids = ["{ORGANIZER}"]')
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "config.toml"
    path.write_text(text)
    for name in ("faq.toml", "program.toml"):
        (folder / name).write_text((ROOT / name).read_text())
    return path


def bot_env(fake: FakeSlack, config_path: Path, db_path: Path, now: dt.datetime) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "BOT_"))}
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)  # every request goes to 127.0.0.1 directly
    env.update(
        SLACK_BOT_TOKEN=FakeSlack.BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        SLACK_HOST="127.0.0.1",
        SLACK_PORT="0",
        BOT_CONFIG=str(config_path),
        BOT_DB=str(db_path),
        BOT_NOW=now.isoformat(),
        BOT_LOG_LEVEL="INFO",
    )
    return env


class Rehearsal:
    """The bot's clock across restarts: it keeps running from where the last process left it (a
    restart does not take it back), and can jump forward."""

    def __init__(self, start: dt.datetime):
        self._base = start
        self._real = time.monotonic()

    def now(self) -> dt.datetime:
        return self._base + dt.timedelta(seconds=time.monotonic() - self._real)

    def jump_to(self, when: dt.datetime) -> dt.datetime:
        self._base, self._real = when, time.monotonic()
        return when


# -- the bot as a subprocess -----------------------------------------------------------------------------
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/slack/events")


@dataclass
class BotProcess:
    """`python -m bot run` serving Slack in HTTP mode; `log` collects its stderr."""

    env: dict[str, str]
    log: list[str] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    url: str = ""
    _drain: asyncio.Task | None = None

    async def start(self, within: float = 60.0) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        port = await asyncio.wait_for(self._listening(), within)
        self._drain = asyncio.create_task(self._collect())
        self.url = f"http://127.0.0.1:{port}/slack/events"
        return self

    async def _listening(self) -> int:
        while True:
            line = (await self.process.stderr.readline()).decode()
            if not line:
                raise AssertionError("the bot exited before listening:\n" + "\n".join(self.log))
            self.log.append(line.rstrip())
            match = LISTENING.search(line)
            if match:
                return int(match.group(1))

    async def _collect(self) -> None:
        while line := await self.process.stderr.readline():
            self.log.append(line.decode().rstrip())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the machine or the OOM killer stops it."""
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self._finish()

    async def stop(self) -> int:
        """SIGINT, as a person pressing Ctrl-C (or a service manager) would."""
        if self.running:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._finish()
        return self.process.returncode

    async def _finish(self) -> None:
        if self._drain is not None:
            await asyncio.wait_for(self._drain, 10)
            self._drain = None


async def wait_until(check: Callable[[], bool], within: float, poll: float = 0.01) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return True
        await asyncio.sleep(poll)
    return check()


# -- talking to the served bot the way Slack does ---------------------------------------------------------
@dataclass
class Answer:
    status: int
    text: str
    response_url: str = ""
    trigger_id: str = ""

    def json(self) -> dict[str, Any]:
        return json.loads(self.text) if self.text else {}

    @property
    def token(self) -> str:
        return self.response_url.rsplit("/", 1)[-1]


class SlackRequests:
    """Signed requests to whichever bot process is serving now (`url` changes on restart)."""

    def __init__(self, fake: FakeSlack, session: aiohttp.ClientSession):
        self.fake = fake
        self.session = session
        self.url = ""

    async def post(self, body: str, content_type: str, headers: dict | None = None) -> Answer:
        sent = {**signed_headers(body, content_type), **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=sent) as response:
            return Answer(response.status, await response.text())

    async def command(self, line: str, user: str, channel: str) -> Answer:
        """A slash command typed by `user` in the channel named (or with the id) `channel`."""
        channel_id = self.channel_id(channel)
        name = self.fake.channels[channel_id].name if channel_id in self.fake.channels else ""
        form = command_payload(self.fake, line, user, channel_id, name)
        answer = await self.post(urllib.parse.urlencode(form), FORM)
        answer.response_url, answer.trigger_id = form["response_url"], form["trigger_id"]
        return answer

    async def submit(self, view: dict[str, Any], values: dict[str, Any], user: str) -> Answer:
        payload = submission_payload(self.fake, view, values, user)
        return await self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), FORM)

    async def click(self, element: dict[str, Any], user: str, channel: str) -> Answer:
        channel_id = self.channel_id(channel)
        response_url, trigger_id = self.fake.response_url(channel_id, user), self.fake.trigger()
        payload = {
            "type": "block_actions",
            "team": {"id": FakeSlack.TEAM, "domain": "fake-team"},
            "user": {"id": user, "username": self.fake.users[user]["name"], "team_id": FakeSlack.TEAM},
            "api_app_id": FakeSlack.APP_ID,
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": "1.000001", "channel_id": channel_id},
            "trigger_id": trigger_id,
            "channel": {"id": channel_id, "name": channel},
            "message": {"type": "message", "ts": "1.000001", "text": "…"},
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": element["action_id"],
                    "block_id": "b1",
                    "text": element["text"],
                    **({"value": element["value"]} if "value" in element else {}),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        answer = await self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}), FORM)
        answer.response_url, answer.trigger_id = response_url, trigger_id
        return answer

    async def event(self, event: dict[str, Any], event_id: str, retry: int = 0) -> Answer:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(json.dumps(event_payload(event, event_id)), "application/json", headers)

    def channel_id(self, channel: str) -> str:
        if channel in self.fake.channels or channel.startswith("D"):
            return channel
        return self.fake.channel_named(channel).id

    async def modal(self, answer: Answer, within: float = 5.0) -> dict[str, Any]:
        """The view the bot opened with this request's trigger_id."""
        call = await self.fake.wait_for("views.open", lambda c: c.args.get("trigger_id") == answer.trigger_id, within)
        return call.response["view"]

    async def reply(self, answer: Answer, within: float = 10.0) -> Call:
        """The (first) response_url post answering a request."""
        return await self.fake.wait_for("response_url", lambda c: c.target == answer.token, within)

    def replies(self, answer: Answer) -> list[Call]:
        return [c for c in self.fake.calls_to("response_url") if c.target == answer.token]


# -- the database after the fact ------------------------------------------------------------------------
def integrity(db_path: Path) -> str:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def query(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the database of a stopped (or killed) bot; WAL content not yet checkpointed included."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
