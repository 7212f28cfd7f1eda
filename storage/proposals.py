"""Proposal intents and late-access grants."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, fields

from storage.db import Database

STATES = ("intent", "submitted", "withdrawn")


@dataclass(frozen=True)
class Intent:
    id: int
    platform: str
    user_id: str
    display_name: str
    type: str
    area: str
    title: str
    description: str
    co_presenters: str
    email: str
    affiliation: str
    state: str
    created_at: str
    updated_at: str
    submitted_at: str | None
    withdrawn_at: str | None


COLUMNS = [f.name for f in fields(Intent)]
EDITABLE = ("type", "area", "title", "description", "co_presenters", "email", "affiliation")


class LimitReached(Exception):
    pass


class DuplicateTitle(Exception):
    pass


def title_key(title: str) -> str:
    """Fold case, accents, punctuation and spacing: 'Our  Work!' and 'our work' are one title."""
    folded = unicodedata.normalize("NFKD", title.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", folded))


def _intent(row) -> Intent:
    return Intent(**{name: row[name] for name in COLUMNS})


async def create(
    db: Database,
    platform: str,
    user_id: str,
    display_name: str,
    values: dict[str, str],
    now: dt.datetime,
    limit: int,
) -> Intent:
    """Insert an intent unless the author already has `limit` live ones (checked in the same
    statement, so concurrent submissions cannot slip past the limit)."""
    stamp = now.isoformat()
    try:
        cursor = await db.execute(
            "INSERT INTO intents (platform, user_id, display_name, type, area, title, title_key, description,"
            " co_presenters, email, affiliation, created_at, updated_at)"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            " WHERE (SELECT COUNT(*) FROM intents"
            "        WHERE platform = ? AND user_id = ? AND state != 'withdrawn') < ?",
            (
                platform,
                user_id,
                display_name,
                values["type"],
                values["area"],
                values["title"],
                title_key(values["title"]),
                values["description"],
                values.get("co_presenters", ""),
                values["email"],
                values.get("affiliation", ""),
                stamp,
                stamp,
                platform,
                user_id,
                limit,
            ),
        )
    except sqlite3.IntegrityError:
        raise DuplicateTitle(values["title"]) from None
    if cursor.rowcount != 1:
        raise LimitReached()
    return await get(db, cursor.lastrowid)


async def update(db: Database, intent_id: int, values: dict[str, str], now: dt.datetime) -> Intent:
    assignments = ", ".join(f"{name} = ?" for name in EDITABLE)
    try:
        await db.execute(
            f"UPDATE intents SET {assignments}, title_key = ?, updated_at = ? WHERE id = ?",
            (*(values.get(n, "") for n in EDITABLE), title_key(values["title"]), now.isoformat(), intent_id),
        )
    except sqlite3.IntegrityError:
        raise DuplicateTitle(values["title"]) from None
    return await get(db, intent_id)


async def set_state(db: Database, intent_id: int, state: str, now: dt.datetime) -> Intent:
    stamp = now.isoformat()
    column = {"submitted": "submitted_at", "withdrawn": "withdrawn_at"}.get(state)
    extra = f", {column} = ?" if column else ""
    params = (state, stamp, stamp, intent_id) if column else (state, stamp, intent_id)
    await db.execute(f"UPDATE intents SET state = ?, updated_at = ?{extra} WHERE id = ?", params)
    return await get(db, intent_id)


async def get(db: Database, intent_id: int) -> Intent | None:
    row = await db.fetchone("SELECT * FROM intents WHERE id = ?", (intent_id,))
    return _intent(row) if row else None


async def by_author(db: Database, platform: str, user_id: str) -> list[Intent]:
    rows = await db.fetchall(
        "SELECT * FROM intents WHERE platform = ? AND user_id = ? ORDER BY id", (platform, user_id)
    )
    return [_intent(r) for r in rows]


async def search(
    db: Database, type: str | None = None, area: str | None = None, state: str | None = None
) -> list[Intent]:
    clauses, params = [], []
    for column, value in (("type", type), ("area", area), ("state", state)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetchall(f"SELECT * FROM intents{where} ORDER BY id", tuple(params))
    return [_intent(r) for r in rows]


async def unfinished_authors(db: Database) -> list[tuple[str, str, int]]:
    """(platform, user_id, how many intents) for people with intents not yet marked submitted."""
    rows = await db.fetchall(
        "SELECT platform, user_id, COUNT(*) AS n FROM intents WHERE state = 'intent'"
        " GROUP BY platform, user_id ORDER BY platform, user_id"
    )
    return [(r["platform"], r["user_id"], r["n"]) for r in rows]


async def grant_late_access(
    db: Database, platform: str, user_id: str, until: dt.datetime, by: str, now: dt.datetime
) -> None:
    await db.execute(
        "INSERT INTO late_access (platform, user_id, until, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (platform, user_id) DO UPDATE SET until = excluded.until,"
        " granted_by = excluded.granted_by, granted_at = excluded.granted_at",
        (platform, user_id, until.astimezone(dt.UTC).isoformat(), by, now.isoformat()),
    )


async def late_access_until(db: Database, platform: str, user_id: str) -> dt.datetime | None:
    row = await db.fetchone("SELECT until FROM late_access WHERE platform = ? AND user_id = ?", (platform, user_id))
    return dt.datetime.fromisoformat(row["until"]) if row else None
