"""Everything the bot holds about one person: collected for /privacy export, erased on request.

Each table that names people is listed here once; a test checks that, after erasing, no row in
any table still names the person, so a new table that forgets to register fails that test.
"""

from __future__ import annotations

import secrets

from storage.db import Database

# (table, the person's platform column, user id column); rows are exported as they are.
OWNED = [
    ("people", "platform", "user_id"),
    ("intents", "platform", "user_id"),
    ("late_access", "platform", "user_id"),
    ("faq_log", "platform", "user_id"),
    ("faq_forwarded", "platform", "user_id"),
    ("session_questions", "platform", "user_id"),
    ("coalition_members", "platform", "user_id"),
    ("event_activity", "platform", "user_id"),
    ("reports", "platform", "reporter_id"),
    ("circle_people", "platform", "user_id"),
    ("circle_members", "platform", "user_id"),
]


async def collect(db: Database, platform: str, user_id: str) -> dict[str, list[dict]]:
    data: dict[str, list[dict]] = {}
    for table, platform_column, user_column in OWNED:
        rows = await db.fetchall(
            f"SELECT * FROM {table} WHERE {platform_column} = ? AND {user_column} = ?", (platform, user_id)
        )
        data[table] = [dict(r) for r in rows]
    data["deliveries"] = [
        dict(r)
        for r in await db.fetchall(
            "SELECT what, occurrence, due_at, status FROM deliveries WHERE platform = ? AND target = ?",
            (platform, f"user:{user_id}"),
        )
    ]
    data["coalitions_proposed"] = [
        dict(r)
        for r in await db.fetchall(
            "SELECT name, description, status FROM coalitions WHERE proposed_by = ?", (f"{platform}:{user_id}",)
        )
    ]
    data["report_messages"] = [
        dict(r)
        for r in await db.fetchall(
            "SELECT m.report_id, m.sender, m.text, m.at FROM report_messages m JOIN reports r ON r.id = m.report_id"
            " WHERE r.platform = ? AND r.reporter_id = ? AND m.sender = 'reporter'",
            (platform, user_id),
        )
    ]
    return data


async def erase(db: Database, platform: str, user_id: str, display_name: str) -> dict[str, int]:
    """Delete what is only theirs; anonymise what others rely on (counts of intents, reports)."""
    ghost = f"erased-{secrets.token_hex(4)}"
    counts: dict[str, int] = {}

    async def run(label: str, sql: str, params: tuple) -> None:
        cursor = await db.execute(sql, params)
        counts[label] = counts.get(label, 0) + max(cursor.rowcount, 0)

    async with db.transaction():
        # Children before parents (faq_forwarded refers to faq_log).
        for table in (
            "people",
            "late_access",
            "faq_forwarded",
            "faq_log",
            "coalition_members",
            "circle_people",
            "circle_members",
        ):
            await run(table, f"DELETE FROM {table} WHERE platform = ? AND user_id = ?", (platform, user_id))
        await run(
            "intents",
            "UPDATE intents SET user_id = ?, display_name = '', email = '', affiliation = '', co_presenters = '',"
            " description = '' WHERE platform = ? AND user_id = ?",
            (ghost, platform, user_id),
        )
        await run(
            "session_questions",
            "UPDATE session_questions SET user_id = ?, display_name = '' WHERE platform = ? AND user_id = ?",
            (ghost, platform, user_id),
        )
        await run(  # message counts stay in the event summary, no longer tied to them
            "event_activity",
            "UPDATE event_activity SET user_id = ? WHERE platform = ? AND user_id = ?",
            (ghost, platform, user_id),
        )
        await run(
            "report_messages",
            "UPDATE report_messages SET author_id = ? WHERE author_id = ? AND report_id IN"
            " (SELECT id FROM reports WHERE platform = ?)",
            (ghost, user_id, platform),
        )
        await run(
            "reports",
            "UPDATE reports SET reporter_id = ?, reporter_name = '' WHERE platform = ? AND reporter_id = ?",
            (ghost, platform, user_id),
        )
        await run(
            "deliveries", "DELETE FROM deliveries WHERE platform = ? AND target = ?", (platform, f"user:{user_id}")
        )
        await run(
            "coalitions", "UPDATE coalitions SET proposed_by = '' WHERE proposed_by = ?", (f"{platform}:{user_id}",)
        )
        await run(
            "coalition_prompts",
            "UPDATE coalition_prompts SET created_by = '' WHERE created_by = ?",
            (f"{platform}:{user_id}",),
        )
        await run(
            "audit", "UPDATE audit SET actor_id = ? WHERE platform = ? AND actor_id = ?", (ghost, platform, user_id)
        )
        if display_name:
            await run("faq_overrides", "UPDATE faq_overrides SET updated_by = '' WHERE updated_by = ?", (display_name,))
            await run("announcements", "UPDATE announcements SET created_by = '' WHERE created_by = ?", (display_name,))
        # Form drafts an adapter kept (what someone typed, awaiting a fix).
        await run("meta", "DELETE FROM meta WHERE key LIKE '%draft%' AND value LIKE ?", (f'%"{user_id}"%',))
    return counts
