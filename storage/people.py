"""What people told the bot about themselves (for now, their time zone)."""

from __future__ import annotations

import datetime as dt

from storage.db import Database


async def get_timezone(db: Database, platform: str, user_id: str) -> str | None:
    row = await db.fetchone("SELECT timezone FROM people WHERE platform = ? AND user_id = ?", (platform, user_id))
    return row["timezone"] if row else None


async def set_timezone(
    db: Database, platform: str, user_id: str, display_name: str, zone: str | None, now: dt.datetime
) -> None:
    await db.execute(
        "INSERT INTO people (platform, user_id, display_name, timezone, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, user_id) DO UPDATE SET"
        " display_name = excluded.display_name, timezone = excluded.timezone,"
        " updated_at = excluded.updated_at",
        (platform, user_id, display_name, zone, now.isoformat()),
    )


async def _set_flag(
    db: Database, column: str, platform: str, user_id: str, display_name: str, value: bool, now: dt.datetime
) -> None:
    await db.execute(
        f"INSERT INTO people (platform, user_id, display_name, {column}, updated_at) VALUES (?, ?, ?, ?, ?)"
        f" ON CONFLICT (platform, user_id) DO UPDATE SET {column} = excluded.{column},"
        " display_name = excluded.display_name, updated_at = excluded.updated_at",
        (platform, user_id, display_name, int(value), now.isoformat()),
    )


async def set_nudges_off(
    db: Database, platform: str, user_id: str, display_name: str, off: bool, now: dt.datetime
) -> None:
    await _set_flag(db, "nudges_off", platform, user_id, display_name, off, now)


async def nudges_off(db: Database, platform: str, user_id: str) -> bool:
    row = await db.fetchone("SELECT nudges_off FROM people WHERE platform = ? AND user_id = ?", (platform, user_id))
    return bool(row and row["nudges_off"])


async def set_notify(db: Database, platform: str, user_id: str, display_name: str, on: bool, now: dt.datetime) -> None:
    await _set_flag(db, "notify", platform, user_id, display_name, on, now)


async def notified(db: Database, platform: str) -> list[str]:
    """User ids on `platform` who opted in to announcement pings."""
    rows = await db.fetchall(
        "SELECT user_id FROM people WHERE platform = ? AND notify = 1 ORDER BY user_id", (platform,)
    )
    return [r["user_id"] for r in rows]
