"""A fake Discord: REST API and gateway on 127.0.0.1, for the real discord.py client.

The bot under test logs in, connects to the gateway, syncs its commands and answers interactions
exactly as it would on Discord; tests then act as members (run a slash command, press a button,
submit a modal, type a message) and read what those members would see.

The fake behaves like Discord where a bug would show:
- interactions: first response within 3 s (else 10062), one initial response (else 40060),
  followups and edits only after it, deferred "thinking" messages replaced by the first followup;
- limits: 2000-character content, embed limits, components (5 rows × 5 buttons, custom_id ≤ 100,
  unique per message), modals (title ≤ 45, 1–5 components, text inputs ≤ 4000), autocomplete
  (≤ 25 choices), command shapes (≤ 25 options/choices/subcommands, names, descriptions),
  50 channels per category, 500 per guild, thread archive durations, forum posts need a thread,
  forums hold ≤ 20 tags of ≤ 20 characters;
- threads: private threads (type 12) need Create Private Threads, and only their members (and
  those who may manage threads) see them (`can_view`, `visible_messages`);
- commands: guild commands exist only in the guild; in a DM with the bot only global commands
  whose contexts include the bot DM are offered;
- permissions: the bot's role must grant what it does (50013), commands with default member
  permissions are hidden from members who lack them, privileged intents close the gateway (4014);
- the cache: every REST mutation is followed by the gateway event Discord sends, filtered by the
  intents the client identified with;
- mentions: a message pings only what its allowed_mentions permit (Discord parses everything
  when allowed_mentions is absent), and a role only if it is mentionable or the author may
  mention everyone; what the sender allowed is kept in `StoredMessage.allowed_mentions`;
- failures: `inject` answers a matching request with a 429 (with `Via`, as Discord's edge does)
  or a 5xx, before or after the request took effect.

Every REST call is recorded in `calls`; every 4xx/5xx the fake answered in `errors`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"
HOST = "127.0.0.1"  # never any other address

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_ROLES = 1 << 28
MENTION_EVERYONE = 1 << 17
MANAGE_EVENTS = 1 << 33
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
CREATE_EVENTS = 1 << 44
EVERYONE_DEFAULT = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | EMBED_LINKS | ATTACH_FILES
EVERYONE_DEFAULT |= SEND_MESSAGES_IN_THREADS | CREATE_PUBLIC_THREADS

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
INTENT_SCHEDULED_EVENTS = 1 << 16
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Channel types.
TEXT, DM, CATEGORY, PUBLIC_THREAD, PRIVATE_THREAD, FORUM = 0, 1, 4, 11, 12, 15
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)

# Interaction types and callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

EPHEMERAL = 1 << 6
LOADING = 1 << 7
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
MAX_CHANNELS = 500
MAX_PER_CATEGORY = 50
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
MENTION_USER = re.compile(r"<@!?(\d+)>")
MENTION_ROLE = re.compile(r"<@&(\d+)>")
MAX_FORUM_TAGS = 20
MAX_TAG_NAME = 20
CONTEXT_GUILD, CONTEXT_BOT_DM = 0, 1


CALL = web.RequestKey("call", "Call")


class ApiError(Exception):
    """An error response as Discord shapes it: {code, message, errors?}."""

    def __init__(self, status: int, code: int, message: str, errors: dict | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors


def invalid(path: str, message: str, code: str = "BASE_TYPE_INVALID") -> ApiError:
    """50035 Invalid Form Body, with the error placed at `path` (dot-separated) like Discord does."""
    errors: dict = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        errors = {part: errors}
    return ApiError(400, 50035, f"Invalid Form Body ({path}: {message})", errors)


def iso(when: dt.datetime | None = None) -> str:
    return (when or dt.datetime.now(dt.UTC)).isoformat()


@dataclass
class Call:
    """One REST request the client made, and how the fake answered it."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes, str]]
    status: int = 0
    error: dict | None = None


@dataclass
class Failure:
    method: str
    path: re.Pattern
    status: int
    retry_after: float
    via: bool
    is_global: bool
    times: int
    after: bool  # let the request take effect, then fail the response (a lost reply)
    per_path: int | None = None  # at most this many failures for any one path
    seen: dict[str, int] = field(default_factory=dict)


@dataclass
class StoredMessage:
    payload: dict
    visible_to: int | None = None  # an ephemeral message is seen only by this user
    files: list[tuple[str, bytes, str]] = field(default_factory=list)
    interaction_id: int | None = None
    deleted: bool = False
    allowed_mentions: dict | None = None  # as the sender sent it (None: absent, Discord parses all)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def content(self) -> str:
        return self.payload.get("content", "")

    @property
    def pinged(self) -> bool:
        """Whether this message notified anyone (users, roles, @everyone)."""
        p = self.payload
        return bool(p["mentions"] or p["mention_roles"] or p["mention_everyone"])

    def components(self) -> list[dict]:
        return [c for row in self.payload.get("components", []) for c in row.get("components", [])]


@dataclass
class FakeInteraction:
    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    data: dict
    created: float
    name: str = ""  # the command's full name, for commands and autocomplete
    source_message_id: int | None = None  # the message whose component was used
    response_type: int | None = None
    original_id: int | None = None
    message_ids: list[int] = field(default_factory=list)
    modal: dict | None = None
    choices: list[dict] | None = None
    last_activity: float = 0.0


class _Session:
    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.id = secrets.token_hex(16)
        self.intents = 0
        self.identified = False
        self.seq = 0
        self.lock = asyncio.Lock()

    async def send(self, payload: dict) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(payload))


class FakeDiscord:
    """One application, one bot user and one guild, served on 127.0.0.1 at an ephemeral port."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        guild_name: str = "Fake Guild",
        app_name: str = "Conference Bot",
        heartbeat_interval_ms: int = 45_000,
        response_deadline: float = 3.0,
        privileged_intents: int = 0,
        bot_permissions: int = 0,
        global_rate_limit: int = 50,
        attachment_size_limit: int = 10 * 1024 * 1024,
    ):
        self._ids = itertools.count()
        self._last_ms = 0
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.response_deadline = response_deadline
        self.privileged_intents = privileged_intents  # enabled in the "developer portal"
        self.global_rate_limit = global_rate_limit
        self.attachment_size_limit = attachment_size_limit
        self.app_id = self.snowflake()
        self.bot_user = self._user_payload(self.app_id, app_name, bot=True)
        self.app_name = app_name
        self.guild_id = self.snowflake()
        self.guild_name = guild_name
        self.users: dict[int, dict] = {self.app_id: self.bot_user}
        self.roles: dict[int, dict] = {}
        self.members: dict[int, dict] = {}
        self.channels: dict[int, dict] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.thread_members: dict[int, set[int]] = {}
        self.commands: dict[int, dict] = {}
        self.command_syncs = 0
        self.global_commands: dict[int, dict] = {}  # PUT /applications/{id}/commands
        self.global_command_syncs = 0
        self.command_creates = 0
        self.scheduled_events: dict[int, dict] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.calls: list[Call] = []
        self.errors: list[Call] = []
        self.identifies: list[dict] = []
        self._failures: list[Failure] = []
        self._sessions: set[_Session] = set()
        self._resumable: dict[str, int] = {}  # session id -> intents
        self._recent: list[float] = []
        self._nonces: dict[tuple[int, str], int] = {}
        self.dms_refused: set[int] = set()  # members who accept no DMs from server members
        self._runner: web.AppRunner | None = None
        self.port = 0
        # @everyone shares the guild's id; the bot's managed role sits high enough to manage others.
        self._add_role_payload(self.guild_id, "@everyone", EVERYONE_DEFAULT, 0)
        bot_role = self.add_role(app_name, permissions=bot_permissions, position=10)
        bot_role["managed"] = True
        bot_role["tags"] = {"bot_id": str(self.app_id)}
        self.members[self.app_id] = self._member_payload(self.bot_user, [int(bot_role["id"])])

    # -- ids and payload builders -----------------------------------------------------------
    def snowflake(self) -> int:
        ms = max(int(time.time() * 1000), self._last_ms)
        self._last_ms = ms
        return ((ms - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    @staticmethod
    def _user_payload(user_id: int, name: str, bot: bool = False) -> dict:
        return {
            "id": str(user_id),
            "username": name.lower().replace(" ", "_"),
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }

    @staticmethod
    def _member_payload(user: dict, roles: list[int]) -> dict:
        return {
            "user": user,
            "nick": None,
            "avatar": None,
            "roles": [str(r) for r in roles],
            "joined_at": iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }

    def _add_role_payload(self, role_id: int, name: str, permissions: int, position: int) -> dict:
        role = {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        self.roles[role_id] = role
        return role

    # -- building the guild (before or after start) -----------------------------------------
    def add_role(self, name: str, *, permissions: int = 0, position: int = 1) -> dict:
        return self._add_role_payload(self.snowflake(), name, permissions, position)

    def add_member(self, name: str, *, roles: Iterable[str] = ()) -> dict:
        user = self._user_payload(self.snowflake(), name)
        self.users[int(user["id"])] = user
        member = self._member_payload(user, [int(self.role(r)["id"]) for r in roles])
        self.members[int(user["id"])] = member
        return member

    def add_channel(self, name: str, *, type: int = TEXT, parent: str | None = None, private: bool = False) -> dict:
        overwrites = []
        if private:  # hidden from @everyone, visible to the bot
            overwrites = [
                {"id": str(self.guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
                {"id": str(self.app_id), "type": 1, "allow": str(VIEW_CHANNEL), "deny": "0"},
            ]
        parent_id = int(self.channel(parent)["id"]) if parent else None
        return self._create_channel_payload(name, type, parent_id, overwrites, topic=None)

    def role(self, name: str) -> dict:
        found = [r for r in self.roles.values() if r["name"] == name]
        if not found:
            raise KeyError(f"no role named {name!r}")
        return found[0]

    def member(self, name: str) -> dict:
        for member in self.members.values():
            user = member["user"]
            if name in (user["username"], user["global_name"], user["id"]):
                return member
        raise KeyError(f"no member named {name!r}")

    def channel(self, name: str) -> dict:
        for channel in self.channels.values():
            if name in (channel.get("name"), channel["id"]):
                return channel
        raise KeyError(f"no channel named {name!r}")

    def open_dm(self, member: dict | str) -> dict:
        """The member opens a DM with the bot (as clicking its name → Message does)."""
        member = self.member(member) if isinstance(member, str) else member
        try:
            return self.channel_dm(member)
        except KeyError:
            pass
        channel_id = self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": DM,
            "recipients": [self.users[int(member["user"]["id"])]],
            "last_message_id": None,
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return channel

    async def delete_channel(self, name: str) -> None:
        """Someone deletes a channel (or thread, or category) by hand; the bot hears of it. A deleted
        category's channels stay, without a category, as on Discord."""
        channel = self.channel(name)
        channel_id = int(channel["id"])
        del self.channels[channel_id]
        if channel["type"] in THREAD_TYPES:
            self.thread_members.pop(channel_id, None)
            await self.dispatch("THREAD_DELETE", {k: channel[k] for k in ("id", "guild_id", "parent_id", "type")})
            return
        await self.dispatch("CHANNEL_DELETE", channel)
        for child in list(self.channels.values()):
            if child.get("parent_id") == str(channel_id) and child["type"] not in THREAD_TYPES:
                child["parent_id"] = None
                await self.dispatch("CHANNEL_UPDATE", child)
            elif child.get("parent_id") == str(channel_id):  # its threads go with it
                del self.channels[int(child["id"])]

    def channel_permissions(self, user_id: int, channel: dict) -> int:
        """A member's permissions in a channel: roles, then @everyone, role and member overwrites.
        In a private thread, someone who is neither in it nor may manage threads sees nothing."""
        if channel["type"] == DM:
            everyone_in = {int(r["id"]) for r in channel["recipients"]} | {self.app_id}
            return VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY if user_id in everyone_in else 0
        if channel["type"] in THREAD_TYPES:
            parent = self.channels.get(int(channel["parent_id"]))
            value = self.channel_permissions(user_id, parent) if parent else 0
            manages = value & MANAGE_THREADS
            if channel["type"] == PRIVATE_THREAD and not manages:
                if user_id not in self.thread_members.get(int(channel["id"]), set()):
                    return 0
            return value
        if user_id not in self.members:
            return 0
        value = self.member_permissions(user_id)
        if value & ADMINISTRATOR:
            return value
        overwrites = channel.get("permission_overwrites") or []
        roles = set(self.members[user_id]["roles"])
        for overwrite in overwrites:
            if overwrite["id"] == str(self.guild_id):
                value = (value & ~int(overwrite["deny"])) | int(overwrite["allow"])
        allow = deny = 0
        for overwrite in overwrites:
            if overwrite["type"] == 0 and overwrite["id"] in roles:
                allow, deny = allow | int(overwrite["allow"]), deny | int(overwrite["deny"])
        value = (value & ~deny) | allow
        for overwrite in overwrites:
            if overwrite["type"] == 1 and overwrite["id"] == str(user_id):
                value = (value & ~int(overwrite["deny"])) | int(overwrite["allow"])
        return value

    def can_view(self, member: dict | str, channel: dict | str) -> bool:
        member = self.member(member) if isinstance(member, str) else member
        channel = self.channel(channel) if isinstance(channel, str) else channel
        return bool(self.channel_permissions(int(member["user"]["id"]), channel) & VIEW_CHANNEL)

    def visible_messages(self, member: dict | str) -> list[StoredMessage]:
        """Every message `member` can see anywhere: channels and threads they may view, their own
        DMs with the bot, and ephemeral messages shown to them."""
        member = self.member(member) if isinstance(member, str) else member
        user_id = int(member["user"]["id"])
        seen = []
        for message in self.messages.values():
            channel = self.channels.get(message.channel_id)
            if message.deleted or channel is None:
                continue
            if message.visible_to is not None:
                if message.visible_to == user_id:
                    seen.append(message)
            elif self.can_view(member, channel):
                seen.append(message)
        return seen

    def thread_member_ids(self, thread: dict | str) -> set[str]:
        thread = self.channel(thread) if isinstance(thread, str) else thread
        return {str(u) for u in self.thread_members.get(int(thread["id"]), set())}

    def refuse_dms(self, member: dict | str) -> None:
        """The member turned off "Allow direct messages from server members": the bot's DMs to
        them fail with 50007, as on Discord."""
        member = self.member(member) if isinstance(member, str) else member
        self.dms_refused.add(int(member["user"]["id"]))

    def channel_dm(self, member: dict) -> dict:
        """The DM channel between the bot and `member` (after the bot opened it)."""
        user_id = member["user"]["id"]
        for channel in self.channels.values():
            if channel["type"] == DM and channel["recipients"][0]["id"] == user_id:
                return channel
        raise KeyError(f"the bot has no DM channel with {member['user']['username']}")

    def member_permissions(self, user_id: int) -> int:
        member = self.members[user_id]
        value = int(self.roles[self.guild_id]["permissions"])
        for role_id in member["roles"]:
            value |= int(self.roles[int(role_id)]["permissions"])
        return (1 << 53) - 1 if value & ADMINISTRATOR else value

    def _top_position(self, user_id: int) -> int:
        return max((self.roles[int(r)]["position"] for r in self.members[user_id]["roles"]), default=0)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        for method, path, handler in self._routes():
            app.router.add_route(method, API_PREFIX + path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        for session in list(self._sessions):
            await session.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://{HOST}:{self.port}/gateway"

    @property
    def connected(self) -> bool:
        return any(s.identified for s in self._sessions)

    async def wait_until_connected(self, within: float = 10.0) -> None:
        await self._until(lambda: self.connected, within, "the bot to connect to the gateway")

    async def drop_connections(self, code: int = 4000, *, resumable: bool = True) -> None:
        """Close every gateway connection, as Discord does now and then; the client reconnects
        and resumes, or (`resumable=False`, an expired session) identifies again."""
        if not resumable:
            self._resumable.clear()
        for session in list(self._sessions):
            await session.ws.close(code=code)

    async def wait_until_disconnected(self, within: float = 10.0) -> None:
        await self._until(lambda: not self._sessions, within, "the bot to disconnect")

    # -- failure injection --------------------------------------------------------------------
    def inject(
        self,
        method: str,
        path: str,
        *,
        status: int = 429,
        retry_after: float = 0.3,
        via: bool = True,
        is_global: bool = False,
        times: int = 1,
        after: bool = False,
        per_path: int | None = None,
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` regex with `status`.

        A 429 carries `Via` (as Discord's edge does; without it discord.py assumes a Cloudflare
        ban and gives up) and `retry_after`. With `after=True` the request takes effect first and
        only its response is lost, as when a connection drops after Discord acted. `per_path`
        fails each distinct path at most that many times, as Discord limits each route (each
        channel's messages, say) on its own: a storm spread over many channels.
        """
        self._failures.append(
            Failure(method.upper(), re.compile(path), status, retry_after, via, is_global, times, after, per_path)
        )

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method == method and failure.path.search(path):
                if failure.per_path is not None and failure.seen.get(path, 0) >= failure.per_path:
                    continue
                failure.times -= 1
                failure.seen[path] = failure.seen.get(path, 0) + 1
                return failure
        return None

    @staticmethod
    def _failure_response(failure: Failure) -> web.Response:
        if failure.status == 429:
            headers = {"Content-Type": "application/json", "Retry-After": str(int(failure.retry_after) + 1)}
            headers["X-RateLimit-Scope"] = "global" if failure.is_global else "user"
            if failure.via:
                headers["Via"] = "1.1 google"
            body = {
                "message": "You are being rate limited.",
                "retry_after": failure.retry_after,
                "global": failure.is_global,
            }
            return web.Response(status=429, body=json.dumps(body).encode(), headers=headers)
        body = {"message": f"{failure.status}: Server Error", "code": 0}
        return _json(body, failure.status)

    # -- REST plumbing ------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        payload, files = await _read_body(request)
        call = Call(request.method, path, dict(request.query), payload, files)
        self.calls.append(call)
        request[CALL] = call
        failure = self._take_failure(request.method, path)
        if failure and not failure.after:
            call.status = failure.status
            return self._failure_response(failure)
        try:
            if not path.startswith(("/interactions/", "/webhooks/")):
                self._authenticate(request)
                limited = self._global_limit()
                if limited is not None:
                    call.status = 429
                    return limited
            response = await handler(request)
        except ApiError as exc:
            body: dict[str, Any] = {"message": exc.message, "code": exc.code}
            if exc.errors:
                body["errors"] = exc.errors
            call.status, call.error = exc.status, body
            self.errors.append(call)
            return _json(body, exc.status)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug in the fake: fail the test rather than look like Discord
            call.status, call.error = 500, {"message": f"the fake crashed: {exc!r}", "code": 0}
            self.errors.append(call)
            return _json(call.error, 500)
        if failure:
            call.status = failure.status
            return self._failure_response(failure)
        call.status = response.status
        return response

    def _authenticate(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def _global_limit(self) -> web.Response | None:
        """Discord's global limit: 50 requests a second per bot (interactions excepted)."""
        now = time.monotonic()
        self._recent = [t for t in self._recent if now - t < 1.0]
        if len(self._recent) >= self.global_rate_limit:
            retry_after = round(1.0 - (now - self._recent[0]), 3)
            return self._failure_response(Failure("", re.compile(""), 429, retry_after, True, True, 0, False))
        self._recent.append(now)
        return None

    def _routes(self) -> list[tuple[str, str, Callable]]:
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/users/{user_id}", self._get_user),
            ("POST", "/users/@me/channels", self._create_dm),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_global_commands),
            ("GET", "/applications/{app_id}/commands", self._get_global_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self._get_webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._edit_webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._delete_webhook_message),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("PATCH", "/channels/{channel_id}", self._edit_channel),
            ("POST", "/channels/{channel_id}/messages", self._post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("POST", "/channels/{channel_id}/threads", self._create_thread),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._thread_from_message),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._add_thread_member),
            ("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self._remove_thread_member),
            ("PUT", "/channels/{channel_id}/permissions/{target_id}", self._put_overwrite),
            ("DELETE", "/channels/{channel_id}/permissions/{target_id}", self._delete_overwrite),
            ("POST", "/guilds/{guild_id}/channels", self._create_guild_channel),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._add_member_role),
            ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._remove_member_role),
            ("POST", "/guilds/{guild_id}/scheduled-events", self._create_event),
            ("GET", "/guilds/{guild_id}/scheduled-events", self._list_events),
        ]

    def _require(self, permission: int, what: str) -> None:
        if not self.member_permissions(self.app_id) & permission:
            raise ApiError(403, 50013, f"Missing Permissions ({what})")

    def _guild(self, request: web.Request) -> None:
        if int(request.match_info["guild_id"]) != self.guild_id:
            raise ApiError(404, 10004, "Unknown Guild")

    def _channel_or_404(self, channel_id: int | str) -> dict:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _member_or_404(self, user_id: int | str) -> dict:
        member = self.members.get(int(user_id))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return member

    # -- login --------------------------------------------------------------------------------
    async def _get_me(self, request: web.Request) -> web.Response:
        return _json({**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _get_application(self, request: web.Request) -> web.Response:
        owner = self._user_payload(self.snowflake(), "Owner")
        return _json(
            {
                "id": str(self.app_id),
                "name": self.app_name,
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": owner,
                "summary": "",
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "interactions_endpoint_url": None,
                "bot": self.bot_user,
            }
        )

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json(user)

    async def _get_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        return _json(self._member_or_404(request.match_info["user_id"]))

    # -- gateway ------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("v") != "10" or request.query.get("encoding") != "json":
            raise web.HTTPBadRequest(text="gateway v10 with json encoding only")
        # A short close timeout: a client that drops a closing connection to reconnect (as
        # discord.py does) never answers the close frame.
        ws = web.WebSocketResponse(timeout=0.5)
        await ws.prepare(request)
        session = _Session(ws)
        self._sessions.add(session)
        try:
            await session.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if data["op"] == 1:
                    await session.send({"op": 11})
                elif data["op"] == 2:
                    await self._identify(session, data["d"])
                elif data["op"] == 6:
                    await self._resume(session, data["d"])
        finally:
            self._sessions.discard(session)
        return ws

    async def _identify(self, session: _Session, data: dict) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await session.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            await session.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        session.intents = int(data["intents"])
        if session.intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await session.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session.identified = True
        self._resumable[session.id] = session.intents
        ready = {
            "v": 10,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await self._send_event(session, "READY", ready)
        await self._send_event(session, "GUILD_CREATE", self._guild_payload(session.intents))

    async def _resume(self, session: _Session, data: dict) -> None:
        intents = self._resumable.get(data.get("session_id", ""))
        if data.get("token") != self.token or intents is None:
            await session.send({"op": 9, "d": False})  # not resumable: identify again
            return
        # Events missed while disconnected are not replayed: the fake sends none meanwhile.
        session.id, session.intents, session.seq = data["session_id"], intents, int(data.get("seq") or 0)
        session.identified = True
        await self._send_event(session, "RESUMED", {})

    async def _send_event(self, session: _Session, name: str, data: dict) -> None:
        session.seq += 1
        try:
            await session.send({"op": 0, "t": name, "s": session.seq, "d": data})
        except ConnectionResetError:
            self._sessions.discard(session)

    async def dispatch(self, name: str, data: dict, intent: int | None = INTENT_GUILDS) -> None:
        """Send a gateway event to every identified session whose intents cover it."""
        for session in list(self._sessions):
            if session.identified and (intent is None or session.intents & intent):
                await self._send_event(session, name, data)

    def _guild_payload(self, intents: int) -> dict:
        members = list(self.members.values())
        if not intents & INTENT_GUILD_MEMBERS:  # without the privileged intent: only the bot
            members = [self.members[self.app_id]]
        owner = next((u for u in self.members if u != self.app_id), self.app_id)
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(owner),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(self.roles.values()),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "joined_at": iso(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": members,
            "channels": [c for c in self.channels.values() if c["type"] not in (DM, *THREAD_TYPES)],
            "threads": [
                c for c in self.channels.values() if c["type"] in THREAD_TYPES and not c["thread_metadata"]["archived"]
            ],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": list(self.scheduled_events.values()),
            "soundboard_sounds": [],
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "description": None,
            "max_members": 500000,
        }

    # -- application commands -----------------------------------------------------------------
    async def _put_commands(self, request: web.Request) -> web.Response:
        self._guild(request)
        if int(request.match_info["app_id"]) != self.app_id:
            raise ApiError(403, 50001, "Missing Access")
        payload = request[CALL].json
        if not isinstance(payload, list):
            raise invalid("_", "Expected an array of commands")
        if len([c for c in payload if c.get("type", 1) == 1]) > 100:
            raise invalid("_", "Maximum number of chat input commands reached (100)")
        names = [c["name"] for c in payload]
        if len(names) != len(set(names)):
            raise invalid("_", "Application command names must be unique", "APPLICATION_COMMANDS_DUPLICATE_NAME")
        for index, command in enumerate(payload):
            _check_command(command, str(index))
        existing = {c["name"]: c for c in self.commands.values()}
        created = [c for c in payload if c["name"] not in existing]
        if self.command_creates + len(created) > 200:
            raise ApiError(400, 30034, "Max number of daily application command creates has been reached (200)")
        self.command_creates += len(created)
        self.command_syncs += 1
        self.commands = {}
        for command in payload:
            old = existing.get(command["name"])
            command_id = int(old["id"]) if old else self.snowflake()
            stored = {
                "id": str(command_id),
                "application_id": str(self.app_id),
                "guild_id": str(self.guild_id),
                "version": str(self.snowflake()),
                "type": command.get("type", 1),
                "name": command["name"],
                "description": command.get("description", ""),
                "options": command.get("options", []),
                # Discord stores permissions as a string of the bit set, whatever was sent.
                "default_member_permissions": None
                if command.get("default_member_permissions") is None
                else str(command["default_member_permissions"]),
                "nsfw": command.get("nsfw", False),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types", [0]),
            }
            self.commands[command_id] = stored
        return _json(list(self.commands.values()))

    async def _get_commands(self, request: web.Request) -> web.Response:
        self._guild(request)
        return _json(list(self.commands.values()))

    def command(self, name: str) -> dict:
        top = name.split(" ")[0]
        for command in self.commands.values():
            if command["name"] == top:
                return command
        raise KeyError(f"/{top} is not registered with Discord (was the tree synced?)")

    def can_see(self, member: dict, name: str) -> bool:
        """What Discord's client shows: a command with default member permissions is hidden from
        members lacking them (unless an admin overrode it in Server Settings → Integrations)."""
        required = self.command(name).get("default_member_permissions")
        if required is None:
            return True
        return self.member_permissions(int(member["user"]["id"])) & int(required) == int(required)

    def visible_commands(self, member: dict) -> list[str]:
        return sorted(c["name"] for c in self.commands.values() if self.can_see(member, c["name"]))

    async def _put_global_commands(self, request: web.Request) -> web.Response:
        """Global commands (every server the app is in, and DMs with the bot, by `contexts`)."""
        if int(request.match_info["app_id"]) != self.app_id:
            raise ApiError(403, 50001, "Missing Access")
        payload = request[CALL].json
        if not isinstance(payload, list):
            raise invalid("_", "Expected an array of commands")
        names = [c["name"] for c in payload]
        if len(names) != len(set(names)):
            raise invalid("_", "Application command names must be unique", "APPLICATION_COMMANDS_DUPLICATE_NAME")
        for index, command in enumerate(payload):
            _check_command(command, str(index))
            for context in command.get("contexts") or []:
                if context not in (0, 1, 2):
                    raise invalid(f"{index}.contexts", f"{context} is not an interaction context")
        existing = {c["name"]: c for c in self.global_commands.values()}
        self.global_command_syncs += 1
        self.global_commands = {}
        for command in payload:
            old = existing.get(command["name"])
            command_id = int(old["id"]) if old else self.snowflake()
            self.global_commands[command_id] = {
                "id": str(command_id),
                "application_id": str(self.app_id),
                "version": str(self.snowflake()),
                "type": command.get("type", 1),
                "name": command["name"],
                "description": command.get("description", ""),
                "options": command.get("options", []),
                "default_member_permissions": None
                if command.get("default_member_permissions") is None
                else str(command["default_member_permissions"]),
                "nsfw": command.get("nsfw", False),
                # Discord's default for a new global command: every context.
                "contexts": command.get("contexts") or [0, 1, 2],
                "integration_types": command.get("integration_types") or [0],
            }
        return _json(list(self.global_commands.values()))

    async def _get_global_commands(self, request: web.Request) -> web.Response:
        return _json(list(self.global_commands.values()))

    def _command_for(self, name: str, channel: dict) -> dict:
        """The command a member can use where they are: in the guild its guild command (or a
        global one allowed in guilds); in a DM with the bot only a global command allowed there."""
        top = name.split(" ")[0]
        context = CONTEXT_BOT_DM if channel["type"] == DM else CONTEXT_GUILD
        if context == CONTEXT_GUILD:
            for command in self.commands.values():
                if command["name"] == top:
                    return command
        for command in self.global_commands.values():
            if command["name"] == top and context in command["contexts"]:
                return command
        if context == CONTEXT_BOT_DM:
            raise KeyError(f"/{top} is not offered in a DM with the bot (guild commands exist only in the guild)")
        raise KeyError(f"/{top} is not registered with Discord (was the tree synced?)")

    # -- acting as a member -------------------------------------------------------------------
    async def slash(
        self,
        member: dict | str,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        channel: dict | str = "general",
        override_permissions: bool = False,
    ) -> Exchange:
        """Run `/name` (a space separates a subcommand) as `member` and wait for what they see.

        Options are checked as Discord's client checks them before sending: required ones given,
        choices among those declared, numbers in range, text within length. `override_permissions`
        stands for an admin having granted a hidden command to everyone.
        """
        member = self.member(member) if isinstance(member, str) else member
        channel = self.channel(channel) if isinstance(channel, str) else channel
        command = self._command_for(name, channel)
        in_dm = channel["type"] == DM
        if not in_dm and not override_permissions and not self.can_see(member, name):
            raise PermissionError(f"/{name} is hidden from {member['user']['username']}")
        data = self._command_data(command, name, options or {})
        if in_dm:
            data.pop("guild_id", None)
        interaction = await self._interact(APPLICATION_COMMAND, member, channel, data, name=name)
        return await self._exchange(interaction)

    async def autocomplete(
        self,
        member: dict | str,
        name: str,
        option: str,
        partial: str,
        options: dict[str, Any] | None = None,
        *,
        channel: dict | str = "general",
    ) -> list[dict]:
        """Type `partial` into `option` of `/name`; returns the choices Discord would show."""
        member = self.member(member) if isinstance(member, str) else member
        channel = self.channel(channel) if isinstance(channel, str) else channel
        command = self._command_for(name, channel)
        data = self._command_data(command, name, {**(options or {}), option: partial}, focused=option)
        if channel["type"] == DM:
            data.pop("guild_id", None)
        interaction = await self._interact(AUTOCOMPLETE, member, channel, data, name=name)
        await self._until(
            lambda: interaction.choices is not None or self._expired(interaction),
            self.response_deadline + 1,
            f"autocomplete for /{name} {option}",
        )
        if interaction.choices is None:
            raise AssertionError(f"the bot did not answer autocomplete for /{name} within 3 s")
        return interaction.choices

    async def click(self, member: dict | str, message: StoredMessage, button: str) -> Exchange:
        """Press the button labelled (or with custom_id) `button` on `message`."""
        member = self.member(member) if isinstance(member, str) else member
        user_id = int(member["user"]["id"])
        if message.deleted or (message.visible_to is not None and message.visible_to != user_id):
            raise PermissionError("that message is not visible to this member")
        found = [c for c in message.components() if button in (c.get("label"), c.get("custom_id"))]
        if not found:
            raise KeyError(f"no button {button!r} on the message; it has {message.components()}")
        component = found[0]
        if component.get("disabled") or component.get("style") == 5:
            raise PermissionError("a disabled or link button sends no interaction")
        channel = self.channels[message.channel_id]
        data = {"custom_id": component["custom_id"], "component_type": component["type"]}
        interaction = await self._interact(MESSAGE_COMPONENT, member, channel, data, message=message)
        return await self._exchange(interaction)

    async def submit_modal(self, member: dict | str, opened: Exchange, values: dict[str, Any]) -> Exchange:
        """Fill in and submit the modal `opened` showed, as Discord's client would send it.

        `values` maps an input's label (or custom_id) to text, or a select's to an option value
        (or label). Inputs not mentioned keep what the modal showed (its pre-filled value), and
        the client's own checks apply: required inputs, min/max length, options of a select.
        """
        member = self.member(member) if isinstance(member, str) else member
        modal = opened.modal
        if modal is None:
            raise AssertionError(f"no modal was opened; the member saw: {opened.text!r}")
        remaining = dict(values)
        submitted = [self._fill(component, remaining) for component in modal["components"]]
        if remaining:
            raise KeyError(f"the modal has no input {sorted(remaining)}")
        channel = self.channels[opened.interaction.channel_id]
        source = opened.interaction.source_message_id
        data = {"custom_id": modal["custom_id"], "components": submitted}
        message = self.messages[source] if source else None
        interaction = await self._interact(MODAL_SUBMIT, member, channel, data, message=message)
        return await self._exchange(interaction)

    def _fill(self, component: dict, values: dict[str, Any]) -> dict:
        if component["type"] == 1:
            return {"type": 1, "components": [self._fill(c, values) for c in component["components"]]}
        if component["type"] == 18:
            inner = component["component"]
            key = next((k for k in (component["label"], inner["custom_id"]) if k in values), None)
            given = values.pop(key) if key is not None else None
            return {
                "type": 18,
                "id": component.get("id", 0),
                "component": self._answer(inner, given, component["label"]),
            }
        if component["type"] == 4:
            key = next((k for k in (component.get("label"), component["custom_id"]) if k in values), None)
            given = values.pop(key) if key is not None else None
            return self._answer(component, given, component.get("label") or component["custom_id"])
        return {"type": component["type"], "id": component.get("id", 0)}

    @staticmethod
    def _answer(inner: dict, given: Any, label: str) -> dict:
        if inner["type"] == 4:
            value = (inner.get("value") or "") if given is None else str(given)
            if inner.get("required", True) and not value:
                raise ValueError(f"Discord will not submit: {label!r} is required")
            if value and len(value) < inner.get("min_length", 0):
                raise ValueError(f"Discord will not submit: {label!r} is shorter than its minimum")
            if len(value) > inner.get("max_length", 4000):
                raise ValueError(f"Discord will not submit: {label!r} is longer than its maximum")
            return {"type": 4, "id": 0, "custom_id": inner["custom_id"], "value": value}
        if inner["type"] == 3:
            options = inner["options"]
            if given is None:
                chosen = [o["value"] for o in options if o.get("default")]
            else:
                picks = given if isinstance(given, list) else [given]
                chosen = []
                for pick in picks:
                    match = [o["value"] for o in options if pick in (o["value"], o["label"])]
                    if not match:
                        raise ValueError(f"{label!r} has no option {pick!r}")
                    chosen.append(match[0])
            low, high = inner.get("min_values", 1), inner.get("max_values", 1)
            if inner.get("required", True) and not chosen:
                raise ValueError(f"Discord will not submit: {label!r} is required")
            if chosen and not low <= len(chosen) <= high:
                raise ValueError(f"{label!r} takes {low}–{high} options")
            return {"type": 3, "id": 0, "custom_id": inner["custom_id"], "values": chosen}
        raise ValueError(f"unsupported modal component type {inner['type']}")

    async def say(self, member: dict | str, channel: dict | str, content: str) -> StoredMessage:
        """Post a message as a member, and deliver MESSAGE_CREATE as Discord would."""
        member = self.member(member) if isinstance(member, str) else member
        channel = self.channel(channel) if isinstance(channel, str) else channel
        body = {"content": content}
        stored = self._store_message(int(channel["id"]), member["user"], body, member=member)
        await self._dispatch_message(stored)
        return stored

    def _command_data(self, command: dict, name: str, options: dict, focused: str | None = None) -> dict:
        parts = name.split(" ")
        schema, path = command, []
        for part in parts[1:]:
            schema = next((o for o in schema.get("options", []) if o["name"] == part and o["type"] in (1, 2)), None)
            if schema is None:
                raise KeyError(f"/{name}: no subcommand {part!r} registered")
            path.append(schema)
        resolved: dict[str, dict] = {}
        given = []
        declared = {o["name"]: o for o in schema.get("options", []) if o["type"] not in (1, 2)}
        unknown = set(options) - set(declared)
        if unknown:
            raise KeyError(f"/{name} has no option {sorted(unknown)}")
        for option_name, spec in declared.items():
            if option_name not in options or options[option_name] is None:
                if spec.get("required") and option_name != focused:
                    raise ValueError(f"Discord will not send /{name} without {option_name}")
                continue
            value = options[option_name]
            entry = {"name": option_name, "type": spec["type"]}
            if option_name == focused:
                entry.update(value=str(value), focused=True)
            else:
                entry["value"] = self._option_value(spec, value, resolved, name)
            given.append(entry)
        for sub in reversed(path):
            given = [{"name": sub["name"], "type": sub["type"], "options": given}]
        data = {
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "guild_id": str(self.guild_id),
            "options": given,
        }
        if resolved:
            data["resolved"] = resolved
        return data

    def _option_value(self, spec: dict, value: Any, resolved: dict, name: str) -> Any:
        kind = spec["type"]
        label = f"/{name} {spec['name']}"
        if spec.get("choices") and value not in [c["value"] for c in spec["choices"]]:
            raise ValueError(f"{label}: {value!r} is not one of the choices")
        if kind == 3:
            value = str(value)
            if not spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000):
                raise ValueError(f"{label}: length {len(value)} is outside what the command allows")
            return value
        if kind == 4:
            if not isinstance(value, int):
                raise ValueError(f"{label}: Discord's client only sends whole numbers")
            if spec.get("min_value") is not None and value < spec["min_value"]:
                raise ValueError(f"{label}: below the minimum")
            if spec.get("max_value") is not None and value > spec["max_value"]:
                raise ValueError(f"{label}: above the maximum")
            return value
        if kind == 6:
            member = self.member(value)
            user_id = member["user"]["id"]
            resolved.setdefault("users", {})[user_id] = member["user"]
            partial = {k: v for k, v in member.items() if k != "user"}
            resolved.setdefault("members", {})[user_id] = {**partial, "permissions": "0"}
            return user_id
        if kind == 7:
            channel = self.channel(value)
            types = spec.get("channel_types")
            if types and channel["type"] not in types:
                raise ValueError(f"{label}: Discord's picker does not offer {channel['name']}")
            resolved.setdefault("channels", {})[channel["id"]] = {
                k: channel[k] for k in ("id", "name", "type", "parent_id") if k in channel
            } | {"permissions": str((1 << 53) - 1)}
            if "thread_metadata" in channel:
                resolved["channels"][channel["id"]]["thread_metadata"] = channel["thread_metadata"]
            return channel["id"]
        if kind == 5:
            return bool(value)
        raise ValueError(f"{label}: option type {kind} is not supported by the fake")

    async def _interact(
        self,
        kind: int,
        member: dict,
        channel: dict,
        data: dict,
        *,
        name: str = "",
        message: StoredMessage | None = None,
    ) -> FakeInteraction:
        if not self.connected:
            raise AssertionError("no bot is connected to the fake gateway")
        user_id = int(member["user"]["id"])
        loop = asyncio.get_running_loop()
        interaction = FakeInteraction(
            id=self.snowflake(),
            token=secrets.token_urlsafe(48),
            type=kind,
            user_id=user_id,
            channel_id=int(channel["id"]),
            data=data,
            created=loop.time(),
            name=name,
            source_message_id=message.id if message else None,
            last_activity=loop.time(),
        )
        self.interactions[interaction.id] = interaction
        payload: dict[str, Any] = {
            "id": str(interaction.id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "token": interaction.token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "app_permissions": str(self.member_permissions(self.app_id)),
            "channel_id": channel["id"],
            "channel": channel,
        }
        if channel["type"] == DM:
            payload.update(user=member["user"], context=1, authorizing_integration_owners={"0": "0"})
        else:
            payload.update(
                guild_id=str(self.guild_id),
                guild={"id": str(self.guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member={**member, "permissions": str(self.member_permissions(user_id))},
                context=0,
                authorizing_integration_owners={"0": str(self.guild_id)},
            )
        if message is not None:
            payload["message"] = message.payload
        await self.dispatch("INTERACTION_CREATE", payload, intent=None)
        return interaction

    def _expired(self, interaction: FakeInteraction) -> bool:
        age = asyncio.get_running_loop().time() - interaction.created
        return interaction.response_type is None and age > self.response_deadline

    async def _exchange(self, interaction: FakeInteraction, settle: float = 0.05) -> Exchange:
        """Wait until the member sees the bot's answer: an initial response within 3 s, the
        deferred message filled in, and then no further activity for `settle` seconds."""
        what = f"an answer to interaction {interaction.name or interaction.data.get('custom_id')}"
        await self._until(
            lambda: interaction.response_type is not None or self._expired(interaction),
            self.response_deadline + 1,
            what,
        )
        if interaction.response_type is None:
            raise AssertionError("the bot did not respond within 3 s: Discord shows 'The application did not respond'")
        if interaction.response_type == DEFERRED_MESSAGE:
            await self._until(lambda: not self._loading(interaction), 30, f"{what} after deferring")
        loop = asyncio.get_running_loop()
        await self._until(lambda: loop.time() - interaction.last_activity >= settle, 30, "quiet")
        return Exchange(self, interaction)

    def _loading(self, interaction: FakeInteraction) -> bool:
        original = self.messages.get(interaction.original_id or 0)
        return bool(original and not original.deleted and original.payload["flags"] & LOADING) or (
            bool(original and original.deleted) and len(interaction.message_ids) < 2
        )

    @staticmethod
    async def _until(predicate: Callable[[], bool], within: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.005)

    async def wait_for_message(
        self, channel: dict | str, predicate: Callable[[StoredMessage], bool] = lambda m: True, within=5.0
    ) -> StoredMessage:
        channel_id = int((self.channel(channel) if isinstance(channel, str) else channel)["id"])
        found: list[StoredMessage] = []

        def check() -> bool:
            found[:] = [m for m in self.messages_in(channel_id) if predicate(m)]
            return bool(found)

        await self._until(check, within, f"a message in channel {channel_id}")
        return found[-1]

    def messages_in(self, channel: dict | str | int, *, visible_to: dict | None = None) -> list[StoredMessage]:
        if isinstance(channel, int):
            channel_id = channel
        else:
            channel_id = int((self.channel(channel) if isinstance(channel, str) else channel)["id"])
        viewer = int(visible_to["user"]["id"]) if visible_to else None
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel_id and not m.deleted and (m.visible_to is None or m.visible_to == viewer)
        ]

    # -- interaction responses ----------------------------------------------------------------
    def _live_interaction(self, interaction_id: int, token: str) -> FakeInteraction:
        interaction = self.interactions.get(interaction_id)
        if interaction is None or interaction.token != token or self._expired(interaction):
            raise ApiError(404, 10062, "Unknown interaction")
        return interaction

    def _by_token(self, app_id: str, token: str) -> FakeInteraction:
        if int(app_id) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        for interaction in self.interactions.values():
            if interaction.token == token:
                age = asyncio.get_running_loop().time() - interaction.created
                if interaction.response_type is None or age > 15 * 60:
                    raise ApiError(404, 10015, "Unknown Webhook")
                return interaction
        raise ApiError(404, 10015, "Unknown Webhook")

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._live_interaction(int(request.match_info["interaction_id"]), request.match_info["token"])
        if interaction.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        call = request[CALL]
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
        }[interaction.type]
        if kind not in allowed:
            raise invalid("type", f"Interaction response type {kind} is not valid for this interaction")
        if kind == UPDATE_MESSAGE and interaction.source_message_id is None:
            raise invalid("type", "This interaction has no message to update")
        resource: dict[str, Any] = {"type": kind}
        if kind == CHANNEL_MESSAGE:
            stored = self._respond_with_message(interaction, data, call.files)
            resource["message"] = stored.payload
        elif kind == DEFERRED_MESSAGE:
            stored = self._respond_with_message(interaction, data, [], loading=True)
            resource["message"] = stored.payload
        elif kind == UPDATE_MESSAGE:
            message = self.messages[interaction.source_message_id]
            self._apply_edit(message, data, call.files)
            resource["message"] = message.payload
        elif kind == AUTOCOMPLETE_RESULT:
            interaction.choices = _check_choices(data.get("choices"))
        elif kind == MODAL:
            interaction.modal = _check_modal(data)
        interaction.response_type = kind
        interaction.last_activity = asyncio.get_running_loop().time()
        if kind == CHANNEL_MESSAGE and not self.messages[interaction.original_id].visible_to:
            await self._dispatch_message(self.messages[interaction.original_id])
        if "with_response" not in call.query:
            return web.Response(status=204)
        original = self.messages.get(interaction.original_id or 0)
        callback = {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_id": original.payload["id"] if original else None,
            "response_message_loading": kind == DEFERRED_MESSAGE,
            "response_message_ephemeral": bool(original and original.visible_to),
        }
        return _json({"interaction": callback, "resource": resource})

    def _respond_with_message(
        self, interaction: FakeInteraction, data: dict, files: list, *, loading: bool = False
    ) -> StoredMessage:
        flags = int(data.get("flags") or 0)
        if loading:
            body = {"content": "", "flags": (flags & EPHEMERAL) | LOADING}
            stored = self._store_message(
                interaction.channel_id, self.bot_user, body, check=False, interaction=interaction
            )
        else:
            stored = self._store_message(
                interaction.channel_id, self.bot_user, data, files=files, interaction=interaction
            )
        interaction.original_id = stored.id
        interaction.message_ids.append(stored.id)
        return stored

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._by_token(request.match_info["app_id"], request.match_info["token"])
        if interaction.response_type == AUTOCOMPLETE_RESULT:
            raise ApiError(400, 50027, "Invalid Webhook Token")
        call = request[CALL]
        body = call.json or {}
        original = self.messages.get(interaction.original_id or 0)
        if original is not None and not original.deleted and original.payload["flags"] & LOADING:
            # The first followup after a deferral fills in the "thinking" message; it keeps the
            # visibility chosen when deferring.
            flags = original.payload["flags"] & EPHEMERAL
            self._apply_edit(original, {**body, "flags": flags}, call.files)
            stored = original
        else:
            stored = self._store_message(
                interaction.channel_id, self.bot_user, body, files=call.files, interaction=interaction
            )
            interaction.message_ids.append(stored.id)
        interaction.last_activity = asyncio.get_running_loop().time()
        if stored.visible_to is None:
            await self._dispatch_message(stored)
        if call.query.get("wait") not in ("1", "true", "True"):
            return web.Response(status=204)
        return _json(stored.payload)

    def _webhook_message(self, request: web.Request) -> tuple[FakeInteraction, StoredMessage]:
        interaction = self._by_token(request.match_info["app_id"], request.match_info["token"])
        ref = request.match_info["message_id"]
        message_id = interaction.original_id if ref == "@original" else int(ref)
        message = self.messages.get(message_id or 0)
        if message is None or message.deleted or message.id not in interaction.message_ids:
            raise ApiError(404, 10008, "Unknown Message")
        return interaction, message

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        return _json(self._webhook_message(request)[1].payload)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        interaction, message = self._webhook_message(request)
        call = request[CALL]
        self._apply_edit(message, call.json or {}, call.files)
        interaction.last_activity = asyncio.get_running_loop().time()
        return _json(message.payload)

    async def _delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction, message = self._webhook_message(request)
        message.deleted = True
        interaction.last_activity = asyncio.get_running_loop().time()
        return web.Response(status=204)

    # -- messages -----------------------------------------------------------------------------
    def _store_message(
        self,
        channel_id: int,
        author: dict,
        body: dict,
        *,
        files: list | None = None,
        check: bool = True,
        interaction: FakeInteraction | None = None,
        member: dict | None = None,
    ) -> StoredMessage:
        files = files or []
        if check:
            _check_message(body, files, self.attachment_size_limit)
        channel = self.channels[channel_id]
        content = body.get("content") or ""
        flags = int(body.get("flags") or 0)
        ephemeral = bool(flags & EPHEMERAL) and interaction is not None
        message_id = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": iso(),
            "edited_timestamp": None,
            "tts": False,
            "pinned": False,
            "type": 0,
            "flags": flags if interaction else 0,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": self._attachments(channel_id, body, files),
            "nonce": body.get("nonce"),
        }
        payload.update(self._mentions(content, body.get("allowed_mentions"), int(author["id"])))
        if channel["type"] != DM:
            payload["guild_id"] = str(self.guild_id)
            if member is not None:
                payload["member"] = {k: v for k, v in member.items() if k != "user"}
        if body.get("message_reference"):
            reference = body["message_reference"]
            # Discord answers with string ids whatever the client sent.
            payload["message_reference"] = {
                k: str(v) if k.endswith("_id") and v is not None else v for k, v in reference.items()
            }
            payload["type"] = 19
        if interaction is not None:
            payload["webhook_id"] = str(self.app_id)
            payload["application_id"] = str(self.app_id)
            payload["type"] = 20 if interaction.type == APPLICATION_COMMAND else 0
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": {"0": str(self.guild_id)},
            }
        stored = StoredMessage(
            payload,
            visible_to=interaction.user_id if ephemeral else None,
            files=list(files),
            interaction_id=interaction.id if interaction else None,
            allowed_mentions=body.get("allowed_mentions"),
        )
        self.messages[message_id] = stored
        if channel["type"] in THREAD_TYPES:
            channel["message_count"] = channel.get("message_count", 0) + 1
            channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        channel["last_message_id"] = str(message_id)
        return stored

    def _attachments(self, channel_id: int, body: dict, files: list) -> list[dict]:
        found = []
        for name, content, content_type in files:
            attachment_id = self.snowflake()
            found.append(
                {
                    "id": str(attachment_id),
                    "filename": name,
                    "size": len(content),
                    "url": f"http://{HOST}:{self.port}/attachments/{channel_id}/{attachment_id}/{name}",
                    "proxy_url": f"http://{HOST}:{self.port}/attachments/{channel_id}/{attachment_id}/{name}",
                    "content_type": content_type,
                }
            )
        return found

    def _mentions(self, content: str, allowed: dict | None, author_id: int | None = None) -> dict:
        """Who gets pinged: Discord parses every kind of mention unless allowed_mentions says,
        and pings a role only if it is mentionable or the author may mention everyone."""
        parse = ["users", "roles", "everyone"] if allowed is None else allowed.get("parse", [])
        users = {int(u) for u in MENTION_USER.findall(content)}
        roles = {int(r) for r in MENTION_ROLE.findall(content)}
        if "users" not in parse:
            users &= {int(u) for u in (allowed or {}).get("users", [])}
        if "roles" not in parse:
            roles &= {int(r) for r in (allowed or {}).get("roles", [])}
        if author_id is not None and author_id in self.members:
            may_mention_all = bool(self.member_permissions(author_id) & MENTION_EVERYONE)
            roles = {r for r in roles if may_mention_all or self.roles.get(r, {}).get("mentionable")}
        return {
            "mentions": [self.users[u] for u in users if u in self.users],
            "mention_roles": [str(r) for r in roles if r in self.roles],
            "mention_everyone": "everyone" in parse and ("@everyone" in content or "@here" in content),
        }

    def _apply_edit(self, message: StoredMessage, body: dict, files: list) -> None:
        merged = {
            "content": body.get("content", message.payload["content"]),
            "embeds": body.get("embeds", message.payload["embeds"]),
            "components": body.get("components", message.payload["components"]),
        }
        kept = [a for a in message.payload["attachments"] if "attachments" not in body]
        _check_message(merged, files or kept, self.attachment_size_limit)
        message.payload.update(merged)
        if files:
            message.files = list(files)
            message.payload["attachments"] = self._attachments(message.channel_id, body, files)
        allowed = body.get("allowed_mentions")
        author_id = int(message.payload["author"]["id"])
        message.payload.update(self._mentions(merged["content"] or "", allowed, author_id))
        message.allowed_mentions = allowed
        flags = body.get("flags", message.payload["flags"] & ~LOADING)
        message.payload["flags"] = int(flags or 0) & ~LOADING
        message.payload["edited_timestamp"] = iso()

    async def _dispatch_message(self, message: StoredMessage) -> None:
        channel = self.channels[message.channel_id]
        is_dm = channel["type"] == DM
        intent = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
        for session in list(self._sessions):
            if not session.identified or not session.intents & intent:
                continue
            payload = message.payload
            mentioned = any(int(u["id"]) == self.app_id for u in payload["mentions"])
            own = int(payload["author"]["id"]) == self.app_id
            if not (session.intents & INTENT_MESSAGE_CONTENT or is_dm or mentioned or own):
                # Without the privileged intent Discord blanks what the bot may not read.
                payload = {**payload, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._send_event(session, "MESSAGE_CREATE", payload)

    async def _post_message(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["channel_id"])
        call = request[CALL]
        body = call.json or {}
        if channel["type"] in (CATEGORY, FORUM):
            raise ApiError(400, 40058, "Cannot send messages in this kind of channel; create a thread")
        if channel["type"] in THREAD_TYPES:
            self._require(SEND_MESSAGES_IN_THREADS, "send messages in threads")
            if channel["thread_metadata"]["locked"]:
                raise ApiError(400, 50083, "Thread is archived")
            if channel["thread_metadata"]["archived"]:
                channel["thread_metadata"]["archived"] = False  # sending unarchives, as on Discord
                await self.dispatch("THREAD_UPDATE", channel)
        elif channel["type"] != DM:
            self._require(SEND_MESSAGES, "send messages")
        elif int(channel["recipients"][0]["id"]) in self.dms_refused:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        if call.files:
            self._require(ATTACH_FILES, "attach files")
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            raise invalid("nonce", "Must be 25 or fewer in length.")
        key = (int(channel["id"]), str(nonce))
        if nonce is not None and body.get("enforce_nonce") and key in self._nonces:
            # The same nonce within a few minutes: Discord returns the first message, no duplicate.
            return _json(self.messages[self._nonces[key]].payload)
        stored = self._store_message(int(channel["id"]), self.bot_user, body, files=call.files)
        if nonce is not None:
            self._nonces[key] = stored.id
        await self._dispatch_message(stored)
        return _json(stored.payload)

    async def _get_message(self, request: web.Request) -> web.Response:
        self._channel_or_404(request.match_info["channel_id"])
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or message.deleted or message.visible_to is not None:
            raise ApiError(404, 10008, "Unknown Message")
        return _json(message.payload)

    async def _attachment(self, request: web.Request) -> web.Response:
        wanted = request.match_info["attachment_id"]
        for message in self.messages.values():
            for meta, (_, content, content_type) in zip(message.payload["attachments"], message.files, strict=False):
                if meta["id"] == wanted:
                    return web.Response(body=content, content_type=content_type)
        raise web.HTTPNotFound()

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = request[CALL].json or {}
        user_id = int(body.get("recipient_id", 0))
        if user_id not in self.users:
            raise ApiError(404, 10013, "Unknown User")
        for channel in self.channels.values():
            if channel["type"] == DM and channel["recipients"][0]["id"] == str(user_id):
                return _json(channel)
        channel_id = self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": DM,
            "recipients": [self.users[user_id]],
            "last_message_id": None,
            "flags": 0,
        }
        self.channels[channel_id] = channel
        return _json(channel)

    # -- channels and threads -----------------------------------------------------------------
    def _create_channel_payload(
        self, name: str, kind: int, parent_id: int | None, overwrites: list, topic: str | None, **extra: Any
    ) -> dict:
        guild_channels = [c for c in self.channels.values() if c["type"] not in (DM, *THREAD_TYPES)]
        if len(guild_channels) >= MAX_CHANNELS:
            raise ApiError(400, 30013, "Maximum number of guild channels reached (500)")
        if parent_id is not None:
            parent = self.channels.get(parent_id)
            if parent is None or parent["type"] != CATEGORY:
                raise invalid("parent_id", "Category does not exist.", "CHANNEL_PARENT_INVALID")
            if kind == CATEGORY:
                raise invalid("parent_id", "Categories cannot have subcategories")
            children = [c for c in guild_channels if c.get("parent_id") == str(parent_id)]
            if len(children) >= MAX_PER_CATEGORY:
                raise invalid(
                    "parent_id",
                    "Maximum number of channels in category reached (50)",
                    "CHANNEL_PARENT_MAX_CHANNELS",
                )
        if not 1 <= len(name) <= 100:
            raise invalid("name", "Must be between 1 and 100 in length.")
        if kind in (TEXT, FORUM):  # Discord slugs text channel names
            name = re.sub(r"[\s]+", "-", name.strip().lower())
        channel_id = self.snowflake()
        channel = {
            "id": str(channel_id),
            "type": kind,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(guild_channels),
            "permission_overwrites": overwrites,
            "parent_id": str(parent_id) if parent_id else None,
            "nsfw": False,
            "flags": 0,
        }
        if kind in (TEXT, FORUM):
            channel.update(topic=topic, last_message_id=None, rate_limit_per_user=0)
        if kind == FORUM:
            channel.update(
                available_tags=extra.get("available_tags", []),
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
            )
        self.channels[channel_id] = channel
        return channel

    async def _create_guild_channel(self, request: web.Request) -> web.Response:
        self._guild(request)
        self._require(MANAGE_CHANNELS, "manage channels")
        body = request[CALL].json or {}
        kind = body.get("type", TEXT)
        if kind not in (TEXT, CATEGORY, FORUM, 2, 5, 13):
            raise invalid("type", f"Channel type {kind} cannot be created here")
        overwrites = body.get("permission_overwrites") or []
        if overwrites:
            self._require(MANAGE_ROLES, "set channel permissions")
        tags = body.get("available_tags") or []
        if len(tags) > MAX_FORUM_TAGS:
            raise invalid("available_tags", "Must be 20 or fewer in length.")
        for index, tag in enumerate(tags):
            if not 1 <= len(tag.get("name") or "") <= MAX_TAG_NAME:
                raise invalid(f"available_tags.{index}.name", "Must be between 1 and 20 in length.")
        if len({t["name"] for t in tags}) != len(tags):
            raise invalid("available_tags", "Tag names must be unique")
        parent = body.get("parent_id")
        channel = self._create_channel_payload(
            body.get("name", ""),
            kind,
            int(parent) if parent else None,
            [{**o, "id": str(o["id"]), "allow": str(o["allow"]), "deny": str(o["deny"])} for o in overwrites],
            body.get("topic"),
            available_tags=[{**t, "id": str(self.snowflake())} for t in tags],
        )
        await self.dispatch("CHANNEL_CREATE", channel)
        return _json(channel)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        return _json([c for c in self.channels.values() if c["type"] not in (DM, *THREAD_TYPES)])

    async def _get_channel(self, request: web.Request) -> web.Response:
        return _json(self._channel_or_404(request.match_info["channel_id"]))

    async def _edit_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["channel_id"])
        body = request[CALL].json or {}
        if channel["type"] in THREAD_TYPES:
            metadata = channel["thread_metadata"]
            if "locked" in body or int(channel.get("owner_id", 0)) != self.app_id:
                self._require(MANAGE_THREADS, "manage threads")
            if "auto_archive_duration" in body and body["auto_archive_duration"] not in ARCHIVE_DURATIONS:
                raise invalid("auto_archive_duration", "Value must be one of (60, 1440, 4320, 10080).")
            for key in ("archived", "locked", "auto_archive_duration"):
                if key in body:
                    metadata[key] = body[key]
            if "archived" in body:
                metadata["archive_timestamp"] = iso()
            if "name" in body:
                channel["name"] = body["name"]
            await self.dispatch("THREAD_UPDATE", channel)
            return _json(channel)
        self._require(MANAGE_CHANNELS, "manage channels")
        for key in ("name", "topic", "position", "nsfw"):
            if key in body:
                channel[key] = body[key]
        if "parent_id" in body:
            parent = body["parent_id"]
            if parent and self.channels.get(int(parent), {}).get("type") != CATEGORY:
                raise invalid("parent_id", "Category does not exist.")
            channel["parent_id"] = str(parent) if parent else None
        if "permission_overwrites" in body:
            self._require(MANAGE_ROLES, "set channel permissions")
            channel["permission_overwrites"] = [
                {**o, "id": str(o["id"]), "allow": str(o["allow"]), "deny": str(o["deny"])}
                for o in body["permission_overwrites"]
            ]
        await self.dispatch("CHANNEL_UPDATE", channel)
        return _json(channel)

    async def _put_overwrite(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["channel_id"])
        self._require(MANAGE_ROLES, "manage permissions")
        body = request[CALL].json or {}
        target = request.match_info["target_id"]
        if body.get("type") not in (0, 1):  # a role or a member; Discord requires it
            raise invalid("type", "Value must be one of (0, 1).")
        overwrite = {"id": target, "type": body["type"], "allow": str(body.get("allow", 0))}
        overwrite["deny"] = str(body.get("deny", 0))
        channel["permission_overwrites"] = [o for o in channel["permission_overwrites"] if o["id"] != target]
        channel["permission_overwrites"].append(overwrite)
        await self.dispatch("CHANNEL_UPDATE", channel)
        return web.Response(status=204)

    async def _delete_overwrite(self, request: web.Request) -> web.Response:
        channel = self._channel_or_404(request.match_info["channel_id"])
        self._require(MANAGE_ROLES, "manage permissions")
        target = request.match_info["target_id"]
        channel["permission_overwrites"] = [o for o in channel["permission_overwrites"] if o["id"] != target]
        await self.dispatch("CHANNEL_UPDATE", channel)
        return web.Response(status=204)

    def _new_thread(self, parent: dict, name: str, kind: int, duration: int, thread_id: int) -> dict:
        if not 1 <= len(name) <= 100:
            raise invalid("name", "Must be between 1 and 100 in length.")
        if duration not in ARCHIVE_DURATIONS:
            raise invalid("auto_archive_duration", "Value must be one of (60, 1440, 4320, 10080).")
        now = iso()
        thread = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": str(self.guild_id),
            "parent_id": parent["id"],
            "owner_id": str(self.app_id),
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "total_message_sent": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.app_id}
        return thread

    async def _create_thread(self, request: web.Request) -> web.Response:
        parent = self._channel_or_404(request.match_info["channel_id"])
        call = request[CALL]
        body = call.json or {}
        duration = body.get("auto_archive_duration", 4320)
        if parent["type"] == FORUM:
            self._require(SEND_MESSAGES, "post in the forum")
            first = body.get("message")
            if not first:
                raise invalid("message", "A forum post needs a first message")
            applied = [str(t) for t in body.get("applied_tags") or []]
            known = {t["id"] for t in parent.get("available_tags", [])}
            if len(applied) > 5 or not set(applied) <= known:
                raise invalid("applied_tags", "At most 5 of the forum's own tags")
            _check_message(first, call.files, self.attachment_size_limit)
            thread = self._new_thread(parent, body.get("name", ""), PUBLIC_THREAD, duration, self.snowflake())
            thread["applied_tags"] = applied
            stored = self._store_message(int(thread["id"]), self.bot_user, first, files=call.files)
            # A forum post's first message has the thread's id.
            del self.messages[stored.id]
            stored.payload["id"] = thread["id"]
            self.messages[int(thread["id"])] = stored
            await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
            return _json({**thread, "message": stored.payload})
        if parent["type"] not in (TEXT, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = body.get("type", PRIVATE_THREAD)
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD, 10):
            raise invalid("type", f"Channel type {kind} is not a thread type")
        if kind == PRIVATE_THREAD:
            self._require(CREATE_PRIVATE_THREADS, "create private threads")
        else:
            self._require(CREATE_PUBLIC_THREADS, "create threads")
        thread = self._new_thread(parent, body.get("name", ""), kind, duration, self.snowflake())
        if kind == PRIVATE_THREAD:
            thread["thread_metadata"]["invitable"] = bool(body.get("invitable", True))
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread)

    async def _thread_from_message(self, request: web.Request) -> web.Response:
        parent = self._channel_or_404(request.match_info["channel_id"])
        message = self.messages.get(int(request.match_info["message_id"]))
        if message is None or message.channel_id != int(parent["id"]):
            raise ApiError(404, 10008, "Unknown Message")
        self._require(CREATE_PUBLIC_THREADS, "create threads")
        body = request[CALL].json or {}
        thread = self._new_thread(
            parent, body.get("name", ""), PUBLIC_THREAD, body.get("auto_archive_duration", 4320), message.id
        )
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread)

    async def _add_thread_member(self, request: web.Request) -> web.Response:
        thread = self._channel_or_404(request.match_info["channel_id"])
        if thread["type"] not in THREAD_TYPES:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if thread["thread_metadata"]["archived"]:
            raise ApiError(400, 50083, "Thread is archived")
        user_id = int(self._member_or_404(request.match_info["user_id"])["user"]["id"])
        members = self.thread_members.setdefault(int(thread["id"]), set())
        if thread["type"] == PRIVATE_THREAD and self.app_id not in members:
            self._require(MANAGE_THREADS, "add members to a private thread it is not in")
        if user_id not in members:
            members.add(user_id)
            thread["member_count"] = len(members)
            added = {
                "id": thread["id"],
                "user_id": str(user_id),
                "join_timestamp": iso(),
                "flags": 0,
                "member": self.members[user_id],
            }
            event = {"id": thread["id"], "guild_id": str(self.guild_id), "member_count": len(members)}
            await self.dispatch("THREAD_MEMBERS_UPDATE", {**event, "added_members": [added]}, INTENT_GUILD_MEMBERS)
        return web.Response(status=204)

    async def _remove_thread_member(self, request: web.Request) -> web.Response:
        thread = self._channel_or_404(request.match_info["channel_id"])
        if thread["type"] not in THREAD_TYPES:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        self._require(MANAGE_THREADS, "remove thread members")
        if thread["thread_metadata"]["archived"]:
            raise ApiError(400, 50083, "Thread is archived")
        user_id = int(self._member_or_404(request.match_info["user_id"])["user"]["id"])
        members = self.thread_members.setdefault(int(thread["id"]), set())
        members.discard(user_id)
        thread["member_count"] = len(members)
        event = {"id": thread["id"], "guild_id": str(self.guild_id), "member_count": len(members)}
        await self.dispatch(
            "THREAD_MEMBERS_UPDATE", {**event, "removed_member_ids": [str(user_id)]}, INTENT_GUILD_MEMBERS
        )
        return web.Response(status=204)

    # -- roles --------------------------------------------------------------------------------
    def _role_change(self, request: web.Request) -> tuple[dict, dict]:
        self._guild(request)
        member = self._member_or_404(request.match_info["user_id"])
        role = self.roles.get(int(request.match_info["role_id"]))
        if role is None:
            raise ApiError(404, 10011, "Unknown Role")
        self._require(MANAGE_ROLES, "manage roles")
        if role["managed"] or role["position"] >= self._top_position(self.app_id):
            raise ApiError(403, 50013, "Missing Permissions (role is above the bot's highest role)")
        return member, role

    async def _member_update(self, member: dict) -> None:
        await self.dispatch("GUILD_MEMBER_UPDATE", {**member, "guild_id": str(self.guild_id)}, INTENT_GUILD_MEMBERS)

    async def _add_member_role(self, request: web.Request) -> web.Response:
        member, role = self._role_change(request)
        if role["id"] not in member["roles"]:
            member["roles"].append(role["id"])
            await self._member_update(member)
        return web.Response(status=204)

    async def _remove_member_role(self, request: web.Request) -> web.Response:
        member, role = self._role_change(request)
        if role["id"] in member["roles"]:
            member["roles"].remove(role["id"])
            await self._member_update(member)
        return web.Response(status=204)

    # -- scheduled events ---------------------------------------------------------------------
    async def _create_event(self, request: web.Request) -> web.Response:
        self._guild(request)
        if not self.member_permissions(self.app_id) & (MANAGE_EVENTS | CREATE_EVENTS):
            raise ApiError(403, 50013, "Missing Permissions (create events)")
        body = request[CALL].json or {}
        name = body.get("name", "")
        if not 1 <= len(name) <= 100:
            raise invalid("name", "Must be between 1 and 100 in length.")
        if len(body.get("description") or "") > 1000:
            raise invalid("description", "Must be 1000 or fewer in length.")
        start = dt.datetime.fromisoformat(body["scheduled_start_time"])
        end = body.get("scheduled_end_time")
        if start < dt.datetime.now(dt.UTC):
            raise invalid("scheduled_start_time", "Cannot schedule event in the past.")
        if body.get("entity_type") == 3:
            location = (body.get("entity_metadata") or {}).get("location", "")
            if not 1 <= len(location) <= 100:
                raise invalid("entity_metadata.location", "An external event needs a location (1–100).")
            if not end:
                raise invalid("scheduled_end_time", "An external event needs an end time.")
        if end and dt.datetime.fromisoformat(end) <= start:
            raise invalid("scheduled_end_time", "The end must be after the start.")
        event_id = self.snowflake()
        event = {
            "id": str(event_id),
            "guild_id": str(self.guild_id),
            "channel_id": body.get("channel_id"),
            "creator_id": str(self.app_id),
            "creator": self.bot_user,
            "name": name,
            "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": end,
            "privacy_level": body.get("privacy_level", 2),
            "status": 1,
            "entity_type": body.get("entity_type"),
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata"),
            "user_count": 0,
            "image": None,
            "recurrence_rule": None,
        }
        self.scheduled_events[event_id] = event
        await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event, INTENT_SCHEDULED_EVENTS)
        return _json(event)

    async def _list_events(self, request: web.Request) -> web.Response:
        self._guild(request)
        return _json(list(self.scheduled_events.values()))


@dataclass
class Exchange:
    """What a member saw in answer to one interaction: messages, a modal, or choices."""

    fake: FakeDiscord
    interaction: FakeInteraction

    @property
    def messages(self) -> list[StoredMessage]:
        found = [self.fake.messages[i] for i in self.interaction.message_ids]
        return [m for m in found if not m.deleted]

    @property
    def text(self) -> str:
        return "\n".join(m.content for m in self.messages)

    @property
    def ephemeral(self) -> bool:
        return bool(self.messages) and all(m.visible_to is not None for m in self.messages)

    @property
    def modal(self) -> dict | None:
        return self.interaction.modal

    @property
    def deferred(self) -> bool:
        return self.interaction.response_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE)

    @property
    def files(self) -> list[tuple[str, bytes, str]]:
        return [f for m in self.messages for f in m.files]

    def buttons(self) -> list[dict]:
        return [c for m in self.messages for c in m.components() if c["type"] == 2]

    def message_with(self, label: str) -> StoredMessage:
        for message in self.messages:
            if any(label in (c.get("label"), c.get("custom_id")) for c in message.components()):
                return message
        raise KeyError(f"no button {label!r}; buttons: {[b.get('label') for b in self.buttons()]}")

    def modal_input(self, label: str) -> dict:
        """The input under `label` in the opened modal (its pre-filled value, options, limits)."""
        for component in (self.modal or {}).get("components", []):
            if component["type"] == 18 and component["label"] == label:
                return component["component"]
        raise KeyError(f"the modal has no input labelled {label!r}")


# -- validation shared by messages, modals and commands ----------------------------------------
def _check_message(body: dict, files: list, size_limit: int) -> None:
    content = body.get("content") or ""
    if len(content) > 2000:
        raise invalid("content", "Must be 2000 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        raise invalid("embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    total = 0
    for index, embed in enumerate(embeds):
        where = f"embeds.{index}"
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            if len(embed.get(key) or "") > limit:
                raise invalid(f"{where}.{key}", f"Must be {limit} or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise invalid(f"{where}.fields", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        for number, item in enumerate(fields):
            if len(item.get("name") or "") > 256 or len(item.get("value") or "") > 1024:
                raise invalid(f"{where}.fields.{number}", "Field name ≤ 256, value ≤ 1024 characters.")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        if len(footer) > 2048 or len(author) > 256:
            raise invalid(where, "Footer text ≤ 2048, author name ≤ 256 characters.")
        total += len(embed.get("title") or "") + len(embed.get("description") or "") + len(footer)
        total += len(author) + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
    if total > 6000:
        raise invalid("embeds", "Embed size exceeds maximum size of 6000", "MAX_EMBED_SIZE_EXCEEDED")
    if len(files) > 10:
        raise invalid("files", "Must be 10 or fewer in length.")
    for name, content_bytes, _ in files:
        if len(content_bytes) > size_limit:
            raise ApiError(413, 40005, f"Request entity too large ({name})")
    _check_components(body.get("components") or [])
    if not content and not embeds and not files and not body.get("sticker_ids") and not body.get("poll"):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _check_components(rows: list[dict]) -> None:
    if len(rows) > 5:
        raise invalid("components", "Must be 5 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        if row.get("type") != 1:
            raise invalid(f"components.{r}", "Top-level components must be action rows")
        items = row.get("components") or []
        if not 1 <= len(items) <= 5:
            raise invalid(f"components.{r}.components", "An action row holds 1–5 components")
        for i, item in enumerate(items):
            where = f"components.{r}.components.{i}"
            if item.get("type") == 2:
                if len(item.get("label") or "") > 80:
                    raise invalid(f"{where}.label", "Must be 80 or fewer in length.")
                if item.get("style") == 5:
                    if not item.get("url") or item.get("custom_id"):
                        raise invalid(where, "A link button has a url and no custom_id")
                    continue
            elif len(items) != 1:
                raise invalid(where, "A select menu fills its action row")
            _check_custom_id(where, item.get("custom_id"), seen)


def _check_custom_id(where: str, custom_id: Any, seen: set[str]) -> None:
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
        raise invalid(f"{where}.custom_id", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
    if custom_id in seen:
        raise invalid(
            f"{where}.custom_id", "Component custom id cannot be duplicated", "COMPONENT_CUSTOM_ID_DUPLICATED"
        )
    seen.add(custom_id)


def _check_modal(data: dict) -> dict:
    title = data.get("title") or ""
    if not 1 <= len(title) <= 45:
        raise invalid("data.title", "Must be between 1 and 45 in length.", "BASE_TYPE_BAD_LENGTH")
    _check_custom_id("data", data.get("custom_id"), set())
    components = data.get("components") or []
    if not 1 <= len(components) <= 5:
        raise invalid("data.components", "Must be between 1 and 5 in length.", "BASE_TYPE_BAD_LENGTH")
    seen: set[str] = set()
    for index, component in enumerate(components):
        where = f"data.components.{index}"
        if component["type"] == 18:
            if not 1 <= len(component.get("label") or "") <= 45:
                raise invalid(f"{where}.label", "Must be between 1 and 45 in length.")
            if len(component.get("description") or "") > 100:
                raise invalid(f"{where}.description", "Must be 100 or fewer in length.")
            _check_modal_input(f"{where}.component", component["component"], seen, labelled=True)
        elif component["type"] == 1:
            inner = component.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != 4:
                raise invalid(where, "An action row in a modal holds exactly one text input")
            if not 1 <= len(inner[0].get("label") or "") <= 45:
                raise invalid(f"{where}.components.0.label", "Must be between 1 and 45 in length.")
            _check_modal_input(f"{where}.components.0", inner[0], seen, labelled=False)
        elif component["type"] != 10:  # text display
            raise invalid(where, f"Component type {component['type']} cannot be used in a modal")
    return data


def _check_modal_input(where: str, item: dict, seen: set[str], labelled: bool) -> None:
    _check_custom_id(where, item.get("custom_id"), seen)
    if item["type"] == 4:
        if labelled and item.get("label"):
            raise invalid(f"{where}.label", "A text input inside a label has no label of its own")
        if item.get("style") not in (1, 2):
            raise invalid(f"{where}.style", "Text input style is 1 (short) or 2 (paragraph)")
        low, high = item.get("min_length", 0), item.get("max_length", 4000)
        if not 0 <= low <= 4000 or not 1 <= high <= 4000 or low > high:
            raise invalid(where, "Text input lengths must satisfy 0 ≤ min ≤ max ≤ 4000")
        value = item.get("value") or ""
        if len(value) > high:
            raise invalid(f"{where}.value", f"Must be {high} or fewer in length.")
        if len(item.get("placeholder") or "") > 100:
            raise invalid(f"{where}.placeholder", "Must be 100 or fewer in length.")
    elif item["type"] == 3:
        if not labelled:
            raise invalid(where, "A select in a modal must sit inside a label")
        options = item.get("options") or []
        if not 1 <= len(options) <= 25:
            raise invalid(f"{where}.options", "Must be between 1 and 25 in length.")
        for number, option in enumerate(options):
            if not 1 <= len(option.get("label") or "") <= 100 or not 1 <= len(option.get("value") or "") <= 100:
                raise invalid(f"{where}.options.{number}", "Option label and value are 1–100 characters")
        if len({o["value"] for o in options}) != len(options):
            raise invalid(f"{where}.options", "Option values must be unique")
    else:
        raise invalid(where, f"Component type {item['type']} is not supported by the fake in modals")


def _check_choices(choices: Any) -> list[dict]:
    if not isinstance(choices, list):
        raise invalid("data.choices", "Choices must be a list")
    if len(choices) > 25:
        raise invalid("data.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    for index, choice in enumerate(choices):
        if not 1 <= len(choice.get("name") or "") <= 100:
            raise invalid(f"data.choices.{index}.name", "Must be between 1 and 100 in length.")
        if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
            raise invalid(f"data.choices.{index}.value", "Must be 100 or fewer in length.")
    return choices


def _check_command(command: dict, where: str) -> None:
    if command.get("type", 1) != 1:
        return
    _check_name_description(command, where)
    _check_options(command.get("options") or [], f"{where}.options", depth=0)


def _check_name_description(item: dict, where: str) -> None:
    name = item.get("name") or ""
    if not COMMAND_NAME.match(name) or name != name.lower():
        raise invalid(f"{where}.name", f"Command name {name!r} is invalid", "APPLICATION_COMMAND_INVALID_NAME")
    if not 1 <= len(item.get("description") or "") <= 100:
        raise invalid(f"{where}.description", "Must be between 1 and 100 in length.")


def _check_options(options: list[dict], where: str, depth: int) -> None:
    if len(options) > 25:
        raise invalid(where, "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    names = [o.get("name") for o in options]
    if len(names) != len(set(names)):
        raise invalid(where, "Option names must be unique", "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS")
    seen_optional = False
    for index, option in enumerate(options):
        here = f"{where}.{index}"
        _check_name_description(option, here)
        kind = option.get("type")
        if kind in (1, 2):
            # Groups sit only at the top; subcommands at the top or inside a group.
            if (kind == 2 and depth > 0) or (kind == 1 and depth > 1):
                raise invalid(here, "Subcommands nest at most two levels deep")
            _check_options(option.get("options") or [], f"{here}.options", depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                raise invalid(here, "Required options must be placed before non-required options")
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            raise invalid(f"{here}.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        if choices and option.get("autocomplete"):
            raise invalid(here, "Autocomplete cannot be used with choices")
        if kind == 3 and not 1 <= option.get("max_length", 6000) <= 6000:
            raise invalid(f"{here}.max_length", "Must be between 1 and 6000.")


async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, bytes, str]]]:
    if not request.can_read_body:
        return None, []
    content_type = request.content_type
    if content_type.startswith("multipart/"):
        payload, files = None, []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            elif part.filename:
                files.append(
                    (
                        part.filename,
                        bytes(await part.read()),
                        part.headers.get("Content-Type", "application/octet-stream"),
                    )
                )
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    if content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text=f"expected JSON, got {content_type}")
    return json.loads(raw), []


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly application/json: discord.py treats a body with a charset parameter as text.
    return web.Response(status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
