"""The Platform port: the side effects a feature may ask of a platform.

Each adapter implements it; cogs call it through `Context.platform` or `App.platforms`.
Ids are the platform's own (strings), so they can be stored and used after a restart.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.model import File, Message, Place, Platform, Posted


class PlatformError(Exception):
    """A platform refused or failed an action; `message` is safe to show a person."""

    # True when the platform may have done it anyway and cannot tell: retrying could duplicate.
    may_have_happened = False


class PlatformPort(Protocol):
    platform: Platform

    async def post(self, place: Place, message: Message) -> Posted:
        """Post in a channel or thread."""

    async def dm(self, user_id: str, message: Message) -> Posted:
        """Send a private message to one person."""

    async def find_channel(self, name: str) -> Place | None:
        """Look a channel up by name (as configured in config.toml)."""

    async def create_category(self, name: str) -> str:
        """Create a group of channels (Discord category); platforms without one return ''."""

    async def create_channel(
        self, name: str, *, category_id: str = "", private: bool = False, topic: str = ""
    ) -> Place:
        """Create a text channel."""

    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        """Start a thread in `place` with `message` as its first post."""

    async def add_member(self, place: Place, user_id: str) -> None:
        """Add someone to a channel or thread."""

    async def remove_member(self, place: Place, user_id: str) -> None:
        """Remove someone from a channel or thread."""

    async def archive(self, place: Place) -> None:
        """Archive (never delete) a channel or thread."""

    async def upload(self, place: Place, file: File, text: str = "") -> Posted:
        """Share a file in a channel or thread."""
