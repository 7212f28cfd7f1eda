"""`python -m bot run`: start every platform whose credentials are in the environment.

An adapter module offers `credentials_present() -> bool` and `async serve(app)`, which runs until
cancelled. With no credentials at all, the console starts instead, so a newcomer sees the bot.
"""

from __future__ import annotations

import asyncio
import importlib
import logging

from bot.app import App

log = logging.getLogger(__name__)

PLATFORM_ADAPTERS = {"discord": "bot.adapters.discord", "slack": "bot.adapters.slack"}


def configured_platforms() -> list[str]:
    found = []
    for name, module_name in PLATFORM_ADAPTERS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # this platform's adapter is not part of this build
        if module.credentials_present():
            found.append(name)
    return found


async def serve_platforms(app: App, names: list[str]) -> int:
    tasks = [asyncio.create_task(importlib.import_module(PLATFORM_ADAPTERS[n]).serve(app), name=n) for n in names]
    log.info("serving %s", ", ".join(names))
    tasks.append(asyncio.create_task(_start_timer_when_connected(app, names), name="timer"))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a platform that stopped with an error stops the bot, loudly
        return 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _start_timer_when_connected(app: App, names: list[str], patience: float = 60.0) -> None:
    """Scheduled messages start once every platform is connected, so none is left out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while {str(p) for p in app.platforms} < set(names) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # adapters register their port when ready; no event to wait on
    missing = set(names) - {str(p) for p in app.platforms}
    if missing:
        log.warning("starting scheduled messages without %s (not connected yet)", ", ".join(sorted(missing)))
    await app.start_timer()
    await asyncio.Event().wait()  # keep the task alive with the platforms
