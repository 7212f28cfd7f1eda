"""Stopping `python -m bot run` on SIGINT (Ctrl-C) or SIGTERM (systemd, Docker, Kubernetes).

The first signal stops tidily: requests in flight finish, connections close, the database is closed.
That is bounded: if it has not ended after STOP_PATIENCE seconds, the bot logs what it is still
waiting on, prints every thread's stack and exits (code 1), so a service manager never waits on a
hung stop. A second signal exits at once, as most servers do.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

STOP_PATIENCE = 20.0  # seconds; systemd's default stop timeout is 90, Docker's 10 (then SIGKILL anyway)
SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def run_until_signalled(work: Coroutine[Any, Any, int], patience: float = STOP_PATIENCE) -> int:
    """Run `work` until it returns, or until a stop signal: then cancel it (its `finally` blocks
    close things) and return 128 + the signal's number, as a shell reports a signalled program."""
    loop = asyncio.get_running_loop()
    main = asyncio.ensure_future(work)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if received:
            log.warning("%s again: stopping at once", name)
            logging.shutdown()
            os._exit(128 + signum)
        received.append(signum)
        log.info("%s: stopping (at most %.0f s)", name, patience)
        loop.call_later(max(0.0, patience - 2.0), _log_still_waiting)
        faulthandler.dump_traceback_later(patience, exit=True, file=sys.stderr)
        main.cancel()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await main
    except asyncio.CancelledError:
        if not received:
            raise
        return 128 + received[0]
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)


def _log_still_waiting() -> None:
    tasks = [t for t in asyncio.all_tasks() if not t.done()]
    log.warning(
        "still stopping; waiting on %d task(s): %s", len(tasks), "; ".join(where(t) for t in tasks[:12]) or "none"
    )


def where(task: asyncio.Task) -> str:
    """'name: outer() file:line > inner() file:line', down the chain of awaits."""
    steps, awaited = [], task.get_coro()
    while awaited is not None and getattr(awaited, "cr_frame", None) is not None:
        frame = awaited.cr_frame
        steps.append(f"{frame.f_code.co_name}() {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}")
        awaited = awaited.cr_await
    if awaited is not None:
        steps.append(type(awaited).__name__)
    return f"{task.get_name()}: {' > '.join(steps)}"
