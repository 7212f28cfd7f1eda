"""Community safety: private reports relayed both ways, privacy export and delete, the audit log."""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.model import Button, ButtonStyle, File, Message, Option, OptionKind, Permission, Reply
from bot.core.registry import button, command
from storage import audit, privacy

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER


class SafetyCog:
    def __init__(self, app):
        self.app = app

    # -- reports ----------------------------------------------------------------------------------
    @command(
        "report new",
        "Tell the organizers privately about something that worried you",
        Option("text", "What happened (only organizers will see this)", max_length=2000),
        Option("about", "A message link or a person, if it is about one", required=False, max_length=300),
        group_default=True,
    )
    async def report(self, ctx: Context) -> Reply:
        actor = ctx.actor
        text, about = ctx.options["text"].strip(), (ctx.options["about"] or "").strip()
        cursor = await ctx.db.execute(
            "INSERT INTO reports (platform, reporter_id, reporter_name, about, text, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (actor.platform, actor.user_id, actor.display_name, about, text, ctx.now().isoformat()),
        )
        report_id = cursor.lastrowid
        await self._add_message(ctx, report_id, "reporter", text)
        about_line = f"\n**About:** {about}" if about else ""
        delivered = await self._to_moderators(
            f"🛡️ **Report #{report_id}** from {actor.display_name} ({actor.platform}){about_line}\n> {text}\n"
            f"Reply privately with `/report reply {report_id} TEXT`; close with `/report close {report_id}`.",
            f"report-{report_id}",
        )
        where = "" if delivered else " (the organizers will see it as soon as they check)"
        return Reply(
            f"Thank you. Your report is #{report_id} and only the organizers can see it{where}. "
            "Nobody you reported will learn it was you. I'll bring their answer here privately; "
            f"you can add to it with /report reply {report_id} TEXT."
        )

    async def _to_moderators(self, text: str, key: str) -> int:
        channels = self.app.config.channels
        return await self.app.post_everywhere([channels.moderation, channels.organizers], Message(text, dedupe_key=key))

    async def _add_message(self, ctx: Context, report_id: int, sender: str, text: str) -> int:
        cursor = await ctx.db.execute(
            "INSERT INTO report_messages (report_id, sender, author_id, text, at) VALUES (?, ?, ?, ?, ?)",
            (report_id, sender, ctx.actor.user_id, text, ctx.now().isoformat()),
        )
        return cursor.lastrowid

    async def _report(self, ctx: Context, report_id: int):
        row = await ctx.db.fetchone("SELECT * FROM reports WHERE id = ?", (report_id,))
        mine = row and (row["platform"], row["reporter_id"]) == (ctx.actor.platform, ctx.actor.user_id)
        if row is None or not (mine or ctx.actor.is_organizer):
            raise UsageError(f"You have no report #{report_id}.")
        return row, bool(mine)

    @command(
        "report reply",
        "Answer about a report: organizers to the reporter, or the reporter to organizers",
        Option("id", "The report number", OptionKind.INTEGER),
        Option("text", "Your message", max_length=2000),
    )
    async def reply(self, ctx: Context) -> Reply:
        row, mine = await self._report(ctx, ctx.options["id"])
        text = ctx.options["text"].strip()
        if row["status"] == "closed":
            raise UsageError(f"Report #{row['id']} is closed. Start a new one with /report if you need to.")
        if mine and not ctx.actor.is_organizer:  # the reporter adds to their report
            message_id = await self._add_message(ctx, row["id"], "reporter", text)
            await self._to_moderators(
                f"🛡️ **Report #{row['id']}**, the reporter adds:\n> {text}", f"report-msg-{message_id}"
            )
            return Reply(f"Added to report #{row['id']}; the organizers have it.")
        port = self.app.platforms.get(row["platform"])
        if port is None:
            raise UsageError(f"The reporter is on {row['platform']}, which is not connected right now.")
        count = await ctx.db.fetchone("SELECT COUNT(*) AS n FROM report_messages WHERE report_id = ?", (row["id"],))
        await port.dm(  # delivered first: a message the reporter never got is not recorded as sent
            row["reporter_id"],
            Message(
                f"🛡️ The organizers answered your report #{row['id']}:\n> {text}\n"
                f"Reply with /report reply {row['id']} TEXT.",
                dedupe_key=f"report-msg-{row['id']}-{count['n']}",
            ),
        )
        await self._add_message(ctx, row["id"], "organizers", text)
        await audit.record(ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "report reply", f"#{row['id']}")
        return Reply(f"Sent privately to the reporter of #{row['id']}.")

    @command(
        "report close",
        "Close a report",
        Option("id", "The report number", OptionKind.INTEGER),
        permission=ORGANIZER,
    )
    async def close(self, ctx: Context) -> Reply:
        row, _ = await self._report(ctx, ctx.options["id"])
        await ctx.db.execute("UPDATE reports SET status = 'closed' WHERE id = ?", (row["id"],))
        await audit.record(ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "report close", f"#{row['id']}")
        port = self.app.platforms.get(row["platform"])
        if port is not None:
            await port.dm(
                row["reporter_id"],
                Message(
                    f"🛡️ Your report #{row['id']} is closed. Thank you for telling us. "
                    "If anything else happens, /report is always open.",
                    dedupe_key=f"report-closed-{row['id']}",
                ),
            )
        return Reply(f"Report #{row['id']} is closed; the reporter was told.")

    # -- privacy ----------------------------------------------------------------------------------
    @command("privacy export", "Everything the bot holds about you, as a file only you see")
    async def export(self, ctx: Context) -> Reply:
        data = await privacy.collect(ctx.db, ctx.actor.platform, ctx.actor.user_id)
        data["exported_at"] = ctx.now().isoformat()
        body = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode("utf-8")
        return Reply(
            "Here is everything I hold about you. /privacy delete erases it.",
            files=(File("my-data.json", body, "application/json"),),
        )

    @command("privacy delete", "Erase what the bot holds about you (asks first)")
    async def delete(self, ctx: Context) -> Reply:
        return Reply(
            "This erases what I hold about you: your settings, questions, coalition and circle memberships. "
            "Proposal intents the organizers already received stay counted but lose your name and email. "
            "It cannot be undone.",
            buttons=(
                Button(f"privacy-delete:{ctx.actor.user_id}", "Erase my data", ButtonStyle.DANGER),
                Button("privacy-keep:", "Keep it"),
            ),
        )

    @button("privacy-delete")
    async def confirm_delete(self, ctx: Context, user_id: str) -> Reply:
        if user_id != ctx.actor.user_id:
            raise UsageError("That button erases someone else's data; use /privacy delete yourself.")
        counts = await privacy.erase(ctx.db, ctx.actor.platform, ctx.actor.user_id, ctx.actor.display_name)
        total = sum(counts.values())
        log.info("erased personal data on request (%d rows)", total)
        return Reply(f"Done: {total} record(s) about you were erased or anonymised.")

    @button("privacy-keep")
    async def keep(self, ctx: Context, _argument: str) -> Reply:
        return Reply("Nothing was erased.")

    # -- the moderation log -----------------------------------------------------------------------
    @command(
        "audit",
        "The moderation log: organizer actions and anonymous question authors",
        Option("user", "Only this person's entries", required=False),
        Option("since", "Only entries since (e.g. 2023-10-13)", OptionKind.DATETIME, required=False),
        permission=ORGANIZER,
    )
    async def audit_log(self, ctx: Context) -> Reply:
        rows = await audit.entries(ctx.db, limit=500)
        user, since = ctx.options["user"], ctx.options["since"]
        if user:
            rows = [r for r in rows if r["actor_id"] == user.strip().lstrip("@")]
        if since:
            rows = [r for r in rows if dt.datetime.fromisoformat(r["at"]) >= since]
        if not rows:
            return Reply("No entries match.")
        lines = ["Moderation log, newest first:"]
        lines += [
            f"- {r['at'][:16].replace('T', ' ')} {r['platform']}:{r['actor_id']} {r['action']} {r['detail']}".rstrip()
            for r in rows[:50]
        ]
        return Reply("\n".join(lines))
