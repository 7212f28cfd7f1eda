"""Messages that could pile up in a rush (organizers' notices, coalition welcomes), sent in batches.

A Slack channel takes about one message a second and Discord about fifty requests a second for the
whole bot: one message per event would keep a channel busy for minutes after a rush and make people's
replies queue behind it. A `Batcher` sends in the background; whatever arrives while a batch is being
sent goes out together in the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
Item = TypeVar("Item")


class Batcher(Generic[Item]):
    def __init__(self, app: Any, what: str, send: Callable[[list[Item]], Awaitable[object]]):
        self._app = app  # its in_background(): failures logged, waited for by idle() and close()
        self._what = what
        self._send = send
        self._items: list[Item] = []
        self._sending: asyncio.Task | None = None

    def add(self, item: Item) -> None:
        self._items.append(item)
        if self._sending is None or self._sending.done():  # else the batch under way picks it up
            self._sending = self._app.in_background(self._send_all(), self._what)

    async def _send_all(self) -> None:
        while self._items:
            batch = list(self._items)
            try:
                await self._send(batch)
            except Exception:  # logged; the next batch is still sent
                log.exception("%s failed", self._what)
            finally:
                del self._items[: len(batch)]
