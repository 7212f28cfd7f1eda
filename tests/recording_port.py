"""An in-process Platform port that records what features ask of it (for cog-level tests)."""

from __future__ import annotations

import itertools

from bot.core.model import Message, Place, PlaceKind, Platform, Posted
from bot.core.port import PlatformError


class RecordingPort:
    def __init__(self, platform: Platform, channels: tuple[str, ...] = ("announcements", "organizers", "help")):
        self.platform = platform
        self.channels = {f"{platform.value[0].upper()}{i}": name for i, name in enumerate(channels, 1)}
        self.sent: list[tuple[str, str, Message]] = []  # (kind, target id, message)
        self.fail_for: dict[str, str] = {}  # target id -> error to raise
        self.markers: dict[str, str] = {}  # dedupe key -> message id (what the platform kept)
        self._ids = itertools.count(1)
        self.created: list[tuple[str, str]] = []
        self.categories: dict[str, str] = {}  # category id -> name
        self.threads: dict[str, tuple[str, str]] = {}  # thread id -> (channel id, name)
        self.members: dict[str, set[str]] = {}
        self.archived: list[str] = []

    def _record(self, kind: str, target: str, message: Message) -> str:
        if target in self.fail_for:
            raise PlatformError(self.fail_for[target])
        if message.dedupe_key and message.dedupe_key in self.markers:
            return self.markers[message.dedupe_key]  # like a repeated Discord nonce
        message_id = f"m{next(self._ids)}"
        self.sent.append((kind, target, message))
        if message.dedupe_key:
            self.markers[message.dedupe_key] = message_id
        return message_id

    async def post(self, place: Place, message: Message) -> Posted:
        if place.thread_id:
            return Posted(place, self._record("thread", place.thread_id, message))
        return Posted(place, self._record("channel", place.channel_id, message))

    async def dm(self, user_id: str, message: Message) -> Posted:
        place = Place(self.platform, f"D-{user_id}", PlaceKind.DM)
        return Posted(place, self._record("user", user_id, message))

    async def find_channel(self, name: str) -> Place | None:
        for channel_id, known in self.channels.items():
            if known == name.lstrip("#"):
                return Place(self.platform, channel_id, name=known)
        return None

    # -- places -------------------------------------------------------------------------------
    async def create_category(self, name: str) -> str:
        self.created.append(("category", name))
        category_id = f"K{next(self._ids)}"
        self.categories[category_id] = name
        return category_id

    async def find_category(self, name: str) -> str | None:
        return next((i for i, known in self.categories.items() if known == name), None)

    async def create_channel(self, name, *, category_id="", private=False, topic="") -> Place:
        channel_id = f"{self.platform.value[0].upper()}{100 + next(self._ids)}"
        self.channels[channel_id] = name
        self.created.append(("channel", name))
        return Place(self.platform, channel_id, name=name)

    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        thread_id = f"T{next(self._ids)}"
        self.threads[thread_id] = (place.channel_id, name)
        self._record("thread", thread_id, message)
        return Place(self.platform, place.channel_id, PlaceKind.THREAD, thread_id, name=name)

    async def add_member(self, place: Place, user_id: str) -> None:
        self.members.setdefault(place.thread_id or place.channel_id, set()).add(user_id)

    async def remove_member(self, place: Place, user_id: str) -> None:
        self.members.get(place.thread_id or place.channel_id, set()).discard(user_id)

    async def archive(self, place: Place) -> None:
        self.archived.append(place.channel_id)

    def delete(self, name: str) -> None:
        """Someone deleted a channel by hand."""
        self.channels = {i: n for i, n in self.channels.items() if n != name}

    def texts(self, target: str | None = None) -> list[str]:
        return [m.text for _, t, m in self.sent if target is None or t == target]
