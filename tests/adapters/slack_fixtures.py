"""Shared pieces of the Slack adapter tests: the fake Slack, the real adapter served on loopback,
signed requests as Slack sends them, and a probe cog exercising every kind of outcome.

A test module binds the fixtures it uses by name, e.g. `probe = slack_fixtures.probe` (pytest finds
fixtures in the module's namespace; tests/adapters/conftest.py belongs to the Discord tests).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack_port import Pacer
from bot.app import App
from bot.config import Config, SlackSettings
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    FieldKind,
    File,
    Form,
    FormErrors,
    FormField,
    Option,
    OptionKind,
    Permission,
    Reply,
    Timestamp,
)
from bot.core.registry import button, command, form_builder, form_handler, listener
from cogs.general import GeneralCog
from storage.db import Database
from tests.fakes.slack_server import Call, FakeSlack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PARTICIPANT = "UPART0001"
ORGANIZER = "UORG00001"  # an organizer by config.slack.organizer_user_ids
GROUP_ORGANIZER = "UGRP00001"  # an organizer through config.slack.organizer_usergroup
ORGANIZERS_GROUP = "S0ORGANIZ"
ACK_LIMIT = 1.0  # seconds; Slack allows 3, the adapter should take milliseconds


def slack_config(config: Config) -> Config:
    return config.model_copy(
        update={"slack": SlackSettings(organizer_user_ids=[ORGANIZER], organizer_usergroup=ORGANIZERS_GROUP, port=3000)}
    )


def seed(fake: FakeSlack) -> None:
    fake.add_user(PARTICIPANT, "Ana Participant", tz="America/Chicago")
    fake.add_user(ORGANIZER, "Olu Organizer", tz="Europe/London")
    fake.add_user(GROUP_ORGANIZER, "Gia Group", tz="Asia/Tokyo")
    fake.add_usergroup(ORGANIZERS_GROUP, [GROUP_ORGANIZER])
    everyone = (PARTICIPANT, ORGANIZER, GROUP_ORGANIZER)
    fake.add_channel("general", members=everyone)
    fake.add_channel("help", members=everyone)
    fake.add_channel("random", members=everyone, bot=False)  # public; the bot has not joined
    fake.add_channel("backstage", private=True, members=(ORGANIZER,), bot=False)
    fake.add_channel("organizers", private=True, members=(ORGANIZER, GROUP_ORGANIZER))


# -- a cog that produces every outcome the adapter renders ------------------------------------------
class ProbeCog:
    def __init__(self, app):
        self.app = app
        self.seen: list[tuple[str, Any]] = []
        self.delay = 0.0  # how long probe-slow and slow submissions take

    @command("probe-echo", "Say something back in the channel", Option("text", "What to say"))
    async def echo(self, ctx) -> Reply:
        self.seen.append(("echo", ctx.options["text"]))
        return Reply(f"You said: {ctx.options['text']}", private=False)

    @command("probe-when", "Show an instant")
    async def when(self, ctx) -> Reply:
        return Reply(f"**Due:** {Timestamp(ctx.app.config.deadline)} [guide](https://example.org/a?b=1&c=2)")

    @command("probe-form", "Open the probe form")
    async def form(self, ctx) -> Form:
        self.seen.append(("form", ctx.actor.user_id))
        return self.build("probe", "state-7").prefilled({"title": "Draft title", "track": "b"})

    @command("probe-slow", "Open the probe form after thinking")
    async def slow(self, ctx) -> Form | Reply:
        await asyncio.sleep(self.delay)
        return self.build("probe", "slow")

    @command("probe-slow-reply", "Answer after thinking")
    async def slow_reply(self, ctx) -> Reply:
        await asyncio.sleep(self.delay)
        return Reply("Thought about it.")

    @form_builder("probe")
    def build(self, form_id: str, state: str) -> Form:
        return Form(
            form_id,
            "A probe form with a title longer than Slack allows",
            (
                FormField("title", "Title", min_length=3, max_length=40),
                FormField("details", "Details", FieldKind.PARAGRAPH, required=False, max_length=5000),
                FormField("email", "Email", FieldKind.EMAIL),
                FormField("seats", "Seats", FieldKind.INTEGER),
                FormField(
                    "track",
                    "Track",
                    FieldKind.CHOICE,
                    choices=(Choice("a", "Track A"), Choice("b", "Track B")),
                ),
                FormField("start", "Start", FieldKind.DATETIME, required=False),
            ),
            submit_label="Send",
            state=state,
        )

    @form_handler("probe")
    async def save(self, ctx, values: dict[str, str], state: str) -> Reply | FormErrors:
        if values["title"].lower() == "taken title":
            return FormErrors({"title": "That title is taken.", "form": "Please check the form."})
        if values["title"].lower().startswith("slow"):
            await asyncio.sleep(self.delay)
            if values["title"].lower() == "slow taken":
                return FormErrors({"title": "That title is taken."})
        self.seen.append(("saved", dict(values), state, ctx.place))
        return Reply(f"Saved **{values['title']}** for {ctx.actor.display_name}.")

    @command("probe-buttons", "Show buttons")
    async def buttons(self, ctx) -> Reply:
        return Reply(
            "Pick one",
            private=False,
            buttons=(
                Button("probe:42", "Press", ButtonStyle.PRIMARY),
                Button("probe-open:x", "Open form"),
                Button("docs", "Docs", url="https://example.org/docs"),
            ),
        )

    @button("probe")
    async def pressed(self, ctx, argument: str) -> Reply:
        self.seen.append(("pressed", argument, ctx.place))
        return Reply(f"Pressed {argument} for {ctx.actor.display_name}.")

    @button("probe-open")
    async def open_from_button(self, ctx, argument: str) -> Form:
        return self.build("probe", f"from-button-{argument}")

    @command("probe-admin", "Organizers only", permission=Permission.ORGANIZER)
    async def admin(self, ctx) -> Reply:
        self.seen.append(("admin", ctx.actor.user_id))
        return Reply("Organizer console.")

    @command(
        "probe-file",
        "Share a file",
        Option(
            "where",
            "public or private",
            OptionKind.CHOICE,
            choices=(Choice("public", "public"), Choice("private", "private")),
        ),
    )
    async def file(self, ctx) -> Reply:
        private = ctx.options["where"] == "private"
        return Reply("The agenda.", private=private, files=(File("agenda.txt", b"9:00 welcome\n", "text/plain"),))

    @command("probe-group one", "The first of a group")
    async def one(self, ctx) -> Reply:
        return Reply("One.")

    @command("probe-group two", "The second of a group", Option("n", "A number", OptionKind.INTEGER))
    async def two(self, ctx) -> Reply:
        return Reply(f"Two: {ctx.options['n'] * 2}.")

    @listener("probe")
    async def heard(self, ctx, text: str) -> Reply | None:
        if ctx.mentioned:
            self.seen.append(("mentioned", text, ctx.place))
            return Reply("You called?", private=False)
        if "probe?" in text:
            self.seen.append(("heard", text, ctx.place))
            return Reply(f"Heard you, {ctx.actor.display_name}.", private=False)
        if "whisper?" in text:
            return Reply("Only you see this.")
        return None


# -- talking to the served app the way Slack does ------------------------------------------------------
def signed_headers(body: str, content_type: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


def command_payload(fake: FakeSlack, line: str, user: str, channel_id: str, channel_name: str = "") -> dict:
    """The form fields of a slash command request, with a fresh response_url and trigger_id."""
    word, _, text = line.strip().lstrip("/").partition(" ")
    return {
        "token": "legacy-verification-token",
        "team_id": FakeSlack.TEAM,
        "team_domain": "fake-team",
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else channel_name,
        "user_id": user,
        "user_name": fake.users[user]["name"],
        "command": f"/{word}",
        "text": text,
        "api_app_id": FakeSlack.APP_ID,
        "is_enterprise_install": "false",
        "response_url": fake.response_url(channel_id, user),
        "trigger_id": fake.trigger(),
    }


def submission_payload(fake: FakeSlack, view: dict[str, Any], values: dict[str, Any], user: str) -> dict:
    """A view_submission as Slack sends it: `values` maps a field (block id) to what was typed (a
    string; for a select the option value; for a date-time an epoch int)."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input" or block["block_id"] not in values:
            continue
        element, typed = block["element"], values[block["block_id"]]
        kind = element["type"]
        if kind == "static_select":
            entry = {
                "type": kind,
                "selected_option": next((o for o in element["options"] if o["value"] == typed), None),
            }
        elif kind == "datetimepicker":
            entry = {"type": kind, "selected_date_time": typed}
        else:
            entry = {"type": kind, "value": typed}
        state[block["block_id"]] = {element["action_id"]: entry}
    return {
        "type": "view_submission",
        "team": {"id": FakeSlack.TEAM, "domain": "fake-team"},
        "user": {"id": user, "username": fake.users[user]["name"], "team_id": FakeSlack.TEAM},
        "api_app_id": FakeSlack.APP_ID,
        "token": "legacy-verification-token",
        "trigger_id": fake.trigger(),
        "view": {**view, "state": {"values": state}, "team_id": FakeSlack.TEAM, "app_id": FakeSlack.APP_ID},
        "response_urls": [],
    }


def event_payload(event: dict[str, Any], event_id: str) -> dict:
    return {
        "token": "legacy-verification-token",
        "team_id": FakeSlack.TEAM,
        "api_app_id": FakeSlack.APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": FakeSlack.TEAM, "user_id": FakeSlack.BOT_USER, "is_bot": True}],
    }


@dataclass
class Sent:
    status: int
    elapsed: float
    text: str
    response_url: str = ""
    trigger_id: str = ""

    def json(self) -> dict[str, Any]:
        return json.loads(self.text) if self.text else {}


@dataclass
class Harness:
    fake: FakeSlack
    app: App
    adapter: SlackAdapter
    url: str
    session: aiohttp.ClientSession
    channels: dict[str, str] = field(default_factory=dict)

    @property
    def cog(self) -> ProbeCog:
        return next(c for c in self.app.cogs if isinstance(c, ProbeCog))

    async def idle(self) -> None:
        await self.adapter.idle()

    async def post(self, body: str, content_type: str, headers: dict | None = None, **signing) -> Sent:
        started = time.monotonic()
        all_headers = {**signed_headers(body, content_type, **signing), **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            text = await response.text()
        return Sent(response.status, time.monotonic() - started, text)

    def command_body(self, line: str, user: str = PARTICIPANT, channel: str = "general") -> dict[str, str]:
        return command_payload(self.fake, line, user, self.channels.get(channel, channel), channel)

    async def command(self, line: str, user: str = PARTICIPANT, channel: str = "general", **signing) -> Sent:
        form = self.command_body(line, user, channel)
        sent = await self.post(urllib.parse.urlencode(form), "application/x-www-form-urlencoded", **signing)
        sent.response_url, sent.trigger_id = form["response_url"], form["trigger_id"]
        return sent

    async def interactive(self, payload: dict[str, Any]) -> Sent:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(
        self, element: dict[str, Any], user: str = PARTICIPANT, channel: str = "general", message_ts: str = ""
    ) -> Sent:
        channel_id = self.channels.get(channel, channel)
        response_url, trigger_id = self.fake.response_url(channel_id, user), self.fake.trigger()
        payload = {
            "type": "block_actions",
            "team": {"id": FakeSlack.TEAM, "domain": "fake-team"},
            "user": {"id": user, "username": self.fake.users[user]["name"], "team_id": FakeSlack.TEAM},
            "api_app_id": FakeSlack.APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts or "1.000001",
                "channel_id": channel_id,
            },
            "trigger_id": trigger_id,
            "channel": {"id": channel_id, "name": channel},
            "message": {"type": "message", "ts": message_ts or "1.000001", "text": "…"},
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
        sent = await self.interactive(payload)
        sent.response_url, sent.trigger_id = response_url, trigger_id
        return sent

    async def submit(self, view: dict[str, Any], values: dict[str, Any], user: str = PARTICIPANT) -> Sent:
        return await self.interactive(submission_payload(self.fake, view, values, user))

    async def event(self, event: dict[str, Any], event_id: str, retry: int | None = None) -> Sent:
        body = json.dumps(event_payload(event, event_id))
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return await self.post(body, "application/json", headers)

    async def reply_to(self, sent: Sent, within: float = 3.0) -> Call:
        """The response_url post answering a request (waits for it)."""
        token = sent.response_url.rsplit("/", 1)[-1]
        return await self.fake.wait_for("response_url", lambda c: c.target == token, within)

    def replies_to(self, sent: Sent) -> list[Call]:
        token = sent.response_url.rsplit("/", 1)[-1]
        return [c for c in self.fake.calls_to("response_url") if c.target == token]


def visible_text(call: Call) -> str:
    """Everything a person would read in a message call: the text and every block's text."""
    args = call.args
    parts = [str(args.get("text", ""))]
    for block in args.get("blocks") or []:
        parts.append(json.dumps(block, ensure_ascii=False))
    return "\n".join(parts)


# -- fixtures --------------------------------------------------------------------------------------------
@pytest.fixture
async def fake_slack(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # every request must go to 127.0.0.1 directly
    fake = await FakeSlack().start()
    seed(fake)
    yield fake
    await fake.close()


async def start_harness(
    fake: FakeSlack, config: Config, clock, db_path, cogs: list[type] | None, pacer: Pacer | None = None
) -> Harness:
    db = await Database.open(db_path)
    app = App(slack_config(config), db, clock, cogs)
    adapter = SlackAdapter(
        app, token=FakeSlack.BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.api_url, pacer=pacer
    )
    port = await adapter.start_http("127.0.0.1", 0)
    session = aiohttp.ClientSession()
    channels = {c.name: c.id for c in fake.channels.values() if c.name}
    return Harness(fake, app, adapter, f"http://127.0.0.1:{port}/slack/events", session, channels)


async def stop_harness(harness: Harness) -> None:
    await harness.adapter.close()
    await harness.session.close()
    await harness.app.close()


@pytest.fixture
async def slack(fake_slack, config, clock, tmp_path):
    """The adapter serving the real registry (every cog in ALL_COGS)."""
    harness = await start_harness(fake_slack, config, clock, tmp_path / "app.sqlite3", None)
    yield harness
    await stop_harness(harness)


@pytest.fixture
async def probe(fake_slack, config, clock, tmp_path):
    """The adapter serving /help, /about, /timezone and the probe cog."""
    harness = await start_harness(fake_slack, config, clock, tmp_path / "app.sqlite3", [GeneralCog, ProbeCog])
    yield harness
    await stop_harness(harness)
