"""Who talks where during the event: message counts for /event summary.

Counts messages per person in the lobby and area channels (with their session threads) and in each
coalition's space. Only counts are kept, never text; the platform adapters offer every message in a
channel the bot can see (Discord without message content, which a count does not need).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context
from bot.core.model import PlaceKind
from bot.core.registry import listener
from storage.db import Database


async def space_of(db: Database, platform: str, channel_id: str, thread_id: str) -> str | None:
    """'coalition:ID', 'lobby' or 'area:ID' for a place the event created, else None."""
    coalition = await db.fetchone(
        "SELECT coalition_id FROM coalition_places WHERE platform = ?"
        " AND ((thread_id = '' AND channel_id = ?) OR (thread_id != '' AND thread_id = ?))",
        (platform, channel_id, thread_id),
    )
    if coalition:
        return f"coalition:{coalition['coalition_id']}"
    channel = await db.fetchone(
        "SELECT key FROM event_places WHERE platform = ? AND place_id = ? AND (key = 'lobby' OR key LIKE 'area:%')",
        (platform, channel_id),
    )
    return channel["key"] if channel else None


async def count_message(db: Database, platform: str, space: str, user_id: str) -> None:
    await db.execute(
        "INSERT INTO event_activity (platform, space, user_id, messages) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (platform, space, user_id) DO UPDATE SET messages = messages + 1",
        (platform, space, user_id),
    )


@dataclass(frozen=True)
class SpaceActivity:
    people: int  # distinct people who wrote there (on every platform)
    messages: int


async def by_space(db: Database) -> dict[str, SpaceActivity]:
    rows = await db.fetchall(
        "SELECT space, COUNT(*) AS people, SUM(messages) AS messages FROM event_activity GROUP BY space"
    )
    return {r["space"]: SpaceActivity(r["people"], r["messages"]) for r in rows}


class ActivityCog:
    def __init__(self, app):
        self.app = app

    @listener("event-activity")
    async def count(self, ctx: Context, text: str) -> None:
        place = ctx.place
        if place.kind == PlaceKind.DM:
            return None
        platform = str(place.platform)
        space = await space_of(ctx.db, platform, place.channel_id, place.thread_id)
        if space:
            await count_message(ctx.db, platform, space, ctx.actor.user_id)
        return None
