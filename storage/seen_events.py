"""Platform event ids already handled, so an event redelivered after a restart is not acted on twice."""

from __future__ import annotations

from storage.db import Database

KEEP_FOR = 3600.0  # seconds; Slack redelivers within minutes


async def first_time(db: Database, platform: str, event_id: str, now: float, keep_for: float = KEEP_FOR) -> bool:
    """Record `event_id` as seen at `now` (Unix time); False when it was seen within `keep_for`."""
    await db.execute("DELETE FROM seen_events WHERE seen_at < ?", (now - keep_for,))
    cursor = await db.execute(
        "INSERT INTO seen_events (platform, event_id, seen_at) VALUES (?, ?, ?)"
        " ON CONFLICT (platform, event_id) DO NOTHING",
        (platform, event_id, now),
    )
    return cursor.rowcount == 1
