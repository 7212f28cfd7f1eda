"""The moderation log: who did what, readable only by organizers."""

from __future__ import annotations

import datetime as dt

from storage.db import Database


async def record(db: Database, now: dt.datetime, platform: str, actor_id: str, action: str, detail: str = "") -> None:
    await db.execute(
        "INSERT INTO audit (at, platform, actor_id, action, detail) VALUES (?, ?, ?, ?, ?)",
        (now.isoformat(), platform, actor_id, action, detail),
    )


async def entries(db: Database, limit: int = 50) -> list:
    return await db.fetchall("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
