"""/announce: organizers write once, preview, and send to channels on every platform (now or later),
then get a report per target. Delivered through the ledger, so nothing goes out twice."""

from __future__ import annotations

import datetime as dt
import json
import logging

from bot.core.clock import parse_instant
from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    FieldKind,
    Form,
    FormErrors,
    FormField,
    Message,
    Option,
    OptionKind,
    Permission,
    Platform,
    Reply,
    Timestamp,
)
from bot.core.registry import button, command, form_builder, form_handler, timeline
from bot.core.text import excerpt
from bot.delivery import Occurrence, Target
from storage import deliveries as ledger
from storage import people

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER
FORM = "announce"
PLATFORM_CHOICES = (
    Choice("all", "Every connected platform"),
    Choice("discord", "Discord only"),
    Choice("slack", "Slack only"),
)
YES_NO = (Choice("no", "No ping"), Choice("yes", "Ping people who opted in (/notify on)"))


class AnnouncementsCog:
    def __init__(self, app):
        self.app = app

    @form_builder(FORM)
    def announce_form(self, form_id: str, state: str) -> Form:
        return Form(
            form_id,
            "New announcement",
            (
                FormField("text", "Announcement", FieldKind.PARAGRAPH, max_length=1800),
                FormField(
                    "channels",
                    "Channels (names, comma-separated)",
                    max_length=300,
                    default=self.app.config.channels.announcements,
                ),
                FormField("platforms", "Platforms", FieldKind.CHOICE, choices=PLATFORM_CHOICES, default="all"),
                FormField(
                    "send_at",
                    "Send at (empty: right away)",
                    FieldKind.DATETIME,
                    required=False,
                    placeholder="2023-06-23 09:00 (your time zone)",
                ),
                FormField("ping", "Ping", FieldKind.CHOICE, choices=YES_NO, default="no"),
            ),
            submit_label="Preview",
            state=state,
        )

    @command(
        "announce new",
        "Write an announcement for every platform (preview first)",
        permission=ORGANIZER,
        group_default=True,
    )
    async def announce(self, ctx: Context) -> Form:
        return self.announce_form(FORM, "")

    @form_handler(FORM, permission=ORGANIZER)
    async def preview(self, ctx: Context, values: dict[str, str], state: str) -> Reply | FormErrors:
        send_at = None
        if values["send_at"]:
            send_at = parse_instant(values["send_at"], ctx.zone)
            if send_at <= ctx.now():
                return FormErrors({"send_at": "That time has passed; leave it empty to send right away."})
        names = [n.strip().lstrip("#") for n in values["channels"].split(",") if n.strip()]
        targets, missing = await self._resolve(names, values["platforms"])
        if not targets:
            return FormErrors(
                {"channels": f"None of these channels exist on the chosen platforms: {', '.join(names)}."}
            )
        cursor = await ctx.db.execute(
            "INSERT INTO announcements (text, targets, send_at, ping, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                values["text"],
                json.dumps(targets),
                send_at.isoformat() if send_at else None,
                int(values["ping"] == "yes"),
                ctx.actor.display_name,
                ctx.now().isoformat(),
            ),
        )
        announcement_id = cursor.lastrowid
        where = ", ".join(f"{t['platform'].title()} #{t['name']}" for t in targets)
        lines = [
            "**Preview** (only you can see this):",
            "",
            values["text"],
            "",
            f"**To:** {where}",
            f"**When:** {Timestamp(send_at) if send_at else 'right away'}",
            f"**Ping:** {'people who opted in' if values['ping'] == 'yes' else 'nobody'}",
        ]
        if missing:
            lines.append(f"⚠️ Not found, skipped: {', '.join(missing)}")
        return Reply(
            "\n".join(lines),
            buttons=(
                Button(f"ann-send:{announcement_id}", "Schedule" if send_at else "Send", ButtonStyle.PRIMARY),
                Button(f"ann-cancel:{announcement_id}", "Cancel", ButtonStyle.DANGER),
            ),
        )

    async def _resolve(self, names: list[str], which: str) -> tuple[list[dict], list[str]]:
        targets, missing = [], []
        for platform, port in list(self.app.platforms.items()):
            if which != "all" and str(platform) != which:
                continue
            for name in names:
                place = await port.find_channel(name)
                if place:
                    targets.append({"platform": str(platform), "channel_id": place.channel_id, "name": name})
                else:
                    missing.append(f"{str(platform).title()} #{name}")
        return targets, missing

    @staticmethod
    def _status(row, now: dt.datetime) -> str:
        """A scheduled announcement whose time has come counts as sent (the ledger has the rest)."""
        if row["status"] == "scheduled" and dt.datetime.fromisoformat(row["send_at"]) <= now:
            return "sent"
        return row["status"]

    async def _get(self, ctx: Context, announcement_id: str):
        number = parse_id(announcement_id)
        row = (
            await ctx.db.fetchone("SELECT * FROM announcements WHERE id = ?", (number,)) if number is not None else None
        )
        if row is None:
            raise UsageError(f"There is no announcement #{announcement_id}.")
        return row

    @button("ann-send", permission=ORGANIZER)
    async def send(self, ctx: Context, announcement_id: str) -> Reply:
        row = await self._get(ctx, announcement_id)
        if row["status"] != "draft":
            raise UsageError(f"Announcement #{row['id']} was already {row['status']}.")
        send_at = dt.datetime.fromisoformat(row["send_at"]) if row["send_at"] else None
        status = "scheduled" if send_at and send_at > ctx.now() else "sent"
        if status == "sent":  # sent now: its time is the click, not when the preview was made
            send_at = ctx.now()
        cursor = await ctx.db.execute(
            "UPDATE announcements SET status = ?, send_at = ? WHERE id = ? AND status = 'draft'",
            (status, send_at.isoformat(), row["id"]),
        )
        if cursor.rowcount != 1:  # a double click
            raise UsageError(f"Announcement #{row['id']} is already on its way.")
        if status == "scheduled":
            await self.app.replan()
            return Reply(
                f"Announcement #{row['id']} is scheduled for {Timestamp(send_at)}. "
                f"/announce cancel {row['id']} stops it."
            )
        occurrence = self._occurrence(dict(row) | {"status": status, "send_at": send_at.isoformat()})
        await self.app.deliveries.run_occurrence(occurrence)
        return Reply(await self.report(row["id"]))

    async def report(self, announcement_id: int) -> str:
        lines = [f"Announcement #{announcement_id}:"]
        names = {}
        row = await self.app.db.fetchone("SELECT targets FROM announcements WHERE id = ?", (announcement_id,))
        for target in json.loads(row["targets"]):
            names[(target["platform"], f"channel:{target['channel_id']}")] = target["name"]
        for item in await ledger.for_occurrence(self.app.db, "announcement", str(announcement_id)):
            name = f"{item.platform.title()} #{names.get((item.platform, item.target), item.target)}"
            if item.status == "sent":
                link = await self._link(item)
                lines.append(f"- ✅ {name}" + (f": [view]({link})" if link else ""))
            elif item.status in ("failed", "skipped"):
                lines.append(f"- ❌ {name}: {item.detail or item.status}")
            else:
                lines.append(f"- ⏳ {name}: {item.status}")
        return "\n".join(lines)

    async def _link(self, item: ledger.Delivery) -> str:
        port = self.app.platforms.get(item.platform)
        link = getattr(port, "message_link", None)
        if link is None or not item.message_id:
            return ""
        try:
            return await link(item.target.partition(":")[2], item.message_id)
        except Exception:
            log.warning("no link for %s", item.key)
            return ""

    @button("ann-cancel", permission=ORGANIZER)
    async def cancel_button(self, ctx: Context, announcement_id: str) -> Reply:
        return await self._cancel(ctx, announcement_id)

    @command(
        "announce cancel",
        "Cancel a scheduled announcement",
        Option("id", "The announcement number", OptionKind.INTEGER),
        permission=ORGANIZER,
    )
    async def cancel(self, ctx: Context) -> Reply:
        return await self._cancel(ctx, str(ctx.options["id"]))

    async def _cancel(self, ctx: Context, announcement_id: str) -> Reply:
        row = await self._get(ctx, announcement_id)
        status = self._status(row, ctx.now())
        if status not in ("draft", "scheduled"):
            raise UsageError(f"Announcement #{row['id']} was already {status}; it cannot be cancelled.")
        await ctx.db.execute("UPDATE announcements SET status = 'cancelled' WHERE id = ?", (row["id"],))
        await self.app.deliveries.cancel("announcement", str(row["id"]))
        return Reply(f"Announcement #{row['id']} is cancelled; nothing more of it will be sent.")

    @command("announce scheduled", "Announcements waiting for their time", permission=ORGANIZER)
    async def scheduled(self, ctx: Context) -> Reply:
        rows = await ctx.db.fetchall(
            "SELECT * FROM announcements WHERE status = 'scheduled' AND send_at > ? ORDER BY send_at, id",
            (ctx.now().isoformat(),),
        )
        if not rows:
            return Reply("No announcements are scheduled.")
        lines = ["Scheduled announcements:"]
        for row in rows:
            where = ", ".join(f"{t['platform'].title()} #{t['name']}" for t in json.loads(row["targets"]))
            when = Timestamp(dt.datetime.fromisoformat(row["send_at"]))
            lines.append(f"- **#{row['id']}** {when} to {where}: “{excerpt(row['text'])}”")
        lines.append("Cancel one with /announce cancel ID.")
        return Reply("\n".join(lines))

    # -- the timeline ------------------------------------------------------------------------------
    @timeline("announcement")
    async def planned(self) -> list[Occurrence]:
        rows = await self.app.db.fetchall(
            "SELECT * FROM announcements WHERE status IN ('scheduled', 'sent') ORDER BY id"
        )
        return [self._occurrence(dict(row)) for row in rows]

    def _occurrence(self, row: dict) -> Occurrence:
        due = dt.datetime.fromisoformat(row["send_at"] or row["created_at"])
        targets = [Target(t["platform"], "channel", t["channel_id"], t["name"]) for t in json.loads(row["targets"])]

        async def target_list() -> list[Target]:
            return targets

        async def message(target: Target, late: bool) -> Message:
            text = row["text"] + ("\n_(Sent late: the bot was offline at the planned time.)_" if late else "")
            if not row["ping"]:
                return Message(text)
            if target.platform == Platform.DISCORD:
                return Message(text, notify_role=self.app.config.roles.announcements)
            return Message(text, mention_users=tuple(await people.notified(self.app.db, target.platform)))

        return Occurrence(
            "announcement",
            str(row["id"]),
            due,
            f"Announcement #{row['id']}",
            ", ".join(f"{t.platform} #{t.name}" for t in targets),
            target_list,
            message,
            useful_until=due + dt.timedelta(days=1),
        )
