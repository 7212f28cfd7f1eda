"""The fake Discord refuses what real Discord refuses, so a bot bug fails here first.

These tests talk to the fake as a bare client (a websocket and plain HTTP), without discord.py,
so each rule is seen exactly as Discord states it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.fakes.discord_server import INTENT_GUILDS, INTENT_MESSAGE_CONTENT, FakeDiscord

TOKEN = "raw-token"
MODAL = {
    "custom_id": "m1",
    "title": "A form",
    "components": [{"type": 18, "label": "Name", "component": {"type": 4, "custom_id": "name", "style": 1}}],
}
COMMAND = {"name": "ping", "description": "Ping", "type": 1, "options": []}


class RawBot:
    """A minimal bot: one gateway connection and a REST session."""

    def __init__(self, fake: FakeDiscord, session: aiohttp.ClientSession):
        self.fake, self.session = fake, session
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None

    async def connect(self, intents: int = INTENT_GUILDS, token: str = TOKEN) -> int | None:
        """Identify; returns the close code if the gateway refused."""
        self.ws = await self.session.ws_connect(f"{self.fake.gateway_url}?v=10&encoding=json")
        hello = await self.ws.receive_json()
        assert hello["op"] == 10
        await self.ws.send_json({"op": 2, "d": {"token": token, "intents": intents, "properties": {}}})
        first = await self.ws.receive()
        if first.type is not aiohttp.WSMsgType.TEXT:
            return self.ws.close_code
        assert json.loads(first.data)["t"] == "READY"
        self._reader = asyncio.create_task(self._read())
        return None

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if data.get("op") == 0:
                await self.events.put(data)

    async def event(self, name: str) -> dict:
        while True:
            event = await asyncio.wait_for(self.events.get(), 5)
            if event["t"] == name:
                return event["d"]

    async def rest(self, method: str, path: str, body: Any = None, auth: bool = True) -> tuple[int, Any]:
        headers = {"Authorization": f"Bot {TOKEN}"} if auth else {}
        async with self.session.request(method, self.fake.api_url + path, json=body, headers=headers) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(token=TOKEN, bot_permissions=(1 << 53) - 1)
    server.add_member("ana")
    server.add_channel("Rooms", type=4)
    server.add_channel("general", parent="Rooms")
    async with server:
        yield server


@pytest_asyncio.fixture
async def raw(fake) -> AsyncIterator[RawBot]:
    async with aiohttp.ClientSession() as session:
        bot = RawBot(fake, session)
        yield bot
        await bot.close()


async def interaction(raw: RawBot, kind: str = "slash") -> tuple[asyncio.Task, dict]:
    """Have ana run /ping (or type into its autocomplete); returns (the member's view, the event)."""
    if not raw.fake.commands:
        command = {**COMMAND, "options": [{"type": 3, "name": "q", "description": "Q", "autocomplete": True}]}
        assert (
            await raw.rest("PUT", f"/applications/{raw.fake.app_id}/guilds/{raw.fake.guild_id}/commands", [command])
        )[0] == 200
    if kind == "slash":
        task = asyncio.create_task(raw.fake.slash("ana", "ping"))
    else:
        task = asyncio.create_task(raw.fake.autocomplete("ana", "ping", "q", "x"))
    event = await raw.event("INTERACTION_CREATE")
    return task, event


def callback_path(event: dict) -> str:
    return f"/interactions/{event['id']}/{event['token']}/callback?with_response=1"


async def test_a_privileged_intent_not_enabled_closes_the_gateway(raw):
    assert await raw.connect(INTENT_GUILDS | INTENT_MESSAGE_CONTENT) == 4014


async def test_a_wrong_token_is_refused(raw):
    status, body = await raw.rest("GET", "/users/@me", auth=False)
    assert (status, body["message"]) == (401, "401: Unauthorized")
    assert await raw.connect(token="wrong") == 4004


async def test_no_answer_within_3_seconds_is_an_unknown_interaction(raw):
    raw.fake.response_deadline = 0.2
    await raw.connect()
    task, event = await interaction(raw)
    with pytest.raises(AssertionError, match="did not respond within 3 s"):
        await task
    status, body = await raw.rest("POST", callback_path(event), {"type": 4, "data": {"content": "late"}}, auth=False)
    assert (status, body["code"]) == (404, 10062)


async def test_an_interaction_has_one_initial_response(raw):
    await raw.connect()
    task, event = await interaction(raw)
    first = await raw.rest("POST", callback_path(event), {"type": 4, "data": {"content": "hi"}}, auth=False)
    assert first[0] == 200 and first[1]["resource"]["message"]["content"] == "hi"
    second = await raw.rest("POST", callback_path(event), {"type": 4, "data": {"content": "again"}}, auth=False)
    assert (second[0], second[1]["code"]) == (400, 40060)
    followup = await raw.rest(
        "POST", f"/webhooks/{raw.fake.app_id}/{event['token']}?wait=true", {"content": "more"}, auth=False
    )
    assert followup[0] == 200
    assert (await task).text == "hi\nmore"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"title": "x" * 46}, "data.title"),
        ({"custom_id": "x" * 101}, "data.custom_id"),
        ({"components": MODAL["components"] * 6}, "data.components"),
        ({"components": []}, "data.components"),
        (
            {"components": [{"type": 18, "label": "L" * 46, "component": MODAL["components"][0]["component"]}]},
            "data.components.0.label",
        ),
        (
            {
                "components": [
                    {
                        "type": 18,
                        "label": "N",
                        "component": {"type": 4, "custom_id": "n", "style": 1, "max_length": 4001},
                    }
                ]
            },
            "data.components.0.component",
        ),
    ],
)
async def test_modal_limits(raw, change, where):
    await raw.connect()
    task, event = await interaction(raw)
    status, body = await raw.rest("POST", callback_path(event), {"type": 9, "data": {**MODAL, **change}}, auth=False)
    assert (status, body["code"]) == (400, 50035)
    assert where in body["message"]
    ok = await raw.rest("POST", callback_path(event), {"type": 9, "data": MODAL}, auth=False)
    assert ok[0] == 200
    assert (await task).modal["title"] == "A form"


async def test_autocomplete_offers_at_most_25_choices(raw):
    await raw.connect()
    task, event = await interaction(raw, "autocomplete")
    choices = [{"name": f"c{n}", "value": f"c{n}"} for n in range(26)]
    status, body = await raw.rest("POST", callback_path(event), {"type": 8, "data": {"choices": choices}}, auth=False)
    assert (status, body["code"]) == (400, 50035)
    assert (await raw.rest("POST", callback_path(event), {"type": 8, "data": {"choices": choices[:25]}}, auth=False))[
        0
    ] == 200
    assert len(await task) == 25


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"content": "x" * 2001}, 50035),
        ({"content": ""}, 50006),
        ({"embeds": [{"description": "x"}] * 11}, 50035),
        ({"embeds": [{"title": "x" * 257}]}, 50035),
        ({"embeds": [{"description": "x" * 4097}]}, 50035),
        ({"embeds": [{"description": "x" * 4000}, {"description": "x" * 2001}]}, 50035),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, 50035),
        (
            {
                "content": "x",
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "label": "a", "custom_id": "x" * 101}]}
                ],
            },
            50035,
        ),
        (
            {
                "content": "x",
                "components": [
                    {
                        "type": 1,
                        "components": [{"type": 2, "style": 1, "label": "a", "custom_id": "same"}] * 2,
                    }
                ],
            },
            50035,
        ),
        (
            {
                "content": "x",
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "b"}] * 6}
                ],
            },
            50035,
        ),
    ],
)
async def test_message_limits(raw, message, code):
    channel = raw.fake.channel("general")["id"]
    status, body = await raw.rest("POST", f"/channels/{channel}/messages", message)
    assert (status, body["code"]) == (400, code)


async def test_mentions_ping_unless_allowed_mentions_say_otherwise(raw):
    channel = raw.fake.channel("general")["id"]
    _, loud = await raw.rest("POST", f"/channels/{channel}/messages", {"content": "@everyone hi"})
    _, quiet = await raw.rest(
        "POST",
        f"/channels/{channel}/messages",
        {"content": "@everyone hi", "allowed_mentions": {"parse": []}},
    )
    assert loud["mention_everyone"] and not quiet["mention_everyone"]


async def test_channel_limits(raw):
    fake = raw.fake
    category = fake.channel("Rooms")["id"]
    for n in range(49):
        fake.add_channel(f"room-{n}", parent="Rooms")
    status, body = await raw.rest(
        "POST", f"/guilds/{fake.guild_id}/channels", {"name": "one-too-many", "parent_id": category}
    )
    assert (status, body["code"]) == (400, 50035)
    assert "Maximum number of channels in category" in body["message"]
    while len([c for c in fake.channels.values() if c["type"] != 1]) < 500:
        fake.add_channel(f"extra-{len(fake.channels)}")
    status, body = await raw.rest("POST", f"/guilds/{fake.guild_id}/channels", {"name": "five-hundred-and-one"})
    assert (status, body["code"]) == (400, 30013)


@pytest.mark.parametrize(
    "command",
    [
        {**COMMAND, "name": "Ping"},
        {**COMMAND, "description": "x" * 101},
        {**COMMAND, "options": [{"type": 3, "name": f"o{n}", "description": "d"} for n in range(26)]},
        {
            **COMMAND,
            "options": [
                {
                    "type": 3,
                    "name": "o",
                    "description": "d",
                    "choices": [{"name": f"{n}", "value": f"{n}"} for n in range(26)],
                }
            ],
        },
        {
            **COMMAND,
            "options": [
                {
                    "type": 3,
                    "name": "o",
                    "description": "d",
                    "autocomplete": True,
                    "choices": [{"name": "a", "value": "a"}],
                }
            ],
        },
        {
            **COMMAND,
            "options": [
                {"type": 3, "name": "a", "description": "d"},
                {"type": 3, "name": "b", "description": "d", "required": True},
            ],
        },
    ],
)
async def test_command_shapes(raw, command):
    path = f"/applications/{raw.fake.app_id}/guilds/{raw.fake.guild_id}/commands"
    status, body = await raw.rest("PUT", path, [command])
    assert (status, body["code"]) == (400, 50035)


async def test_injected_failures(raw):
    fake = raw.fake
    channel = fake.channel("general")["id"]
    fake.inject("POST", "/messages$", status=429, retry_after=0.25)
    async with raw.session.post(
        f"{fake.api_url}/channels/{channel}/messages",
        json={"content": "x"},
        headers={"Authorization": f"Bot {TOKEN}"},
    ) as resp:
        assert resp.status == 429
        assert resp.headers["Via"] and resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["retry_after"] == 0.25
    fake.inject("POST", "/messages$", status=503)
    assert (await raw.rest("POST", f"/channels/{channel}/messages", {"content": "x"}))[0] == 503
    assert (await raw.rest("POST", f"/channels/{channel}/messages", {"content": "x"}))[0] == 200
