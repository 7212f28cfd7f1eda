"""A fake Slack: the Web API, response_url endpoints, file uploads and a Socket Mode websocket.

It listens on 127.0.0.1 on an ephemeral port, records every call with its decoded arguments, and
enforces the rules that make real Slack refuse a request, so a bug that would fail in production
fails here: token checks, trigger_id expiry (3 s) and single use, channel-name rules, membership
(`not_in_channel`, `already_in_channel`), Block Kit limits, response_url use limits, and a
per-channel posting rate. Tests can inject 429s (with Retry-After) and 5xx errors on demand.

Arguments arrive the way slack_sdk sends them: JSON bodies (chat.*, views.*), form bodies, and
query strings (conversations.*, users.info and other GETs; slack_sdk puts POST "params" there too),
with nested values such as `blocks` sometimes JSON-encoded strings. All are merged and decoded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

JSON_FIELDS = ("blocks", "view", "metadata", "files", "attachments")
CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")


class SlackError(Exception):
    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any):
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    http: str = "POST"
    status: int = 200
    error: str = ""
    target: str = ""  # the response_url token or uploaded file id, for calls outside /api
    response: dict[str, Any] = field(default_factory=dict)  # what the fake answered
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error


@dataclass
class Failure:
    method: str
    status: int
    error: str
    retry_after: float | None
    times: int
    when: Callable[[dict[str, Any]], bool] | None
    after_commit: bool


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: set[str] = field(default_factory=set)
    archived: bool = False
    topic: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    is_mpim: bool = False  # a group DM, opened with conversations.open for 2 to 8 people

    @property
    def kind(self) -> str:
        """Its conversations.list `types` name."""
        if self.is_im or self.is_mpim:
            return "im" if self.is_im else "mpim"
        return "private_channel" if self.is_private else "public_channel"

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_private": self.is_private,
            "is_im": self.is_im,
            "is_mpim": self.is_mpim,
            "is_archived": self.archived,
            "num_members": len(self.members),
            "topic": {"value": self.topic},
        }


@dataclass
class ResponseUrl:
    channel: str
    user: str
    uses: int = 0
    created: float = field(default_factory=time.monotonic)


class FakeSlack:
    BOT_TOKEN = "xoxb-0000-fake-bot-token"
    APP_TOKEN = "xapp-1-A0000APP-fake-app-token"
    BOT_USER = "UBOT0000"
    BOT_ID = "B0000BOT"
    TEAM = "T0000TEAM"
    APP_ID = "A0000APP"
    TRIGGER_TTL = 3.0
    RESPONSE_URL_USES = 5
    RESPONSE_URL_TTL = 30 * 60.0

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float | None] = {}  # id -> issued at (None once used)
        self.response_urls: dict[str, ResponseUrl] = {}
        # chat.postMessage per channel: (burst, per second), like Slack's "1 per second, short bursts".
        self.channel_rate: tuple[int, float] | None = (4, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: list[Failure] = []
        self._ids = itertools.count(1)
        self._ts_base = int(time.time())
        self._runner: web.AppRunner | None = None
        self.url = ""
        # Socket Mode
        self.socket: web.WebSocketResponse | None = None
        self.socket_connected = asyncio.Event()
        self.socket_acks: list[dict[str, Any]] = []
        self._pending_acks: dict[str, asyncio.Future] = {}
        self._socket_tasks: set[asyncio.Task] = set()
        self.add_user(self.BOT_USER, "conference-bot", is_bot=True)

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        if self.socket is not None and not self.socket.closed:
            await self.socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- the directory ------------------------------------------------------------------------------------
    def add_user(self, user_id: str, name: str, tz: str = "America/New_York", is_bot: bool = False) -> str:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.TEAM,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "tz": tz,
            "is_bot": is_bot,
            "profile": {"display_name": name, "real_name": name},
        }
        return user_id

    def add_channel(self, name: str, *, private: bool = False, members: tuple[str, ...] = (), bot: bool = True) -> str:
        channel_id = f"C{next(self._ids):07d}"
        people = set(members) | ({self.BOT_USER} if bot else set())
        self.channels[channel_id] = Channel(channel_id, name, private, members=people)
        return channel_id

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def channel_named(self, name: str) -> Channel:
        return next(c for c in self.channels.values() if c.name == name)

    def delete_channel(self, name: str) -> None:
        """An admin deleted the channel: it is gone, and its name is free again."""
        del self.channels[self.channel_named(name).id]

    def group_dms(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_mpim]

    def mpim_channel(self, users: list[str]) -> tuple[Channel, bool]:
        """The group DM of these people and the bot (the same one for the same people, in any order),
        and whether it was open already."""
        members = frozenset(users) | {self.BOT_USER}
        for channel in self.channels.values():
            if channel.is_mpim and frozenset(channel.members) == members:
                return channel, True
        channel_id = f"G{next(self._ids):07d}"
        name = "mpdm-" + "--".join(self.users[u]["name"] for u in users) + "-1"
        self.channels[channel_id] = Channel(channel_id, name, True, members=set(members), is_mpim=True)
        return self.channels[channel_id], False

    # -- what Slack hands the app with a request ----------------------------------------------------------
    def trigger(self) -> str:
        trigger_id = f"{next(self._ids)}.{secrets.token_hex(6)}"
        self.triggers[trigger_id] = time.monotonic()
        return trigger_id

    def response_url(self, channel: str, user: str) -> str:
        token = secrets.token_hex(8)
        self.response_urls[token] = ResponseUrl(channel, user)
        return f"{self.url}/response/{token}"

    # -- failure injection --------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "",
        retry_after: float | None = 1,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
        after_commit: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` (matching `when`) fail. With `after_commit`, the
        call takes effect first and still reports the failure (a 500 after posting, say)."""
        default = "ratelimited" if status == 429 else "internal_error" if status >= 500 else "fatal_error"
        self._failures.append(
            Failure(
                method,
                status,
                error or default,
                retry_after if status == 429 else None,
                times,
                when,
                after_commit,
            )
        )

    def _take_failure(self, method: str, args: dict[str, Any]) -> Failure | None:
        for failure in self._failures:
            if failure.method == method and failure.times > 0 and (failure.when is None or failure.when(args)):
                failure.times -= 1
                return failure
        return None

    # -- what tests read back -----------------------------------------------------------------------------
    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.ok or not ok_only)]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def messages(self, channel: str) -> list[dict[str, Any]]:
        return list(self.channels[channel].messages)

    async def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None, within: float = 3.0) -> Call:
        deadline = time.monotonic() + within
        while True:
            for call in self.calls_to(method):
                if predicate is None or predicate(call):
                    return call
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} call matched within {within} s; calls: {self.methods()}")
            await asyncio.sleep(0.01)

    # -- HTTP plumbing ------------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args, token = await self._read_args(request)
        call = Call(method, args, request.method)
        self.calls.append(call)
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._reply(call, 404, {"ok": False, "error": "unknown_method"})
        expected = self.APP_TOKEN if method == "apps.connections.open" else self.BOT_TOKEN
        if not token:
            return self._reply(call, 200, {"ok": False, "error": "not_authed"})
        if token != expected:
            kind = "not_allowed_token_type" if token in (self.APP_TOKEN, self.BOT_TOKEN) else "invalid_auth"
            return self._reply(call, 200, {"ok": False, "error": kind})
        failure = self._take_failure(method, args)
        if failure and not failure.after_commit:
            return self._failure(call, failure)
        limited = self._rate_limited(method, args)
        if limited:
            return limited(call)
        try:
            body = {"ok": True, **handler(args)}
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
            if exc.messages:
                body["response_metadata"] = {"messages": exc.messages}
        if failure:
            return self._failure(call, failure)
        return self._reply(call, 200, body)

    async def _read_args(self, request: web.Request) -> tuple[dict[str, Any], str]:
        args: dict[str, Any] = dict(request.query)
        token = args.pop("token", "")
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                body.pop("token", None)  # Slack ignores a token in a JSON body: it must be a header
                args.update(body)
            else:
                form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                token = form.pop("token", token)
                args.update(form)
        for key in JSON_FIELDS:
            if isinstance(args.get(key), str) and args[key][:1] in "[{":
                args[key] = json.loads(args[key])
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        return args, token

    def _reply(self, call: Call, status: int, body: dict[str, Any], headers: dict | None = None) -> web.Response:
        call.status, call.response = status, body
        call.error = "" if body.get("ok") else str(body.get("error", ""))
        return web.json_response(body, status=status, headers=headers)

    def _failure(self, call: Call, failure: Failure) -> web.Response:
        headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else None
        return self._reply(call, failure.status, {"ok": False, "error": failure.error}, headers)

    def _rate_limited(self, method: str, args: dict[str, Any]) -> Callable[[Call], web.Response] | None:
        if method != "chat.postMessage" or not self.channel_rate:
            return None
        burst, rate = self.channel_rate
        channel, now = str(args.get("channel", "")), time.monotonic()
        tokens, at = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            wait = max(1, round((1 - tokens) / rate))
            return lambda call: self._reply(
                call, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
            )
        self._buckets[channel] = (tokens - 1, now)
        return None

    def _ts(self) -> str:
        return f"{self._ts_base}.{next(self._ids):06d}"

    # -- auth and people ----------------------------------------------------------------------------------
    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "conference-bot",
            "team_id": self.TEAM,
            "user_id": self.BOT_USER,
            "bot_id": self.BOT_ID,
            "is_enterprise_install": False,
        }

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup", "")))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": group}

    def m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.url.rsplit(':', 1)[1]}/socket?ticket={secrets.token_hex(4)}"}

    # -- conversations ------------------------------------------------------------------------------------
    def _channel(self, args: dict[str, Any], key: str = "channel") -> Channel:
        channel_id = str(args.get(key, ""))
        if channel_id.startswith("U") and channel_id in self.users:
            return self.dm_channel(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None or (channel.is_private and self.BOT_USER not in channel.members):
            raise SlackError("channel_not_found")
        return channel

    def dm_channel(self, user_id: str) -> Channel:
        """The direct-message conversation between `user_id` and the bot (opened on first use)."""
        channel_id = "D" + user_id[1:]
        if channel_id not in self.channels:
            self.channels[channel_id] = Channel(channel_id, "", True, True, {user_id, self.BOT_USER})
        return self.channels[channel_id]

    def _bot_member(self, channel: Channel) -> None:
        if channel.archived:
            raise SlackError("is_archived")
        if self.BOT_USER not in channel.members:
            raise SlackError("not_in_channel")

    def m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = list(dict.fromkeys(u.strip() for u in str(args.get("users", "")).split(",") if u.strip()))
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 8:  # "Provide 1 to 8 user IDs"
            raise SlackError("too_many_users")
        if any(u not in self.users for u in users):
            raise SlackError("user_not_found")
        if len(users) == 1:
            opened = "D" + users[0][1:] in self.channels
            return {"channel": {"id": self.dm_channel(users[0]).id}, "already_open": opened}
        channel, opened = self.mpim_channel(users)
        return {"channel": channel.info(), "already_open": opened}

    def m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(args).info()}

    def m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types", "public_channel")).split(",")
        exclude_archived = str(args.get("exclude_archived", "")).lower() in ("1", "true")
        limit = min(int(args.get("limit", 100)), 1000)
        visible = [
            c
            for c in self.channels.values()
            if not c.is_im
            and c.kind in types
            and (not c.is_private or self.BOT_USER in c.members)
            and not (exclude_archived and c.archived)
        ]
        start = int(args.get("cursor") or 0)
        page = visible[start : start + limit]
        more = start + limit < len(visible)
        return {
            "channels": [c.info() for c in page],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name", ""))
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if re.fullmatch(r"[-_]+", name):
            raise SlackError("invalid_name_punctuation")
        if not CHANNEL_NAME.match(name):
            raise SlackError("invalid_name_specials")
        if any(c.name == name for c in self.channels.values()):  # archived ones keep their name
            raise SlackError("name_taken")
        private = str(args.get("is_private", "")).lower() in ("1", "true")
        channel = self.channels[self.add_channel(name, private=private)]
        return {"channel": channel.info()}

    def m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None or (channel.is_private and self.BOT_USER not in channel.members):
            raise SlackError("channel_not_found")
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.archived:
            raise SlackError("is_archived")
        warning = {"warning": "already_in_channel"} if self.BOT_USER in channel.members else {}
        channel.members.add(self.BOT_USER)
        return {"channel": channel.info(), **warning}

    def m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        self._bot_member(channel)
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            raise SlackError("no_user")
        if len(users) > 1000:
            raise SlackError("too_many_users")
        for user in users:
            if user not in self.users:
                raise SlackError("user_not_found")
            if user == self.BOT_USER:
                raise SlackError("cant_invite_self")
            if user in channel.members:
                raise SlackError("already_in_channel")
        channel.members.update(users)
        return {"channel": channel.info()}

    def m_conversations_kick(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        self._bot_member(channel)
        user = str(args.get("user", ""))
        if user == self.BOT_USER:
            raise SlackError("cant_kick_self")
        if user not in channel.members:
            raise SlackError("not_in_channel")
        channel.members.discard(user)
        return {}

    def m_conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel.archived:
            raise SlackError("already_archived")
        self._bot_member(channel)
        channel.archived = True
        return {}

    def m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        self._bot_member(channel)
        topic = str(args.get("topic", ""))
        if len(topic) > 250:
            raise SlackError("too_long")
        channel.topic = topic
        return {"channel": channel.info()}

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if self.BOT_USER not in channel.members:
            raise SlackError("not_in_channel")
        top = [m for m in channel.messages if m.get("thread_ts", m["ts"]) == m["ts"]]
        return {"messages": self._visible(list(reversed(top)), args)}

    def m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(args.get("ts", ""))
        thread = [m for m in channel.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            raise SlackError("thread_not_found")
        return {"messages": self._visible(thread, args)}

    @staticmethod
    def _visible(messages: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        limit = int(args.get("limit", 100))
        return [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in messages[:limit]]

    # -- messages -----------------------------------------------------------------------------------------
    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        self._bot_member(channel)
        check_message(args)
        message = {"type": "message", "user": self.BOT_USER, "bot_id": self.BOT_ID, "ts": self._ts()}
        for key in ("text", "blocks", "metadata", "thread_ts"):
            if args.get(key):
                message[key] = args[key]
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(args.get("message_ts", ""))
        if not any(m["ts"] == ts for m in channel.messages):
            raise SlackError("message_not_found")
        return {"channel": channel.id, "permalink": self.permalink(channel.id, ts)}

    @staticmethod
    def permalink(channel: str, ts: str) -> str:
        """The link Slack gives for a message: the workspace, the channel, the ts without its dot."""
        return f"https://fake-team.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel.archived:
            raise SlackError("is_archived")
        if self.BOT_USER not in channel.members:
            raise SlackError("not_in_channel")
        if str(args.get("user", "")) not in channel.members:
            raise SlackError("user_not_in_channel")
        check_message(args)
        return {"message_ts": self._ts()}

    # -- modals -------------------------------------------------------------------------------------------
    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger = str(args.get("trigger_id", ""))
        if trigger not in self.triggers:
            raise SlackError("invalid_trigger_id")
        issued = self.triggers[trigger]
        if issued is None:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - issued > self.TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        view = self._check_view(args.get("view"))
        self.triggers[trigger] = None
        return {"view": self._store_view(f"V{next(self._ids):07d}", view)}

    def m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = str(args.get("view_id", ""))
        if view_id not in self.views:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != self.views[view_id]["hash"]:
            raise SlackError("hash_conflict")
        return {"view": self._store_view(view_id, self._check_view(args.get("view")))}

    def _check_view(self, view: Any) -> dict[str, Any]:
        problems = view_problems(view)
        if problems:
            raise SlackError("invalid_arguments", [f"[ERROR] {p}" for p in problems])
        return view

    def _store_view(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        stored = {**view, "id": view_id, "hash": secrets.token_hex(6), "state": {"values": {}}}
        self.views[view_id] = stored
        return stored

    # -- files (the v2 upload: get a URL, upload to it, complete) -----------------------------------------
    def m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = str(args.get("filename", "")), str(args.get("length", ""))
        if not filename or not length.isdigit() or int(length) < 1:
            raise SlackError("invalid_arguments", ["[ERROR] filename and a positive length are required"])
        file_id = f"F{next(self._ids):07d}"
        self.files[file_id] = {"id": file_id, "name": filename, "length": int(length), "content": None}
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            raise SlackError("invalid_arguments", ["[ERROR] files must be a JSON list"])
        shared = []
        for entry in entries:
            stored = self.files.get(str(entry.get("id")))
            if stored is None or stored["content"] is None:
                raise SlackError("file_not_found")
            stored["title"] = entry.get("title") or stored["name"]
            shared.append(stored)
        if args.get("channel_id"):
            channel = self._channel(args, "channel_id")
            self._bot_member(channel)
            message = {
                "type": "message",
                "user": self.BOT_USER,
                "ts": self._ts(),
                "files": [f["id"] for f in shared],
            }
            if args.get("initial_comment"):
                message["text"] = args["initial_comment"]
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            channel.messages.append(message)
            for stored in shared:
                stored["shares"] = {"channel": channel.id, "ts": message["ts"]}
        return {"files": [{"id": f["id"], "name": f["name"], "title": f["title"]} for f in shared]}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        content = await request.read()
        self.calls.append(Call("upload", {"bytes": len(content)}, target=file_id))
        stored = self.files.get(file_id)
        if stored is None:
            return web.Response(status=404, text="not found", content_type="text/plain")
        if len(content) != stored["length"]:
            return web.Response(status=400, text="length mismatch", content_type="text/plain")
        stored["content"] = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    # -- response_url -------------------------------------------------------------------------------------
    async def _response_url(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        payload = await request.json()
        call = Call("response_url", payload, target=token)
        self.calls.append(call)
        entry = self.response_urls.get(token)
        problem = None
        if entry is None or time.monotonic() - entry.created > self.RESPONSE_URL_TTL:
            problem = (404, "expired_url")
        elif entry.uses >= self.RESPONSE_URL_USES:
            problem = (404, "used_url")
        else:
            try:
                check_message(payload)
            except SlackError as exc:
                problem = (400, exc.error)
        if problem:
            call.status, call.error = problem
            return web.Response(status=problem[0], text=problem[1])
        entry.uses += 1
        if payload.get("response_type") == "in_channel" and entry.channel in self.channels:
            self.channels[entry.channel].messages.append({"type": "message", "ts": self._ts(), **payload})
        return web.Response(text="ok")

    # -- Socket Mode --------------------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": self.APP_ID}})
        self.socket_connected.set()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            ack = json.loads(message.data)
            self.socket_acks.append(ack)
            waiter = self._pending_acks.pop(ack.get("envelope_id", ""), None)
            if waiter and not waiter.done():
                waiter.set_result(ack)
        return socket

    async def socket_send(
        self, kind: str, payload: dict[str, Any], retry_attempt: int = 0, within: float = 3.0
    ) -> dict[str, Any]:
        """Deliver an envelope (slash_commands, interactive, events_api); return the app's ack."""
        if self.socket is None or self.socket.closed:
            raise AssertionError("no Socket Mode connection")
        envelope_id = secrets.token_hex(8)
        waiter = asyncio.get_running_loop().create_future()
        self._pending_acks[envelope_id] = waiter
        await self.socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(waiter, within)


# -- Block Kit rules (the subset the bot uses, with Slack's limits) -----------------------------------------
def check_message(args: dict[str, Any]) -> None:
    text, blocks = args.get("text"), args.get("blocks")
    if not text and not blocks:
        raise SlackError("no_text")
    if text and len(str(text)) > 40000:
        raise SlackError("msg_too_long")
    if blocks is not None:
        problems = block_problems(blocks, surface="message")
        if problems:
            raise SlackError("invalid_blocks", [f"[ERROR] {p}" for p in problems])


def view_problems(view: Any) -> list[str]:
    if not isinstance(view, dict) or view.get("type") != "modal":
        return ["view must be a modal"]
    problems = []
    for key, required in (("title", True), ("submit", False), ("close", False)):
        problem = _plain_text(view.get(key), 24, f"view.{key}", required)
        if problem:
            problems.append(problem)
    if len(str(view.get("private_metadata", ""))) > 3000:
        problems.append("private_metadata must be at most 3000 characters")
    if len(str(view.get("callback_id", ""))) > 255:
        problems.append("callback_id must be at most 255 characters")
    blocks = view.get("blocks") or []
    if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get("submit"):
        problems.append("a view with input blocks needs a submit button")
    return problems + block_problems(blocks, surface="modal")


def block_problems(blocks: Any, surface: str) -> list[str]:
    limit = 50 if surface == "message" else 100
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    if len(blocks) > limit:
        return [f"no more than {limit} blocks allowed"]
    problems: list[str] = []
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if len(block_id) > 255 or block_id in block_ids:
                problems.append(f"{where}.block_id must be unique and at most 255 characters")
            block_ids.add(block_id)
        if kind == "section":
            problems += _text_problems(block.get("text"), 3000, f"{where}.text")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}.elements must hold 1 to 10 items")
            for i, element in enumerate(elements):
                problems += _text_problems(element, 3000, f"{where}.elements[{i}]")
        elif kind == "actions":
            problems += _actions_problems(block, where)
        elif kind == "input" and surface == "modal":
            problems += _input_problems(block, where)
        elif kind not in ("divider", "header"):
            problems.append(f"{where}: unsupported block type {kind!r} in a {surface}")
    return problems


def _plain_text(value: Any, limit: int, where: str, required: bool = True) -> str | None:
    if value is None:
        return f"{where} is required" if required else None
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        return f"{where} must be a plain_text object"
    text = str(value.get("text", ""))
    if not 1 <= len(text) <= limit:
        return f"{where} must be 1 to {limit} characters (got {len(text)})"
    return None


def _text_problems(value: Any, limit: int, where: str) -> list[str]:
    if not isinstance(value, dict) or value.get("type") not in ("mrkdwn", "plain_text"):
        return [f"{where} must be a text object"]
    text = str(value.get("text", ""))
    if not 1 <= len(text) <= limit:
        return [f"{where}.text must be 1 to {limit} characters (got {len(text)})"]
    return []


def _actions_problems(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements") or []
    problems = [] if 1 <= len(elements) <= 25 else [f"{where}.elements must hold 1 to 25 items"]
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        spot = f"{where}.elements[{i}]"
        if element.get("type") != "button":
            problems.append(f"{spot}: only buttons are used by this bot")
            continue
        problem = _plain_text(element.get("text"), 75, f"{spot}.text")
        if problem:
            problems.append(problem)
        action_id = str(element.get("action_id", ""))
        if not action_id or len(action_id) > 255 or action_id in action_ids:
            problems.append(f"{spot}.action_id must be unique, 1 to 255 characters")
        action_ids.add(action_id)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"{spot}.value must be at most 2000 characters")
        if len(str(element.get("url", ""))) > 3000:
            problems.append(f"{spot}.url must be at most 3000 characters")
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"{spot}.style must be primary or danger")
    return problems


def _input_problems(block: dict[str, Any], where: str) -> list[str]:
    problems = []
    label = _plain_text(block.get("label"), 2000, f"{where}.label")
    if label:
        problems.append(label)
    element = block.get("element") or {}
    kind, spot = element.get("type"), f"{where}.element"
    if len(str(element.get("action_id", ""))) > 255:
        problems.append(f"{spot}.action_id must be at most 255 characters")
    placeholder = _plain_text(element.get("placeholder"), 150, f"{spot}.placeholder", required=False)
    if placeholder:
        problems.append(placeholder)
    if kind == "plain_text_input":
        longest = element.get("max_length", 3000)
        shortest = element.get("min_length", 0)
        if not 1 <= longest <= 3000 or not 0 <= shortest <= min(longest, 3000):
            problems.append(f"{spot}: min_length/max_length must satisfy 0 ≤ min ≤ max ≤ 3000")
        if len(str(element.get("initial_value", ""))) > longest:
            problems.append(f"{spot}.initial_value is longer than max_length")
    elif kind == "static_select":
        options = element.get("options") or []
        if not 1 <= len(options) <= 100:
            problems.append(f"{spot}.options must hold 1 to 100 items")
        for i, option in enumerate(options):
            problem = _plain_text(option.get("text"), 75, f"{spot}.options[{i}].text")
            if problem:
                problems.append(problem)
            if not 1 <= len(str(option.get("value", ""))) <= 150:
                problems.append(f"{spot}.options[{i}].value must be 1 to 150 characters")
        if "initial_option" in element and element["initial_option"] not in options:
            problems.append(f"{spot}.initial_option must be one of the options")
    elif kind == "number_input":
        if not isinstance(element.get("is_decimal_allowed"), bool):
            problems.append(f"{spot}.is_decimal_allowed is required")
    elif kind == "datetimepicker":
        if "initial_date_time" in element and not isinstance(element["initial_date_time"], int):
            problems.append(f"{spot}.initial_date_time must be a UNIX timestamp")
    elif kind != "email_text_input":
        problems.append(f"{spot}: unsupported input element {kind!r}")
    return problems
