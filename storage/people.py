"""What people told the bot about themselves (for now, their time zone)."""

from __future__ import annotations

import datetime as dt

from storage.db import Database


async def get_timezone(db: Database, platform: str, user_id: str) -> str | None:
    row = await db.fetchone(
        "SELECT timezone FROM people WHERE platform = ? AND user_id = ?", (platform, user_id)
    )
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
