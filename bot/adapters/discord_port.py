"""The Platform port on Discord: the side effects features ask for, done with discord.py.

Beyond `PlatformPort`, Discord offers a few things other platforms do not: forums, roles,
guild scheduled events and private group threads (`create_group`, for circles); they are extra
methods here. Every Discord error becomes a `PlatformError` whose message a person can act on
(usually: a permission the bot lacks).

Pings are opt-in and never parsed from text: the bot sends with `AllowedMentions.none()`, and a
`Message` asking for `notify_role` (a role by name) or `mention_users` (user ids) is prefixed with
those mentions and allowed to ping exactly them, nothing else (an `@everyone` in the text stays
inert).

No `find_posted` (the optional look-up `Deliveries.reconcile` uses after a crash): Discord cannot
search messages by nonce (a stored message does not carry it), so it could only answer "not
found", which is what a missing method means. A row left mid-send is simply sent again with the
same nonce, and for a few minutes Discord answers a repeated nonce with the original message.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.adapters.discord_ui import Outgoing, render
from bot.core.model import File, Message, Place, PlaceKind, Platform, Posted, Reply
from bot.core.port import PlatformError
from storage import meta

if TYPE_CHECKING:
    from bot.adapters.discord import DiscordBot
    from bot.delivery import RateLimiter

log = logging.getLogger(__name__)

# Threads the bot starts stay open a week without activity, the longest Discord allows, so
# session threads do not archive themselves during the event.
THREAD_ARCHIVE_MINUTES = 10080
NONCE_LENGTH = 25
MEMBER_OVERWRITE = 1  # a permission overwrite's type: 0 a role, 1 a member
# Where circles' private threads live: a channel of this name if the server has one, else the
# help channel (config.channels.help). See docs/discord.md.
CIRCLES_CHANNEL = "circles"
GROUP_KEY = "discord.group.{key}"  # meta: a group message's dedupe key -> its private thread's id
MAX_FORUM_TAGS = 20
MAX_TAG_NAME = 20


def _platform_errors(action: str) -> Callable:
    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        async def wrapper(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except discord.Forbidden as exc:
                raise PlatformError(
                    f"Discord did not let me {action}: the bot lacks a permission "
                    f"({exc.text or exc.status}). See docs/discord.md for the permissions to grant."
                ) from exc
            except discord.NotFound as exc:
                raise PlatformError(f"I could not {action}: Discord does not know it ({exc.text}).") from exc
            except discord.HTTPException as exc:
                raise PlatformError(f"I could not {action}: Discord said {exc.status} {exc.text}.") from exc

        return wrapper

    return decorate


def place_for(channel: Any) -> Place:
    """Where an interaction or message happened, in the core's terms."""
    if isinstance(channel, discord.Thread):
        return Place(Platform.DISCORD, str(channel.parent_id), PlaceKind.THREAD, str(channel.id), channel.name)
    if isinstance(channel, discord.DMChannel) or getattr(channel, "type", None) == discord.ChannelType.private:
        return Place(Platform.DISCORD, str(channel.id), PlaceKind.DM)
    return Place(Platform.DISCORD, str(channel.id), PlaceKind.CHANNEL, name=getattr(channel, "name", "") or "")


def pace_requests(http: discord.http.HTTPClient, gate: RateLimiter) -> None:
    """Make every REST request discord.py sends wait its turn at `gate`, the bot's share of Discord's
    global limit (`App.rate_limits`): the port's calls (a post, a DM and the DM channel it opens, a thread,
    a member added), the look-ups behind them, and the delivery ledger's sends, which go through the port
    and so are counted here, each request once. Interaction responses and followups, which Discord exempts
    from that limit, go through discord.py's webhook adapter instead and never wait here."""
    request = http.request

    @functools.wraps(request)
    async def paced(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await request(*args, **kwargs)

    http.request = paced  # type: ignore[method-assign]


class DiscordPort:
    platform = Platform.DISCORD
    # Each request waits at the platform's gate (`pace_requests`): the ledger does not book its sends again.
    paces_requests = True

    def __init__(self, bot: DiscordBot):
        self.bot = bot

    @property
    def guild(self) -> discord.Guild:
        guild = self.bot.get_guild(self.bot.guild_id)
        if guild is None:
            raise PlatformError("The bot is not connected to the configured Discord server yet.")
        return guild

    async def _channel(self, channel_id: str) -> Any:
        channel = self.bot.get_channel(int(channel_id))
        return channel if channel is not None else await self.bot.fetch_channel(int(channel_id))

    async def _member(self, user_id: str) -> discord.Member:
        guild = self.guild
        member = guild.get_member(int(user_id))
        return member if member is not None else await guild.fetch_member(int(user_id))

    def _find_role(self, role: str) -> discord.Role | None:
        guild = self.guild
        return guild.get_role(int(role)) if role.isdigit() else discord.utils.get(guild.roles, name=role)

    def _role(self, role: str) -> discord.Role:
        found = self._find_role(role)
        if found is None:
            raise PlatformError(f"There is no role {role!r} on the Discord server.")
        return found

    # -- posting ------------------------------------------------------------------------------
    def _pings(self, message: Message) -> tuple[str, list[discord.Role], list[int]]:
        """The text with the opt-in mentions `message` asks for in front, and what they are."""
        roles: list[discord.Role] = []
        if message.notify_role:
            role = self._find_role(message.notify_role)
            if role is None:
                log.warning(
                    "there is no role %r on the Discord server: sending without the ping",
                    message.notify_role,
                )
            else:
                roles.append(role)
                me = self.guild.me
                if not role.mentionable and not (me and me.guild_permissions.mention_everyone):
                    log.warning(
                        "the role %r is not mentionable, so mentioning it notifies nobody: turn on "
                        "'Allow anyone to @mention this role' in Server Settings → Roles",
                        role.name,
                    )
        users = [int(u) for u in dict.fromkeys(message.mention_users) if str(u).isdigit()]
        mentions = [r.mention for r in roles] + [f"<@{u}>" for u in users]
        if not mentions:
            return message.text, [], []
        return f"{' '.join(mentions)}\n{message.text}", roles, users

    @staticmethod
    def _allowed(content: str, roles: list[discord.Role], users: list[int]) -> discord.AllowedMentions:
        """Exactly the opted-in mentions present in `content` may ping (Discord takes ≤ 100 users,
        which a 2000-character part never holds); never @everyone or anything from the text."""
        return discord.AllowedMentions(
            everyone=False,
            replied_user=False,
            roles=[r for r in roles if r.mention in content] or False,
            users=[discord.Object(u) for u in users if f"<@{u}>" in content] or False,
        )

    async def _send(self, target: discord.abc.Messageable, message: Message) -> discord.Message:
        """Send `message` (split over several messages if long); the first one is returned.

        With a dedupe key each part carries a nonce derived from it: for a few minutes Discord
        answers a repeated nonce with the message it already has, so a retried send (by
        discord.py after a lost answer, or by a delivery replayed at start-up) never posts twice.
        """
        text, roles, users = self._pings(message)
        parts = render(Reply(text, buttons=tuple(message.buttons), files=tuple(message.files)))
        sent = []
        for index, part in enumerate(parts):
            extra: dict[str, Any] = {}
            if message.dedupe_key:
                extra["nonce"] = _nonce(message.dedupe_key, index)
            if roles or users:
                extra["allowed_mentions"] = self._allowed(part.content, roles, users)
            sent.append(await target.send(**part.kwargs(), **extra))
        return sent[0]

    async def message_link(self, channel_id: str, message_id: str) -> str:
        """The address that opens a message in Discord (for reports to organizers)."""
        return f"https://discord.com/channels/{self.bot.guild_id}/{channel_id}/{message_id}"

    @_platform_errors("post the message")
    async def post(self, place: Place, message: Message) -> Posted:
        channel = await self._channel(place.thread_id or place.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise PlatformError(
                f"#{getattr(channel, 'name', place.channel_id)} takes no messages of its own: "
                "in a forum, create a thread instead."
            )
        sent = await self._send(channel, message)
        return Posted(place, str(sent.id))

    @_platform_errors("send the direct message")
    async def dm(self, user_id: str, message: Message) -> Posted:
        # One request to open (or reuse) the DM channel, none to look the user up: a nudge
        # fan-out costs one or two requests a person against Discord's global 50 a second.
        channel = await self.bot.create_dm(discord.Object(int(user_id)))
        name = channel.recipient.display_name if channel.recipient else user_id
        try:
            sent = await self._send(channel, message)
        except discord.Forbidden as exc:  # 50007: they do not accept DMs from server members
            raise PlatformError(
                f"I can't send {name} a direct message: they don't accept messages from server members."
            ) from exc
        return Posted(Place(Platform.DISCORD, str(channel.id), PlaceKind.DM, name=name), str(sent.id))

    @_platform_errors("upload the file")
    async def upload(self, place: Place, file: File, text: str = "") -> Posted:
        return await self.post(place, Message(text, files=(file,)))

    # -- channels -----------------------------------------------------------------------------
    async def find_channel(self, name: str) -> Place | None:
        wanted = name.lstrip("#").strip().lower()
        for channel in self.guild.channels:
            if channel.name.lower() == wanted and not isinstance(channel, discord.CategoryChannel):
                return place_for(channel)
        return None

    async def find_category(self, name: str) -> str | None:
        wanted = name[:100].strip().lower()
        return next((str(c.id) for c in self.guild.categories if c.name.lower() == wanted), None)

    @_platform_errors("create the category")
    async def create_category(self, name: str) -> str:
        category = await self.guild.create_category(name[:100])
        return str(category.id)

    def _category(self, category_id: str) -> discord.CategoryChannel | None:
        if not category_id:
            return None
        category = self.guild.get_channel(int(category_id))
        if not isinstance(category, discord.CategoryChannel):
            raise PlatformError(f"There is no category {category_id} on the Discord server.")
        return category

    def _private_overwrites(self) -> dict:
        guild = self.guild
        overwrites: dict = {
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            guild.me: discord.PermissionOverwrite(view_channel=True, send_messages=True),
        }
        organizers = discord.utils.get(guild.roles, name=self.bot.organizer_role)
        if organizers is not None:
            overwrites[organizers] = discord.PermissionOverwrite(view_channel=True, send_messages=True)
        return overwrites

    @_platform_errors("create the channel")
    async def create_channel(
        self, name: str, *, category_id: str = "", private: bool = False, topic: str = ""
    ) -> Place:
        options: dict[str, Any] = {"category": self._category(category_id), "topic": topic[:1024] or None}
        if private:
            options["overwrites"] = self._private_overwrites()
        channel = await self.guild.create_text_channel(name[:100], **options)
        return place_for(channel)

    @_platform_errors("create the forum")
    async def create_forum(
        self, name: str, *, category_id: str = "", topic: str = "", tags: tuple[str, ...] = ()
    ) -> Place:
        """A forum channel (Discord only): every post in it is a thread, e.g. for feedback."""
        # Discord takes at most 20 tags of at most 20 characters, with distinct names.
        names = list(dict.fromkeys(t[:MAX_TAG_NAME].strip() for t in tags if t.strip()))[:MAX_FORUM_TAGS]
        forum = await self.guild.create_forum(
            name[:100],
            category=self._category(category_id),
            topic=topic[:4096] or None,
            available_tags=[discord.ForumTag(name=tag) for tag in names],
        )
        return place_for(forum)

    @_platform_errors("start the thread")
    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        parent = await self._channel(place.channel_id)
        text, roles, users = self._pings(message)
        parts = render(Reply(text, buttons=tuple(message.buttons), files=tuple(message.files)))
        if isinstance(parent, discord.ForumChannel):
            # A forum post is a thread whose first message is sent with it.
            first = parts[0].kwargs()
            if roles or users:
                first["allowed_mentions"] = self._allowed(parts[0].content, roles, users)
            created = await parent.create_thread(name=name[:100], auto_archive_duration=THREAD_ARCHIVE_MINUTES, **first)
            thread = created.thread
            await self._send_parts(thread, parts[1:], roles, users)
        else:
            thread = await parent.create_thread(
                name=name[:100],
                type=discord.ChannelType.public_thread,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            await self._send_parts(thread, parts, roles, users)
        return place_for(thread)

    async def _send_parts(
        self,
        target: discord.abc.Messageable,
        parts: list[Outgoing],
        roles: list[discord.Role],
        users: list[int],
    ) -> None:
        for part in parts:
            extra = {"allowed_mentions": self._allowed(part.content, roles, users)} if roles or users else {}
            await target.send(**part.kwargs(), **extra)

    @_platform_errors("open the private thread")
    async def create_group(self, user_ids: list[str], name: str, message: Message) -> Place:
        """A private thread for a small group (a circle), with `message` as its first post.

        It lives in #circles if the server has that channel, else in the help channel; only its
        members (and people whose role may manage threads) see it, and members cannot invite
        others. Safe to call again for the same message (a retried or replayed
        delivery): its dedupe key remembers the thread, which is reused, the message is not posted
        twice, and adding members again changes nothing.
        """
        key = GROUP_KEY.format(key=message.dedupe_key) if message.dedupe_key else ""
        thread = await self._known_thread(key)
        if thread is None:
            parent = await self._group_parent()
            thread = await parent.create_thread(
                name=name[:100],
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            if key:
                await meta.put(self.bot.app.db, key, str(thread.id))
        if thread.last_message_id is None:  # posted before anyone is added: nobody can reply first
            await self._send(thread, message)
        await self._unarchive(thread)
        for user_id in dict.fromkeys(str(u) for u in user_ids):
            try:
                await thread.add_user(discord.Object(int(user_id)))
            except discord.NotFound:  # left the server since they joined circles
                log.warning("could not add member %s to the private thread %s: not on the server", user_id, thread.id)
        return place_for(thread)

    async def _known_thread(self, key: str) -> discord.Thread | None:
        """The thread an earlier attempt made for this key, fresh from Discord (None if gone)."""
        thread_id = await meta.get(self.bot.app.db, key) if key else None
        if not thread_id:
            return None
        try:
            found = await self.bot.fetch_channel(int(thread_id))
        except discord.NotFound:
            return None
        return found if isinstance(found, discord.Thread) else None

    async def _group_parent(self) -> discord.TextChannel:
        for name in (CIRCLES_CHANNEL, self.bot.app.config.channels.help):
            place = await self.find_channel(name)
            channel = await self._channel(place.channel_id) if place else None
            if isinstance(channel, discord.TextChannel):
                return channel
        raise PlatformError(
            f"Circles need a text channel for their private threads: create #{CIRCLES_CHANNEL} "
            f"(or #{self.bot.app.config.channels.help}) on the Discord server."
        )

    @staticmethod
    async def _unarchive(thread: discord.Thread) -> None:
        """Discord adds or removes nobody in an archived thread (an inactive week archives it)."""
        if thread.archived and not thread.locked:
            await thread.edit(archived=False)

    @_platform_errors("add the member")
    async def add_member(self, place: Place, user_id: str) -> None:
        if place.thread_id:
            thread = await self._channel(place.thread_id)
            await self._unarchive(thread)
            await thread.add_user(discord.Object(int(user_id)))
            return
        channel = await self._channel(place.channel_id)
        overwrite = channel.overwrites_for(discord.Object(int(user_id)))
        overwrite.update(view_channel=True, send_messages=True)
        allow, deny = overwrite.pair()
        # By id, as Discord takes it: fetching the member first (the bot has no members intent) would
        # double the requests a rush of joins makes against the 50/s limit.
        await self.bot.http.edit_channel_permissions(
            channel.id, int(user_id), str(allow.value), str(deny.value), MEMBER_OVERWRITE
        )

    @_platform_errors("remove the member")
    async def remove_member(self, place: Place, user_id: str) -> None:
        if place.thread_id:
            thread = await self._channel(place.thread_id)
            await self._unarchive(thread)
            await thread.remove_user(discord.Object(int(user_id)))
            return
        channel = await self._channel(place.channel_id)
        await self.bot.http.delete_channel_permissions(channel.id, int(user_id))

    @_platform_errors("archive it")
    async def archive(self, place: Place) -> None:
        """Threads are archived; a channel becomes read-only (Discord channels have no archive)."""
        if place.thread_id:
            thread = await self._channel(place.thread_id)
            await thread.edit(archived=True)
            return
        channel = await self._channel(place.channel_id)
        everyone = self.guild.default_role
        # Merge into the existing overwrite: replacing it would reveal a private channel.
        overwrite = channel.overwrites_for(everyone)
        overwrite.update(send_messages=False, send_messages_in_threads=False, create_public_threads=False)
        await channel.set_permissions(everyone, overwrite=overwrite)

    # -- roles and events (Discord only) --------------------------------------------------------
    @_platform_errors("give the role")
    async def add_role(self, user_id: str, role: str) -> None:
        """Give `role` (a name or id) to a member, e.g. an opt-in announcements role."""
        member = await self._member(user_id)
        await member.add_roles(self._role(role))

    @_platform_errors("remove the role")
    async def remove_role(self, user_id: str, role: str) -> None:
        member = await self._member(user_id)
        await member.remove_roles(self._role(role))

    @_platform_errors("create the event")
    async def create_scheduled_event(
        self, name: str, start: dt.datetime, end: dt.datetime, *, location: str, description: str = ""
    ) -> str:
        """A guild scheduled event outside Discord (the conference's own venue or link)."""
        event = await self.guild.create_scheduled_event(
            name=name[:100],
            start_time=start,
            end_time=end,
            entity_type=discord.EntityType.external,
            privacy_level=discord.PrivacyLevel.guild_only,
            location=location[:100],
            description=description[:1000],
        )
        return str(event.id)


def _nonce(key: str, index: int) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{digest[: NONCE_LENGTH - 2]}{index:02d}"
