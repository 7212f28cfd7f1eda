import sqlite3
import subprocess
import sys

import pytest

from storage import meta
from storage.db import MIGRATIONS, Database, MigrationError, load_migrations
from tests.conftest import ROOT


async def test_fresh_database_gets_every_migration(tmp_path):
    db = await Database.open(tmp_path / "fresh.sqlite3")
    try:
        assert await db.schema_version() == len(load_migrations())
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
        await meta.put(db, "k", "v1")
        await meta.put(db, "k", "v2")
        assert await meta.get(db, "k") == "v2"
    finally:
        await db.close()


def copy_migrations(tmp_path, extra: dict[str, str]):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in MIGRATIONS.glob("*.sql"):
        (folder / path.name).write_text(path.read_text())
    for name, sql in extra.items():
        (folder / name).write_text(sql)
    return folder


async def test_upgrade_applies_only_new_migrations_and_keeps_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = await Database.open(path)
    await meta.put(db, "kept", "yes")
    await db.close()
    base = len(load_migrations())
    folder = copy_migrations(
        tmp_path,
        {
            f"{base + 1:04d}_notes.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n"
            "INSERT INTO notes (body) VALUES ('it''s; here');"
        },
    )
    db = await Database.open(path, migrations=folder)
    try:
        assert await db.schema_version() == base + 1
        assert await meta.get(db, "kept") == "yes"
        assert (await db.fetchone("SELECT body FROM notes"))[0] == "it's; here"
        assert await db.migrate(load_migrations(folder)) == []  # idempotent
    finally:
        await db.close()


async def test_a_failing_migration_leaves_nothing_half_applied(tmp_path):
    base = len(load_migrations())
    folder = copy_migrations(tmp_path, {f"{base + 1:04d}_broken.sql": "CREATE TABLE a (x);\nCREATE TABLE meta (y);\n"})
    with pytest.raises(sqlite3.OperationalError):
        await Database.open(tmp_path / "db.sqlite3", migrations=folder)
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        assert await db.schema_version() == base
        assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'a'") is None
    finally:
        await db.close()


async def test_a_newer_database_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    db = await Database.open(path)
    await db.execute("INSERT INTO schema_version (version, name) VALUES (99, 'future')")
    await db.close()
    with pytest.raises(MigrationError, match="newer than this bot knows"):
        await Database.open(path)


def test_migration_names_and_numbering_are_checked(tmp_path):
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0003_c.sql").write_text("")
    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(tmp_path)
    (tmp_path / "bad name.sql").write_text("")
    with pytest.raises(MigrationError, match="NNNN_name"):
        load_migrations(tmp_path)


def test_db_backup_command_copies_the_live_database(tmp_path):
    env = {"BOT_DB": str(tmp_path / "live.sqlite3"), "PATH": "/usr/bin:/bin"}
    target = tmp_path / "backup" / "copy.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "db", "backup", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(load_migrations())
    again = subprocess.run(
        [sys.executable, "-m", "bot", "db", "backup", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr


async def test_the_database_file_is_readable_by_its_owner_only(tmp_path):
    db = await Database.open(tmp_path / "private.sqlite3")
    try:
        await meta.put(db, "k", "v")
        for path in tmp_path.glob("private.sqlite3*"):
            assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
    finally:
        await db.close()
