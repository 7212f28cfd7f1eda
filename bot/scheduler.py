"""The timer: APScheduler wakes `Deliveries.run_due` when an occurrence falls due.

APScheduler (in-memory store) only keeps time; the truth is in SQLite. At start the ledger is
reconciled, everything overdue is handled (sent late or recorded as skipped), and one job per
future occurrence is (re)built with a stable id. A rehearsal clock that runs fast or jumps is
followed by converting each due instant into real time, and by `refresh()` after a jump.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.delivery import Deliveries

log = logging.getLogger(__name__)


class Timer:
    def __init__(self, deliveries: Deliveries):
        self.deliveries = deliveries
        self.clock = deliveries.app.clock
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.started = False

    async def start(self) -> None:
        await self.deliveries.reconcile()
        self.scheduler.start()
        self.started = True
        await self.wake()

    def stop(self) -> None:
        if self.started:
            self.scheduler.shutdown(wait=False)
            self.started = False

    async def wake(self) -> None:
        """Deliver whatever is due, then plan the next wake-ups."""
        report = await self.deliveries.run_due()
        if report.sent or report.failed:
            log.info("deliveries: %d sent, %d failed, %d skipped", report.sent, report.failed, report.skipped)
        await self.refresh()

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
            if job.id not in wanted:
                job.remove()
