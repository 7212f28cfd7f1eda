"""Scheduled messages, delivered effectively once: occurrences from cogs, the ledger, paced sends.

A cog declares its timeline with `@timeline(name)`: an async method returning every
`Occurrence` (past and future) from storage and config. `Deliveries.run_due()` turns each due
occurrence into ledger rows (one per target), then sends pending rows: claim (pending → sending),
send with the row's dedupe key as the platform marker, settle (sent / failed / skipped).
After a crash, rows left in `sending` are checked for their marker before being sent again.
Sends are paced per platform (`RateLimiter`): one gate per platform, on the App (`rate_limits`), shared
with a port that paces its own requests (Discord's waits there for every REST request it makes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import heapq
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.model import Message, Place, PlaceKind, Platform
from bot.core.port import PlatformError, PlatformPort
from storage import deliveries as ledger

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Delivery

log = logging.getLogger(__name__)

LATE_AFTER = dt.timedelta(minutes=5)  # sent later than this after its time: marked "(late)"
MAX_ATTEMPTS = 3
RETRY_DELAY = 0.5  # seconds, times the attempt number


@dataclass(frozen=True)
class Target:
    platform: str
    kind: str  # "channel" or "user"
    id: str
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, platform: str, key: str) -> Target:
        kind, _, ident = key.partition(":")
        return cls(platform, kind, ident)


@dataclass(frozen=True)
class Occurrence:
    """One scheduled message to a set of targets."""

    what: str  # the kind: 'deadline', 'nudge', 'announcement'…
    key: str  # which one: '7d', 'passed', '12'…
    due_at: dt.datetime
    label: str  # for people: 'Deadline reminder, 7 days before'
    where: str  # for people: 'announcement channels'
    targets: Callable[[], Awaitable[list[Target]]]
    # The message for one target; late=True when it goes out well after its time. None: skip it.
    message: Callable[[Target, bool], Awaitable[Message | None]]
    useful_until: dt.datetime | None = None  # missed and later than this: recorded as skipped
    # A side effect other than a plain post or DM (e.g. post, then open a thread): returns a message id.
    send: Callable[[PlatformPort, Target, Message], Awaitable[str]] | None = None


@dataclass
class Report:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    details: list[str] = field(default_factory=list)


class RateLimiter:
    """At most `rate` requests per second on one platform (its global limit), spread evenly. One
    instance per platform (`App.rate_limits`), shared by everything that makes that platform's
    requests, is the only place that knows its budget.

    Waiting requests take their turns in the order their tasks first asked: work under way (a join
    that added someone and now posts the welcome) goes before work that started after it, so a
    burst of commands finishes them one after another rather than everyone's first request before
    anyone's second. Turns are not booked ahead: one given late (a busy event loop) moves the next
    ones along, so requests never bunch (at most `rate` + 1 in any second)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0  # when the next turn may be given
        self._waiting: list[tuple[int, int, int, asyncio.Future]] = []  # heap: (first, arrival, cost, turn)
        self._arrivals = itertools.count()
        self._first: weakref.WeakKeyDictionary[asyncio.Task, int] = weakref.WeakKeyDictionary()
        self._giver: asyncio.Task | None = None

    async def wait(self, cost: int = 1) -> None:
        """Wait for a turn to make `cost` requests."""
        if not self.interval:
            return
        now, task, arrival = time.monotonic(), asyncio.current_task(), next(self._arrivals)
        first = self._first.setdefault(task, arrival) if task else arrival  # this task's first request
        if not self._waiting and now >= self._next:
            self._next = now + self.interval * cost
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (first, arrival, cost, turn))
        if self._giver is None or self._giver.done():
            self._giver = asyncio.create_task(self._give_turns(), name="rate limiter")
        await turn

    async def _give_turns(self) -> None:
        while self._waiting:
            if (delay := self._next - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            _, _, cost, turn = heapq.heappop(self._waiting)
            if not turn.done():  # a cancelled waiter's turn goes to the next one
                turn.set_result(None)
                # The next turn is `cost` intervals after this one was due. Given late (a busy event loop),
                # it moves along by all but half an interval of the delay: never under half an interval
                # after this one, and the loop's usual lateness of a millisecond or two is made up.
                self._next = max(self._next, time.monotonic() - self.interval / 2) + self.interval * cost


UNPACED = RateLimiter(0)


def rate_limits(settings: Delivery) -> dict[Platform, RateLimiter]:
    """Each platform's gate (`App.rate_limits`). Discord's counts every REST request the bot makes, under
    Discord's 50/s for the whole bot: the adapter makes each wait there (`pace_requests`), the ledger's
    sends included (a DM opens the DM channel, then posts); interaction responses, which Discord exempts,
    do not. Slack's counts the ledger's messages (Slack opens DMs with another method, limited on its own)."""
    return {
        Platform.DISCORD: RateLimiter(settings.discord_rate),
        Platform.SLACK: RateLimiter(settings.slack_rate),
        Platform.CONSOLE: UNPACED,
    }


class Deliveries:
    def __init__(self, app: App):
        self.app = app
        self.limiters = app.rate_limits  # the same gates a port pacing its own requests waits at
        self.concurrency = app.config.delivery.concurrency
        self._run_lock = asyncio.Lock()
        # Rows this process is sending right now: `reconcile` leaves them alone (only a row left in
        # 'sending' by an earlier run, or by a send of this one that was cancelled, was interrupted).
        self._in_flight: set[int] = set()

    async def occurrences(self) -> list[Occurrence]:
        found: list[Occurrence] = []
        for name, planner in self.app.registry.timelines.items():
            try:
                found += await planner()
            except Exception:
                log.exception("timeline %s could not be planned", name)
        return sorted(found, key=lambda o: o.due_at)

    async def upcoming(self, since: dt.datetime | None = None) -> list[Occurrence]:
        since = since or self.app.clock.now()
        return [o for o in await self.occurrences() if o.due_at > since]

    async def run_due(self) -> Report:
        """Expand every due occurrence into ledger rows, then send what is pending."""
        async with self._run_lock:
            now = self.app.clock.now()
            due = {(o.what, o.key): o for o in await self.occurrences() if o.due_at <= now}
            for occurrence in due.values():
                await self._expand(occurrence, now)
            return await self._send_pending(due)

    async def cancel(self, what: str, key: str) -> None:
        """Nothing more of this occurrence goes out: its pending rows settle as skipped ("cancelled"),
        and the timer re-reads its plan. The caller has already marked the item itself cancelled."""
        now = self.app.clock.now()
        for item in await ledger.pending(self.app.db, what, key):
            await ledger.settle(self.app.db, item.id, "skipped", now, detail="cancelled")
        await self.app.replan()

    async def run_occurrence(self, occurrence: Occurrence) -> Report:
        """Deliver one occurrence now (an announcement sent on the spot)."""
        async with self._run_lock:
            await self._expand(occurrence, self.app.clock.now())
            return await self._send_pending({(occurrence.what, occurrence.key): occurrence})

    async def _expand(self, occurrence: Occurrence, now: dt.datetime) -> None:
        if await ledger.exists(self.app.db, occurrence.what, occurrence.key):
            return  # targets are fixed when an occurrence first falls due
        targets = await occurrence.targets()
        # At its "useful until" instant the next message has taken over: that counts as missed.
        missed = occurrence.useful_until is not None and now >= occurrence.useful_until
        by_platform: dict[str, list[str]] = {}
        for target in targets:
            by_platform.setdefault(target.platform, []).append(target.key)
        for platform, keys in by_platform.items():
            status, detail = (
                ("skipped", "missed while the bot was down; no longer useful") if missed else ("pending", "")
            )
            await ledger.record(
                self.app.db,
                occurrence.what,
                occurrence.key,
                platform,
                keys,
                occurrence.due_at,
                now,
                status,
                detail,
            )
        if missed and targets:
            log.warning(
                "%s %s was missed and is no longer useful: recorded as skipped",
                occurrence.what,
                occurrence.key,
            )

    async def _send_pending(self, known: dict[tuple[str, str], Occurrence]) -> Report:
        report = Report()
        rows = [r for r in await ledger.pending(self.app.db) if (r.what, r.occurrence) in known]
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: ledger.Delivery) -> None:
            async with gate:
                await self._send(row, known[(row.what, row.occurrence)], report)

        await asyncio.gather(*(one(r) for r in rows))
        return report

    async def _send(self, row: ledger.Delivery, occurrence: Occurrence, report: Report) -> None:
        db, now = self.app.db, self.app.clock.now()
        port = self.app.platforms.get(row.platform)
        if port is None:
            return  # stays pending until that platform is connected
        self._in_flight.add(row.id)  # before the claim: a reconcile meanwhile must not take it
        try:
            if await ledger.claim(db, row.id, now):
                await self._send_claimed(row, occurrence, port, report)
        finally:
            self._in_flight.discard(row.id)

    async def _send_claimed(
        self, row: ledger.Delivery, occurrence: Occurrence, port: PlatformPort, report: Report
    ) -> None:
        db, now = self.app.db, self.app.clock.now()
        target = Target.parse(row.platform, row.target)
        late = now - occurrence.due_at > LATE_AFTER
        try:
            message = await occurrence.message(target, late)
        except Exception as exc:
            log.exception("could not write delivery %s", row.key)
            await ledger.settle(db, row.id, "failed", self.app.clock.now(), detail=f"error: {exc}")
            report.failed += 1
            return
        if message is None:
            await ledger.settle(db, row.id, "skipped", now, detail="no longer relevant")
            report.skipped += 1
            return
        keyed = dataclasses.replace(message, dedupe_key=row.key)
        # A port that waits at its platform's gate for each request itself is not booked twice here.
        limiter = UNPACED if getattr(port, "paces_requests", False) else self.limiters.get(row.platform, UNPACED)
        problem = ""
        # Platforms fail for a while (rate limits past the client's retries, outages): try again a
        # few times with the same marker, so a retry after a half-done send cannot duplicate.
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RETRY_DELAY * attempt)
            try:
                await limiter.wait()
                posted = await (occurrence.send or _deliver)(port, target, keyed)
            except PlatformError as exc:
                problem = str(exc)
                if exc.may_have_happened:
                    break  # it may have arrived and the platform cannot tell: sending again could duplicate
            except Exception as exc:
                log.exception("delivery %s failed", row.key)
                problem = f"error: {exc}"
            else:
                await ledger.settle(db, row.id, "sent", self.app.clock.now(), posted, "late" if late else "")
                report.sent += 1
                return
        await ledger.settle(db, row.id, "failed", self.app.clock.now(), detail=problem)
        report.failed += 1
        report.details.append(f"{row.platform} {row.target}: {problem}")

    async def reconcile(self) -> int:
        """After a crash: rows left mid-send are settled if the platform shows the marker, else retried.
        Rows this process is sending at the moment (a command's fan-out) are not interrupted ones."""
        settled = 0
        for row in await ledger.interrupted(self.app.db):
            if row.id in self._in_flight:
                continue
            port = self.app.platforms.get(row.platform)
            find = getattr(port, "find_posted", None)  # optional: (kind, target id, key) -> message id
            now = self.app.clock.now()
            if find is None:
                # Sent again with the same marker: Discord answers a repeated nonce with the
                # message it already has (for a few minutes), so a quick restart cannot duplicate.
                await ledger.release(self.app.db, row.id, now, detail="interrupted; sending again")
                continue
            target = Target.parse(row.platform, row.target)
            try:
                found = await find(target.kind, target.id, row.key)
            except Exception as exc:
                # Not knowing whether it arrived, sending again could duplicate: report it instead.
                log.warning("could not check delivery %s after a restart: %s", row.key, exc)
                await ledger.settle(
                    self.app.db, row.id, "failed", now, detail=f"interrupted; could not check whether it arrived: {exc}"
                )
                continue
            if found:
                await ledger.settle(self.app.db, row.id, "sent", now, found, "confirmed after restart")
                settled += 1
            else:
                await ledger.release(self.app.db, row.id, now, detail="interrupted before it arrived; sending again")
        return settled


async def _deliver(port: PlatformPort, target: Target, message: Message) -> str:
    if target.kind == "user":
        posted = await port.dm(target.id, message)
    elif target.kind == "thread":  # id: 'CHANNEL/THREAD'
        channel_id, _, thread_id = target.id.partition("/")
        posted = await port.post(Place(Platform(target.platform), channel_id, PlaceKind.THREAD, thread_id), message)
    else:
        posted = await port.post(Place(Platform(target.platform), target.id, name=target.name), message)
    return posted.message_id
