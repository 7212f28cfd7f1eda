"""Shared fixtures: the shipped config, an app on a temporary database with a frozen clock."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Config, load_config
from bot.core.clock import Clock
from bot.core.model import Actor, Place, Platform
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "config.toml"
# Three weeks before the shipped deadline, 9 am in New York.
BEFORE_DEADLINE = dt.datetime(2023, 6, 9, 13, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test reads a developer's credentials or writes the repo's database."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DISCORD_", "BOT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOT_DB", str(tmp_path / "bot.sqlite3"))


@pytest.fixture
def config() -> Config:
    return load_config(CONFIG_PATH)


@pytest.fixture
def clock() -> Clock:
    return Clock.frozen(BEFORE_DEADLINE)


@pytest.fixture
async def app(config, clock, tmp_path):
    db = await Database.open(tmp_path / "app.sqlite3")
    application = App(config, db, clock)
    yield application
    await application.close()


def console_actor(name: str = "ana", organizer: bool = False) -> Actor:
    return Actor(Platform.CONSOLE, name, name.title(), organizer)


@pytest.fixture
def participant() -> Actor:
    return console_actor("ana")


@pytest.fixture
def organizer() -> Actor:
    return console_actor("olu", organizer=True)


@pytest.fixture
def lobby() -> Place:
    return Place(Platform.CONSOLE, "C1", name="lobby")
