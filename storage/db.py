"""The database: one SQLite file in WAL mode, migrated to the newest schema when opened.

Migrations are files `migrations/NNNN_name.sql`, applied in number order, each in its own
transaction together with its row in `schema_version`, so a crash never leaves one half-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class MigrationError(Exception):
    pass


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1, 2, 3… without gaps; found {versions}")
    return found


class Database:
    """An open connection; `await Database.open(path)` migrates before returning."""

    def __init__(self, conn: aiosqlite.Connection, path: Path):
        self.conn = conn
        self.path = path
        # One connection serves every coroutine: a transaction holds this lock so no other
        # coroutine's statements run inside it.
        self._transaction_lock = asyncio.Lock()

        self._owner: asyncio.Task | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        async with self._transaction_lock:
            self._owner = asyncio.current_task()
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    await self.conn.execute("ROLLBACK")
                    raise
                await self.conn.execute("COMMIT")
            finally:
                self._owner = None

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Wait for another coroutine's open transaction to end (its own statements pass)."""
        if self._owner is not None and self._owner is asyncio.current_task():
            yield
            return
        async with self._transaction_lock:
            yield

    @classmethod
    async def open(cls, path: str | Path, migrations: Path = MIGRATIONS) -> Database:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
            # People's data: readable by the bot's own user only (WAL files inherit the mode).
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            path.chmod(0o600)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await conn.execute("PRAGMA busy_timeout = 5000")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await db.migrate(load_migrations(migrations))
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self.conn.close()

    async def schema_version(self) -> int:
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
        )
        async with self.conn.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return row[0] or 0

    async def migrate(self, migrations: list[Migration]) -> list[int]:
        current = await self.schema_version()
        if migrations and current > migrations[-1].version:
            raise MigrationError(
                f"{self.path} has schema version {current}, newer than this bot knows "
                f"({migrations[-1].version}); upgrade the bot"
            )
        applied = []
        for migration in migrations:
            if migration.version <= current:
                continue
            # executescript would commit on its own; run the statements inside one transaction.
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(migration.sql):
                    await self.conn.execute(statement)
                await self.conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )
                await self.conn.execute("COMMIT")
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied

    async def backup(self, target: str | Path) -> Path:
        """Copy the live database to `target` with SQLite's online backup (safe while running)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(f"{target} already exists; choose a new file name")
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))  # as private as the original
        dest = sqlite3.connect(target)
        try:
            await self.conn.backup(dest)
        finally:
            dest.close()
        return target

    # Small helpers so repositories stay short.
    async def execute(self, sql: str, params: tuple = ()) -> aiosqlite.Cursor:
        async with self._turn():
            return await self.conn.execute(sql, params)

    async def fetchone(self, sql: str, params: tuple = ()) -> aiosqlite.Row | None:
        async with self._turn(), self.conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: tuple = ()) -> list[aiosqlite.Row]:
        async with self._turn(), self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())


def _statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement knows about quotes)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        raise MigrationError(f"unterminated statement in migration: {buffer.strip()[:60]}")
    return statements
