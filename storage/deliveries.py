"""The delivery ledger: record, claim and settle each (what, occurrence, platform, target) once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Delivery:
    id: int
    what: str
    occurrence: str
    platform: str
    target: str
    due_at: str
    status: str
    attempts: int
    message_id: str | None
    detail: str

    @property
    def key(self) -> str:
        """The platform dedupe marker (Discord nonce, Slack metadata): stable across restarts."""
        return f"{self.what}:{self.occurrence}:{self.target}"


def _delivery(row) -> Delivery:
    return Delivery(
        row["id"],
        row["what"],
        row["occurrence"],
        row["platform"],
        row["target"],
        row["due_at"],
        row["status"],
        row["attempts"],
        row["message_id"],
        row["detail"],
    )


async def record(
    db: Database,
    what: str,
    occurrence: str,
    platform: str,
    targets: list[str],
    due_at: dt.datetime,
    now: dt.datetime,
    status: str = "pending",
    detail: str = "",
) -> int:
    """Add rows for targets not yet in the ledger; existing rows are left as they are."""
    if not targets:
        return 0
    async with db.transaction():
        before = db.conn.total_changes
        for target in targets:
            await db.execute(
                "INSERT INTO deliveries"
                " (what, occurrence, platform, target, due_at, status, detail, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (what, occurrence, platform, target) DO NOTHING",
                (what, occurrence, platform, target, due_at.isoformat(), status, detail, now.isoformat()),
            )
        return db.conn.total_changes - before


async def claim(db: Database, delivery_id: int, now: dt.datetime) -> bool:
    """pending → sending, atomically; False when someone else already has it."""
    cursor = await db.execute(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = ?"
        " WHERE id = ? AND status = 'pending'",
        (now.isoformat(), delivery_id),
    )
    return cursor.rowcount == 1


async def settle(
    db: Database,
    delivery_id: int,
    status: str,
    now: dt.datetime,
    message_id: str | None = None,
    detail: str = "",
) -> None:
    await db.execute(
        "UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id), detail = ?, updated_at = ?"
        " WHERE id = ?",
        (status, message_id, detail, now.isoformat(), delivery_id),
    )


async def pending(db: Database, what: str | None = None, occurrence: str | None = None) -> list[Delivery]:
    clauses, params = ["status = 'pending'"], []
    if what:
        clauses.append("what = ?")
        params.append(what)
    if occurrence:
        clauses.append("occurrence = ?")
        params.append(occurrence)
    rows = await db.fetchall(
        f"SELECT * FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY due_at, id", tuple(params)
    )
    return [_delivery(r) for r in rows]


async def interrupted(db: Database) -> list[Delivery]:
    """Rows left mid-send by a crash."""
    rows = await db.fetchall("SELECT * FROM deliveries WHERE status = 'sending' ORDER BY id")
    return [_delivery(r) for r in rows]


async def release(db: Database, delivery_id: int, now: dt.datetime, detail: str) -> None:
    """sending → pending, to be tried again."""
    await db.execute(
        "UPDATE deliveries SET status = 'pending', detail = ?, updated_at = ? WHERE id = ? AND status = 'sending'",
        (detail, now.isoformat(), delivery_id),
    )


async def for_occurrence(db: Database, what: str, occurrence: str) -> list[Delivery]:
    rows = await db.fetchall(
        "SELECT * FROM deliveries WHERE what = ? AND occurrence = ? ORDER BY platform, target",
        (what, occurrence),
    )
    return [_delivery(r) for r in rows]


async def exists(db: Database, what: str, occurrence: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM deliveries WHERE what = ? AND occurrence = ? LIMIT 1", (what, occurrence))
    return row is not None
