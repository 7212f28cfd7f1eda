"""What a handler receives: who asked, where, with which options, and the app's services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.core.model import Actor, Place

if TYPE_CHECKING:
    from bot.app import App
    from bot.core.port import PlatformPort


@dataclass
class Context:
    app: App
    actor: Actor
    place: Place
    platform: PlatformPort | None
    options: dict[str, Any] = field(default_factory=dict)
    mentioned: bool = False  # a plain message that addressed the bot

    @property
    def config(self):
        return self.app.config

    @property
    def db(self):
        return self.app.db

    def now(self) -> dt.datetime:
        return self.app.clock.now()

    @property
    def zone(self) -> ZoneInfo:
        """The reader's zone when known, else the conference's."""
        return self.actor.timezone or self.app.config.zone
