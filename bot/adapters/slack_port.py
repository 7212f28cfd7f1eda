"""The Platform port on Slack's Web API: post, DM, channels, membership, archive, upload.

Sends to one channel are paced (about one message a second, with a small burst) and serialized,
so a rate-limited channel delays its own queue in order without holding up other channels. A post
carrying a dedupe key is marked with message metadata; when Slack fails with a server error after
possibly posting (or the connection drops after sending), the port looks for the marker before posting
again, so the message appears once, and when it cannot look it raises `Unconfirmed` rather than guess;
`find_posted` is the same search for the delivery ledger after a restart. Opt-in pings
(`Message.mention_users`) are `<@U…>` mentions the port writes itself, ahead of the escaped text.
`create_group` gives a few people a private space (a group DM, or a private channel above Slack's
eight people per group DM) and posts its first message there once.

Channels are found by name from one listing (conversations.list, which Slack allows about 20 times a
minute) kept for a few minutes, so a rush of notices to the organizers' channel lists it once; what
the bot creates or archives updates it, and a post refused because the channel is gone or archived
drops that channel from it. `find_channel_now` reads Slack afresh (setting up the event's channels).
The port's `clock` (the adapter gives the app's) times how long the listing is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack_blocks import message_bodies
from bot.adapters.slack_text import escape
from bot.core.model import File, Message, Place, PlaceKind, Platform, Posted
from bot.core.port import PlatformError

log = logging.getLogger(__name__)

DELIVERY_EVENT = "bot_delivery"  # the metadata event_type marking the bot's keyed posts
_CHANNEL_NAME = re.compile(r"[^a-z0-9_-]+")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
MARKER_SEARCH = 200  # recent messages `find_posted` reads in a channel (one page of history)
MAX_GROUP_DM = 8  # people conversations.open puts in one group DM ("1 to 8 user IDs")
CHANNEL_TTL = 300.0  # seconds a channel seen in the listing (or created) is trusted by name
MISS_TTL = 30.0  # seconds "no channel has that name" is trusted after a listing
_GONE = ("channel_not_found", "is_archived")  # a post's errors meaning the channel is no longer there
_UNKNOWN: Any = object()


class Pacer:
    """Per-channel token bucket: `burst` sends at once, then one per `interval` seconds.

    Holding a channel's lock for the whole send (including the Web client's 429 retries) keeps
    that channel's messages in order and stops a rate-limited channel from being hammered."""

    def __init__(self, interval: float = 1.0, burst: int = 3, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            # Sleeping for a computed refill time, not polling a condition another task sets.
            while (wait := self._take(channel)) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
            yield

    def _take(self, channel: str) -> float:
        now = self._clock()
        tokens, at = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.interval if self.interval else self.burst)
        if tokens >= 1:
            self._buckets[channel] = (tokens - 1, now)
            return 0.0
        self._buckets[channel] = (tokens, now)
        return (1 - tokens) * self.interval


def slack_channel_name(name: str) -> str:
    """Slack's rules: lowercase letters, digits, '-' and '_' (not only punctuation), at most 80 characters.
    Accents are folded ('Équité' → 'equite') rather than turned into dashes."""
    folded = unicodedata.normalize("NFKD", name.strip().lstrip("#").lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    cleaned = _CHANNEL_NAME.sub("-", folded).strip("-_")
    return cleaned[:80].strip("-_") or "channel"


def mention_line(user_ids: Sequence[str]) -> str:
    """`<@U1> <@U2>` for the opted-in people of an announcement: only well-formed user ids, each once,
    so nothing but a person's own mention can come out of it."""
    seen: list[str] = []
    for user_id in user_ids:
        if not _USER_ID.fullmatch(user_id):
            log.warning("not mentioning %r: not a Slack user id", user_id)
        elif user_id not in seen:
            seen.append(user_id)
    return " ".join(f"<@{u}>" for u in seen)


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")


def _kept(channel: dict[str, Any]) -> dict[str, Any]:
    """What the channel listing keeps of Slack's description of a channel."""
    return {"id": str(channel["id"]), "name": str(channel["name"]), "is_private": bool(channel.get("is_private"))}


# Calls that may have taken effect before failing (posting, sharing a file): never retried blindly
# by the Web client; the port looks for the message's marker before posting again.
NOT_IDEMPOTENT = ("chat.postMessage", "files.completeUploadExternal")


class Unconfirmed(PlatformError):
    """Slack may have done it, and could not be asked whether it did: trying again could duplicate,
    which `may_have_happened` tells callers that handle any port (the delivery ledger)."""

    may_have_happened = True


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits what Slack's `Retry-After` asks, with a little jitter (the built-in handler adds up
    to a whole second, which doubles short waits)."""

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error  # type: ignore[misc]
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
        try:
            delay = float(header[0] if isinstance(header, list) else header)
        except ValueError:
            delay = 1.0
        state.next_attempt_requested = True
        log.info("Slack rate-limited %s; waiting %.1f s", request.url.rsplit("/", 1)[-1], delay)
        await asyncio.sleep(max(0.0, delay) * (1 + random.random() * 0.1))
        state.increment_current_attempt()


class IdempotentServerErrorRetry(AsyncServerErrorRetryHandler):
    """Retries 500/503 except for calls that may have taken effect before failing: those
    (posting, sharing a file) are retried by the port, which checks for the message first."""

    NOT_SAFE = NOT_IDEMPOTENT

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if request.url.endswith(self.NOT_SAFE):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


class IdempotentConnectionErrorRetry(AsyncConnectionErrorRetryHandler):
    """Retries dropped connections, except, for calls that may have taken effect, a connection lost
    after the request went out (Slack may have acted; its answer is what was lost): the port looks
    for the marker before posting again. A connection that never opened is always safe to retry."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if request.url.endswith(NOT_IDEMPOTENT) and not isinstance(error, aiohttp.ClientConnectorError):
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


def web_client(token: str, base_url: str, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client with retries for dropped connections, 429s and server errors."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        retry_handlers=[
            IdempotentConnectionErrorRetry(max_retry_count=2),
            RateLimitRetry(max_retry_count=6),
            IdempotentServerErrorRetry(max_retry_count=2),
        ],
    )


class NeverConnectedRetry(AsyncConnectionErrorRetryHandler):
    """Retries only a connection that never opened: the request cannot have reached Slack."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        return isinstance(error, aiohttp.ClientConnectorError)


def response_url_retries() -> list:
    """Retries for a response_url post, which is not idempotent: a rate limit (nothing was posted)
    and a connection that never opened; never a server error or a connection lost after sending."""
    return [NeverConnectedRetry(max_retry_count=2), RateLimitRetry(max_retry_count=3)]


class SlackPort:
    platform = Platform.SLACK

    def __init__(
        self,
        client: AsyncWebClient,
        render: Callable[[str], str],
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.render = render
        self.pacer = pacer or Pacer()
        self._clock = clock
        self._dm_channels: dict[str, str] = {}
        self._channels: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (seen at, id/name/is_private)
        self._listed_at: float | None = None  # when the last complete listing started
        self._listings = 0  # listings started so far
        self._listed = 0  # the number of the last complete listing
        self._made_while_listing: set[str] = set()
        self._listing = asyncio.Lock()

    # -- posting -------------------------------------------------------------------------------
    async def post(self, place: Place, message: Message) -> Posted:
        # `notify_role` is Discord's; Slack pings the people in `mention_users` (added here, never
        # read from the text, which `render` escapes).
        text = self.render(message.text) if message.text.strip() else ""
        mentions = mention_line(message.mention_users)
        if mentions:
            text = f"{mentions}\n{text}" if text else mentions
        has_body = bool(text.strip() or message.buttons)
        bodies = message_bodies(text, message.buttons) if has_body else []
        first = ""
        for part, body in enumerate(bodies):
            key = f"{message.dedupe_key}#{part}" if message.dedupe_key else ""
            ts = await self.send_body(place, body, key)
            first = first or ts
        for file in message.files:
            posted = await self.upload(place, file)
            first = first or posted.message_id
        return Posted(place, first)

    async def send_body(self, place: Place, body: dict[str, Any], key: str = "") -> str:
        """Post one rendered `{text, blocks}` body; returns the message ts."""
        args: dict[str, Any] = {
            "channel": place.channel_id,
            **body,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if place.thread_id:
            args["thread_ts"] = place.thread_id
        if key:
            args["metadata"] = {"event_type": DELIVERY_EVENT, "event_payload": {"key": key}}
        async with self.pacer.slot(place.channel_id):
            for attempt in range(3):
                try:
                    response = await self.client.chat_postMessage(**args)
                    return str(response["ts"])
                except SlackApiError as exc:
                    if _error(exc) == "not_in_channel" and attempt == 0 and await self._join(place):
                        continue
                    if exc.response.status_code < 500:
                        self._forget_if_gone(place.channel_id, exc)
                        raise PlatformError(f"Slack refused the message: {_error(exc)}") from exc
                    problem, failure = _error(exc), f"Slack refused the message: {_error(exc)}"
                except aiohttp.ClientConnectorError as exc:  # never reached Slack (the client tried again)
                    raise PlatformError(f"Slack could not be reached ({exc.__class__.__name__})") from exc
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # The client does not retry a post whose connection was lost after sending.
                    problem = f"the connection was lost ({exc.__class__.__name__})"
                    failure = f"Slack did not answer: {problem}"
                # Slack may have posted before failing: look before posting again (or giving up,
                # since the delivery ledger may send it again).
                if key and (found := await self._find_marker(place, key, problem)):
                    return found
                if attempt == 2:
                    raise PlatformError(failure)
                log.warning("chat.postMessage failed with %s; trying again", problem)
                await asyncio.sleep(0.5 * (attempt + 1))
        raise PlatformError("Slack refused the message")  # pragma: no cover (loop always returns)

    async def _find_marker(self, place: Place, key: str, problem: str) -> str | None:
        """The message marked `key` after a post failed with `problem`; None when it is not there.
        Raises Unconfirmed when Slack cannot show it: "could not check" is not "not there"."""
        try:
            return await self._marked(place, key, 50)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            reason = _error(exc) if isinstance(exc, SlackApiError) else exc.__class__.__name__
            log.warning("could not check for a message Slack may have posted (%s): %s", problem, reason)
            raise Unconfirmed(
                f"Slack failed ({problem}) and could not show whether the message arrived ({reason}); "
                "not sending it again"
            ) from exc

    async def _marked(self, place: Place, key: str, limit: int) -> str | None:
        """The ts of the bot's recent message marked with `key` in `place`, if any."""
        if place.thread_id:
            response = await self.client.conversations_replies(
                channel=place.channel_id, ts=place.thread_id, limit=100, include_all_metadata=True
            )
        else:
            response = await self.client.conversations_history(
                channel=place.channel_id, limit=limit, include_all_metadata=True
            )
        for found in response.get("messages") or []:
            metadata = found.get("metadata") or {}
            if metadata.get("event_type") == DELIVERY_EVENT and (
                (metadata.get("event_payload") or {}).get("key") == key
            ):
                return str(found["ts"])
        return None

    async def find_posted(self, kind: str, target_id: str, key: str) -> str | None:
        """For the delivery ledger after a crash: the ts of a message sent with dedupe key `key` to a
        channel (kind "channel"), a thread ("thread", id 'CHANNEL/TS') or a person's DM (kind "user"),
        or None when it is not there.

        A circle's group space (kind "group") is found by `create_group` itself, which looks for the
        marker before posting: None here means "send again", and sending again cannot duplicate.

        Raises PlatformError when Slack cannot be asked, which is not the same as "not there"."""
        if kind == "group":
            return None
        if kind == "user":
            place = await self.dm_place(target_id)
        elif kind == "channel":
            place = Place(Platform.SLACK, target_id)
        elif kind == "thread":  # 'CHANNEL/THREAD_TS'
            channel_id, _, thread_ts = target_id.partition("/")
            place = Place(Platform.SLACK, channel_id, PlaceKind.THREAD, thread_ts)
        else:
            raise ValueError(f"unknown delivery target kind {kind!r}")
        try:
            return await self._marked(place, f"{key}#0", MARKER_SEARCH)  # `post` marks part 0 first
        except SlackApiError as exc:
            raise PlatformError(f"Slack could not show {target_id}'s recent messages: {_error(exc)}") from exc

    async def message_link(self, channel_id: str, message_id: str) -> str:
        """A permanent link to a message (for reports such as an announcement's)."""
        try:
            response = await self.client.chat_getPermalink(channel=channel_id, message_ts=message_id)
        except SlackApiError as exc:
            raise PlatformError(f"Slack has no link for that message: {_error(exc)}") from exc
        return str(response["permalink"])

    async def _join(self, place: Place) -> bool:
        """Join a public channel the bot is not in (Slack answers `not_in_channel`)."""
        try:
            await self.client.conversations_join(channel=place.channel_id)
            return True
        except SlackApiError as exc:
            log.info("cannot join %s: %s", place.channel_id, _error(exc))
            return False

    async def dm(self, user_id: str, message: Message) -> Posted:
        return await self.post(await self.dm_place(user_id), message)

    async def dm_place(self, user_id: str) -> Place:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            try:
                response = await self.client.conversations_open(users=user_id)
            except SlackApiError as exc:
                raise PlatformError(f"Slack could not open a direct message: {_error(exc)}") from exc
            channel = self._dm_channels[user_id] = str(response["channel"]["id"])
        return Place(Platform.SLACK, channel, PlaceKind.DM, name=user_id)

    async def upload(self, place: Place, file: File, text: str = "") -> Posted:
        args: dict[str, Any] = {
            "channel": place.channel_id,
            "content": file.content,
            "filename": file.name,
            "title": file.name,
        }
        if text:
            args["initial_comment"] = self.render(text)
        if place.thread_id:
            args["thread_ts"] = place.thread_id
        async with self.pacer.slot(place.channel_id):
            for attempt in range(2):
                try:
                    response = await self.client.files_upload_v2(**args)
                    return Posted(place, str(response["file"]["id"]))
                except SlackApiError as exc:
                    if _error(exc) == "not_in_channel" and attempt == 0 and await self._join(place):
                        continue
                    self._forget_if_gone(place.channel_id, exc)
                    raise PlatformError(f"Slack refused the file {file.name}: {_error(exc)}") from exc
                except (aiohttp.ClientError, TimeoutError) as exc:  # the client retries only what is safe
                    raise Unconfirmed(
                        f"Slack did not answer while sharing {file.name} ({exc.__class__.__name__}); "
                        "it may be there already"
                    ) from exc
        raise PlatformError(f"Slack refused the file {file.name}")  # pragma: no cover

    # -- channels ------------------------------------------------------------------------------
    async def find_channel(self, name: str) -> Place | None:
        """The channel called `name` the bot can see, from the kept listing (see the module's notes)."""
        found = await self._channel_named(slack_channel_name(name))
        return Place(Platform.SLACK, found["id"], name=found["name"]) if found else None

    async def find_channel_now(self, name: str) -> Place | None:
        """`find_channel` as Slack has it now: a channel deleted or archived by hand a moment ago is
        not found (the event's setup repairs what is missing)."""
        found = await self._channel_named(slack_channel_name(name), fresh=True)
        return Place(Platform.SLACK, found["id"], name=found["name"]) if found else None

    async def create_category(self, name: str) -> str:
        return ""  # Slack has no channel categories

    async def create_channel(
        self, name: str, *, category_id: str = "", private: bool = False, topic: str = ""
    ) -> Place:
        slack_name = slack_channel_name(name)
        try:
            response = await self.client.conversations_create(name=slack_name, is_private=private)
            place = Place(Platform.SLACK, response["channel"]["id"], name=slack_name)
            self._remember({"id": place.channel_id, "name": slack_name, "is_private": private})
        except SlackApiError as exc:
            if _error(exc) != "name_taken":
                raise PlatformError(f"Slack could not create #{slack_name}: {_error(exc)}") from exc
            # Setting up the event twice must not fail or duplicate: reuse the channel (as Slack has
            # it now: the kept one may have been archived since).
            existing = await self.find_channel_now(slack_name)
            if existing is not None:
                return existing
            if (await self._channel_named(slack_name, archived=True) or {}).get("is_archived"):
                # Archived channels keep their name, and Slack does not let apps unarchive.
                raise PlatformError(
                    f"#{slack_name} is archived. Unarchive it in Slack (apps cannot) or rename it, then run this again."
                ) from exc
            raise PlatformError(
                f"#{slack_name} exists but the bot cannot see it (a private channel without the bot); "
                "invite the bot or choose another name."
            ) from exc
        if topic:
            try:
                # A topic is shown as message text: what people typed must not become a ping.
                escaped = re.sub(r"&[a-z]*$", "", escape(topic)[:250])  # never half an entity
                await self.client.conversations_setTopic(channel=place.channel_id, topic=escaped)
            except SlackApiError as exc:
                log.warning("could not set the topic of #%s: %s", slack_name, _error(exc))
        return place

    async def _channel_named(self, name: str, archived: bool = False, fresh: bool = False) -> dict[str, Any] | None:
        """Slack's description of the channel called `name` the bot can see: from the kept listing
        unless `fresh` (listing again, unless a listing started since this call did); with `archived`,
        archived channels too (read from Slack each time: only a failed setup asks)."""
        if archived:
            return await self._walk_channels(name, archived=True)
        asked = self._listings
        if not fresh and (known := self._known(name)) is not _UNKNOWN:
            return known
        async with self._listing:  # one listing at a time; those waiting for it read its result
            listed = self._listed > asked  # one started after this call and is complete
            if not listed and (fresh or self._known(name) is _UNKNOWN):
                await self._walk_channels(None)
        entry = self._channels.get(name)
        return entry[1] if entry else None

    def _known(self, name: str) -> dict[str, Any] | None:
        """The kept channel called `name`, None when the listing says there is none, or _UNKNOWN."""
        now = self._clock()
        entry = self._channels.get(name)
        if entry is not None:
            return entry[1] if now - entry[0] < CHANNEL_TTL else _UNKNOWN
        listed = self._listed_at is not None and now - self._listed_at < MISS_TTL
        return None if listed else _UNKNOWN

    async def _walk_channels(self, name: str | None, archived: bool = False) -> dict[str, Any] | None:
        """Page through conversations.list: with `name`, until that channel (returned); without, every
        page, keeping every channel seen by name (the kept listing)."""
        started, seen = self._clock(), {}
        if name is None:
            self._listings += 1
            number = self._listings
            self._made_while_listing.clear()
        cursor = None
        while True:
            try:
                response = await self.client.conversations_list(
                    types="public_channel,private_channel", exclude_archived=not archived, limit=200, cursor=cursor
                )
            except SlackApiError as exc:
                raise PlatformError(f"Slack could not list channels: {_error(exc)}") from exc
            for channel in response.get("channels") or []:
                if name is not None and channel.get("name") == name:
                    return channel
                if name is None and channel.get("name") and channel.get("id"):
                    seen[channel["name"]] = (started, _kept(channel))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        if name is None:
            # Channels the bot made while this listing was read stay known.
            later = {n: self._channels[n] for n in self._made_while_listing - seen.keys() if n in self._channels}
            self._channels, self._listed_at, self._listed = {**seen, **later}, started, number
        return None

    def _remember(self, channel: dict[str, Any]) -> None:
        self._channels[channel["name"]] = (self._clock(), _kept(channel))
        self._made_while_listing.add(channel["name"])

    def _forget(self, channel_id: str) -> None:
        """The channel is gone (or archived): its name is looked up again, as is any name the listing
        lacked (a channel of that name may have been made by hand in its place)."""
        for name in [n for n, (_, c) in self._channels.items() if c["id"] == channel_id]:
            del self._channels[name]
            self._listed_at = None

    def _forget_if_gone(self, channel_id: str, exc: SlackApiError) -> None:
        if _error(exc) in _GONE:
            self._forget(channel_id)

    # -- groups (circles) ----------------------------------------------------------------------
    async def create_group(self, user_ids: Sequence[str], name: str, message: Message) -> Place:
        """A private space for a few people, with `message` posted there: a group DM for up to
        eight people (Slack's limit), else a private channel named after `name` with them invited.

        Safe to call again for the same people and message (a retry, or the ledger sending again
        after a restart): Slack hands back the same group DM, and a message carrying the same dedupe
        key already there is not posted twice."""
        people = list(dict.fromkeys(u for u in user_ids if u))
        if not people:
            raise PlatformError("A group needs at least one person.")
        place, maybe_used = None, True
        if len(people) <= MAX_GROUP_DM:
            try:
                response = await self.client.conversations_open(users=",".join(people))
            except SlackApiError as exc:
                if _error(exc) != "too_many_users":
                    raise PlatformError(f"Slack could not open a group conversation: {_error(exc)}") from exc
            else:
                place = Place(Platform.SLACK, str(response["channel"]["id"]), PlaceKind.DM, name=name)
                maybe_used = response.get("already_open") is not False  # a new one holds no message yet
        if place is None:
            place, maybe_used = await self._private_group(people, name)
        if message.dedupe_key and maybe_used:
            try:
                found = await self._marked(place, f"{message.dedupe_key}#0", MARKER_SEARCH)
            except SlackApiError as exc:  # not knowing whether it is there, posting could duplicate
                raise PlatformError(f"Slack could not show the group's messages: {_error(exc)}") from exc
            if found:
                return place
        await self.post(place, message)
        return place

    async def _private_group(self, people: list[str], name: str) -> tuple[Place, bool]:
        """A private channel for a group too big for a group DM: (place, whether it existed)."""
        base = slack_channel_name(name)
        for number in range(1, 6):
            slack_name = base if number == 1 else f"{base[:77]}-{number}"
            existed = False
            try:
                response = await self.client.conversations_create(name=slack_name, is_private=True)
                channel_id = str(response["channel"]["id"])
                self._remember({"id": channel_id, "name": slack_name, "is_private": True})
            except SlackApiError as exc:
                if _error(exc) != "name_taken":
                    raise PlatformError(f"Slack could not create #{slack_name}: {_error(exc)}") from exc
                found = await self._channel_named(slack_name, fresh=True)
                if not (found and found.get("is_private")):
                    continue  # someone else's channel has the name: never reuse a public one
                channel_id, existed = str(found["id"]), True
            place = Place(Platform.SLACK, channel_id, name=slack_name)
            for user_id in people:
                await self.add_member(place, user_id)
            return place, existed
        raise PlatformError(f"Slack has no free name for the group #{base}.")

    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        # Slack threads have no names: the name heads the thread's first message.
        first = dataclasses.replace(message, text=f"**{name}**\n{message.text}")
        posted = await self.post(Place(Platform.SLACK, place.channel_id, name=place.name), first)
        return Place(Platform.SLACK, place.channel_id, PlaceKind.THREAD, posted.message_id, name=name)

    async def add_member(self, place: Place, user_id: str) -> None:
        # Slack has no per-thread membership: being in a thread means being in its channel.
        for attempt in range(2):
            try:
                await self.client.conversations_invite(channel=place.channel_id, users=user_id)
                return
            except SlackApiError as exc:
                error = _error(exc)
                if error in ("already_in_channel", "cant_invite_self"):
                    return
                if error == "not_in_channel" and attempt == 0 and await self._join(place):
                    continue
                self._forget_if_gone(place.channel_id, exc)
                raise PlatformError(f"Slack could not add that person: {error}") from exc

    async def remove_member(self, place: Place, user_id: str) -> None:
        try:
            await self.client.conversations_kick(channel=place.channel_id, user=user_id)
        except SlackApiError as exc:
            if _error(exc) != "not_in_channel":  # already gone is what was asked
                raise PlatformError(f"Slack could not remove that person: {_error(exc)}") from exc

    async def archive(self, place: Place) -> None:
        if place.kind is PlaceKind.THREAD:
            return  # Slack threads cannot be archived; they simply go quiet
        for attempt in range(2):
            try:
                await self.client.conversations_archive(channel=place.channel_id)
                self._forget(place.channel_id)
                return
            except SlackApiError as exc:
                error = _error(exc)
                if error in ("already_archived", "channel_not_found"):
                    self._forget(place.channel_id)
                if error == "already_archived":
                    return
                if error == "not_in_channel" and attempt == 0 and await self._join(place):
                    continue
                raise PlatformError(f"Slack could not archive the channel: {error}") from exc
