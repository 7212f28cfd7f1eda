"""Key-value settings kept between runs."""

from __future__ import annotations

from storage.db import Database


async def get(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
    return row["value"] if row else None


async def put(db: Database, key: str, value: str) -> None:
    await db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def delete(db: Database, key: str) -> None:
    await db.execute("DELETE FROM meta WHERE key = ?", (key,))
