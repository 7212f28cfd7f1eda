"""The timer: APScheduler wakes `Deliveries.run_due` when an occurrence falls due.

APScheduler (in-memory store) only keeps time; the truth is in SQLite. At start the ledger is
reconciled, everything overdue is handled (sent late or recorded as skipped), and one job per
future occurrence is (re)built with a stable id. A rehearsal clock that runs fast or jumps is
followed by converting each due instant into real time, and by `refresh()` after a jump.
A wake-up that fails (a locked database) is tried again soon, with a growing pause.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.delivery import Deliveries

log = logging.getLogger(__name__)


RETRY_JOB = "retry"  # the wake-up planned after a failed one
RETRY_FIRST = 2.0  # seconds after a failed wake-up; doubled each time it fails again
RETRY_MOST = 60.0


class Timer:
    def __init__(self, deliveries: Deliveries):
        self.deliveries = deliveries
        self.clock = deliveries.app.clock
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.started = False
        self.failures = 0  # wake-ups failed in a row
        self.reconciled = False

    async def start(self) -> None:
        self.scheduler.start()
        self.started = True
        await self.wake()  # reconciles the ledger first

    def stop(self) -> None:
        if self.started:
            self.scheduler.shutdown(wait=False)
            self.started = False

    async def wake(self) -> None:
        """Deliver whatever is due, then plan the next wake-ups. A wake-up that fails (the database
        locked past its busy timeout, say) is tried again a few seconds later, then less often, so a
        brief fault delays a due message instead of costing it."""
        problem: Exception | None = None
        try:
            if not self.reconciled:  # rows a crash left mid-send, before anything else is sent
                await self.deliveries.reconcile()
                self.reconciled = True
            report = await self.deliveries.run_due()
        except Exception as exc:
            problem = exc
        else:
            if self.failures:
                log.info("scheduled messages are going out again after %d failed attempt(s)", self.failures)
            self.failures = 0
            if report.sent or report.failed:
                log.info("deliveries: %d sent, %d failed, %d skipped", report.sent, report.failed, report.skipped)
        try:
            await self.refresh()
        except Exception as exc:
            problem = problem or exc
        if problem is not None:
            self._retry_soon(problem)

    def _retry_soon(self, exc: Exception) -> None:
        """Plan one wake-up a little later. Wake-ups failing together (several occurrences due at the
        same instant) share it; each retry that fails again waits twice as long, up to a minute."""
        if self.started and self.scheduler.get_job(RETRY_JOB) is not None:
            log.info("scheduled messages could not be handled (%s); a retry is already planned", exc)
            return
        self.failures += 1
        delay = min(RETRY_MOST, RETRY_FIRST * 2 ** (self.failures - 1))
        log.warning(
            "scheduled messages could not be handled (%s: %s); trying again in %.0f s",
            exc.__class__.__name__,
            exc,
            delay,
            exc_info=not isinstance(exc, sqlite3.OperationalError),  # a lock needs no traceback; a bug does
        )
        if self.started:
            self.scheduler.add_job(
                self.wake,
                DateTrigger(run_date=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)),
                id=RETRY_JOB,
                misfire_grace_time=None,
            )

    async def refresh(self) -> None:
        """One job per future occurrence, id `what:key`, at the real instant the clock will show it."""
        wanted = set()
        for occurrence in await self.deliveries.upcoming():
            seconds = self.clock.real_seconds_until(occurrence.due_at)
            if math.isinf(seconds):
                continue  # a stopped clock: only explicit wake-ups move things
            job_id = f"{occurrence.what}:{occurrence.key}"
            wanted.add(job_id)
            run_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
            self.scheduler.add_job(
                self.wake,
                DateTrigger(run_date=run_at),
                id=job_id,
                replace_existing=True,
                misfire_grace_time=None,  # late is still delivered (the ledger decides what is useful)
                coalesce=True,
            )
        for job in self.scheduler.get_jobs():
            if job.id not in wanted and job.id != RETRY_JOB:
                job.remove()
