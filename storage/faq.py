"""FAQ storage: organizers' runtime changes, the log of uncertain questions, forwarded questions."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from storage.db import Database


@dataclass(frozen=True)
class Override:
    entry_id: str
    question: str
    alternates: list[str]
    answer: str
    tags: list[str]
    removed: bool


async def overrides(db: Database) -> list[Override]:
    rows = await db.fetchall("SELECT * FROM faq_overrides ORDER BY updated_at, entry_id")
    return [
        Override(
            r["entry_id"],
            r["question"],
            json.loads(r["alternates"]),
            r["answer"],
            json.loads(r["tags"]),
            bool(r["removed"]),
        )
        for r in rows
    ]


async def save_override(db: Database, item: Override, by: str, now: dt.datetime) -> None:
    await db.execute(
        "INSERT INTO faq_overrides (entry_id, question, alternates, answer, tags, removed, updated_by,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO UPDATE SET"
        " question = excluded.question, alternates = excluded.alternates, answer = excluded.answer,"
        " tags = excluded.tags, removed = excluded.removed, updated_by = excluded.updated_by,"
        " updated_at = excluded.updated_at",
        (
            item.entry_id,
            item.question,
            json.dumps(item.alternates),
            item.answer,
            json.dumps(item.tags),
            int(item.removed),
            by,
            now.isoformat(),
        ),
    )


async def log_question(
    db: Database,
    now: dt.datetime,
    platform: str,
    user_id: str,
    question: str,
    outcome: str,
    top: list[tuple[str, float]],
) -> int:
    cursor = await db.execute(
        "INSERT INTO faq_log (asked_at, platform, user_id, question, outcome, top) VALUES (?, ?, ?, ?, ?, ?)",
        (
            now.isoformat(),
            platform,
            user_id,
            question,
            outcome,
            json.dumps([[i, round(s, 3)] for i, s in top]),
        ),
    )
    return cursor.lastrowid


async def logged(db: Database, log_id: int):
    return await db.fetchone("SELECT * FROM faq_log WHERE id = ?", (log_id,))


@dataclass(frozen=True)
class Gap:
    question: str
    times: int
    outcome: str
    top: list[list]
    last_asked: str


async def gaps(db: Database, limit: int = 10) -> list[Gap]:
    """The most frequent uncertain questions (same wording, case and spacing aside)."""
    rows = await db.fetchall(
        "SELECT lower(trim(question)) AS key, COUNT(*) AS times, MAX(asked_at) AS last_asked,"
        " MAX(id) AS last_id FROM faq_log GROUP BY key ORDER BY times DESC, last_asked DESC LIMIT ?",
        (limit,),
    )
    found = []
    for row in rows:
        last = await logged(db, row["last_id"])
        found.append(Gap(last["question"], row["times"], last["outcome"], json.loads(last["top"]), row["last_asked"]))
    return found


@dataclass(frozen=True)
class Forwarded:
    id: int
    platform: str
    user_id: str
    display_name: str
    question: str
    asked_at: str
    answer: str | None
    answered_by: str | None


async def forward(
    db: Database,
    log_id: int | None,
    platform: str,
    user_id: str,
    display_name: str,
    question: str,
    now: dt.datetime,
) -> tuple[Forwarded, bool]:
    """Record a question for organizers; (the row, whether it is new). Forwarding twice is a no-op."""
    cursor = await db.execute(
        "INSERT INTO faq_forwarded (log_id, platform, user_id, display_name, question, asked_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (log_id) DO NOTHING",
        (log_id, platform, user_id, display_name, question, now.isoformat()),
    )
    created = cursor.rowcount == 1
    if created:
        row = await db.fetchone("SELECT * FROM faq_forwarded WHERE id = ?", (cursor.lastrowid,))
    else:
        row = await db.fetchone("SELECT * FROM faq_forwarded WHERE log_id = ?", (log_id,))
    return _forwarded(row), created


async def forwarded(db: Database, forwarded_id: int) -> Forwarded | None:
    row = await db.fetchone("SELECT * FROM faq_forwarded WHERE id = ?", (forwarded_id,))
    return _forwarded(row) if row else None


async def record_answer(db: Database, forwarded_id: int, answer: str, by: str, now: dt.datetime) -> None:
    await db.execute(
        "UPDATE faq_forwarded SET answer = ?, answered_by = ?, answered_at = ? WHERE id = ?",
        (answer, by, now.isoformat(), forwarded_id),
    )


def _forwarded(row) -> Forwarded:
    return Forwarded(
        row["id"],
        row["platform"],
        row["user_id"],
        row["display_name"],
        row["question"],
        row["asked_at"],
        row["answer"],
        row["answered_by"],
    )
