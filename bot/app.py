"""Wires config, storage, the clock and the cogs into one application object.

Adapters hold an `App` and call `app.dispatcher`; cogs receive it in their constructor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence

from bot.config import Config
from bot.core.clock import Clock
from bot.core.dispatch import Dispatcher
from bot.core.model import Message, Platform
from bot.core.port import PlatformPort
from bot.core.registry import Registry
from bot.delivery import Deliveries, rate_limits
from bot.scheduler import Timer
from storage.db import Database

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: Config, db: Database, clock: Clock, cogs: Iterable[type] | None = None):
        from cogs import ALL_COGS

        self.config = config
        self.db = db
        self.clock = clock
        self.registry = Registry()
        self.cogs = [cog(self) for cog in (ALL_COGS if cogs is None else cogs)]
        for cog in self.cogs:
            self.registry.add_cog(cog)
        self.dispatcher = Dispatcher(self)
        # Each platform's request budget, shared by the delivery ledger and a port pacing its own requests.
        self.rate_limits = rate_limits(config.delivery)
        self.deliveries = Deliveries(self)
        self.timer: Timer | None = None  # started once the platforms are connected
        # Every connected platform's port, for features that reach all of them (announcements).
        self.platforms: dict[Platform, PlatformPort] = {}
        self._background: set[asyncio.Task] = set()

    @staticmethod
    def registry_for(config: Config) -> Registry:
        """The full command registry without opening storage (for manifests and docs)."""
        from cogs import ALL_COGS

        registry = Registry()
        for cog in ALL_COGS:
            registry.add_cog(cog(_ConfigOnly(config)))
        return registry

    @classmethod
    async def open(cls, config: Config, clock: Clock | None = None) -> App:
        db = await Database.open(config.database_path())
        return cls(config, db, clock or Clock())

    async def post_everywhere(self, channel_names: Sequence[str], message: Message) -> int:
        """Post in the first of `channel_names` that exists, on every connected platform (organizer
        notices). Returns on how many platforms it landed; a platform's failure is logged, not raised."""
        landed = 0
        for port in list(self.platforms.values()):
            try:
                for name in channel_names:
                    place = await port.find_channel(name)
                    if place:
                        await port.post(place, message)
                        landed += 1
                        break
            except Exception:
                log.exception("could not post in %s on %s", channel_names[0], port.platform)
        return landed

    def in_background(self, work: Awaitable[object], what: str) -> asyncio.Task:
        """Run `work` without making the reply wait for it (a notice to organizers, say): kept until
        done, a failure logged with `what`, waited for by `idle()` and by `close()`."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.create_task(guarded(), name=what)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def idle(self) -> None:
        """Wait until the background work (and any it started) is done."""
        while self._background:
            await asyncio.gather(*list(self._background))

    async def start_timer(self) -> Timer:
        """Reconcile the ledger, deliver what is overdue, and keep time for what is to come."""
        if self.timer is None:
            self.timer = Timer(self.deliveries)
            await self.timer.start()
        return self.timer

    async def replan(self) -> None:
        """Something scheduled was added, moved or cancelled: the timer re-reads when to wake."""
        if self.timer:
            await self.timer.refresh()

    async def close(self, patience: float = 5.0) -> None:
        if self.timer:
            self.timer.stop()
        if self._background:  # notices under way get a moment to land before storage closes
            _, late = await asyncio.wait(list(self._background), timeout=patience)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.db.close()


class _ConfigOnly:
    """What a cog's constructor may touch when only its declarations are wanted."""

    def __init__(self, config: Config):
        self.config = config
