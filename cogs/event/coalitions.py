"""/coalition: topic coalitions attendees join to keep working together after the sessions."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from bot.core.batches import Batcher
from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    Message,
    Option,
    OptionKind,
    Permission,
    Place,
    PlaceKind,
    Platform,
    Reply,
    Timestamp,
)
from bot.core.port import PlatformError
from bot.core.registry import button, command, timeline
from bot.core.text import excerpt, join_words
from bot.delivery import Occurrence, Target
from cogs.event import places
from storage import audit

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER


async def _complete_coalition(ctx: Context, partial: str) -> list[Choice]:
    cog = next(c for c in ctx.app.cogs if isinstance(c, CoalitionsCog))
    needle = partial.lower().strip()
    rows = await cog.active()
    return [Choice(r["name"][:100], r["name"][:100]) for r in rows if needle in r["name"].lower()][:25]


@dataclass(frozen=True)
class Joiner:
    coalition: Any  # its row as the person joined (a name or prompt an organizer changed is the newest)
    name: str
    who: str  # platform-user, for the welcome's dedupe key
    port: Any
    place: Place


class CoalitionsCog:
    def __init__(self, app):
        self.app = app
        self._seeded = False
        self._lock = asyncio.Lock()
        # Welcomes per (platform, coalition), in the background: in a rush one message greets everyone
        # who joined while the previous one was being posted.
        self._welcomes: dict[tuple[str, int], Batcher[Joiner]] = {}

    async def _seed(self) -> None:
        """The coalitions from config exist from the start (added once; organizers' changes stay)."""
        if self._seeded:
            return
        now = self.app.clock.now().isoformat()
        for item in self.app.config.event.coalitions:
            await self.app.db.execute(
                "INSERT INTO coalitions (slug, name, description, prompt, status, created_at)"
                " VALUES (?, ?, ?, ?, 'active', ?) ON CONFLICT (slug) DO NOTHING",
                (places.channel_name(item.name, "coalition"), item.name, item.description, item.prompt, now),
            )
        self._seeded = True

    async def active(self) -> list:
        await self._seed()
        return await self.app.db.fetchall("SELECT * FROM coalitions WHERE status = 'active' ORDER BY name")

    async def find(self, name: str):
        await self._seed()
        typed = name.strip()
        row = await self.app.db.fetchone(
            "SELECT * FROM coalitions WHERE status = 'active' AND (slug = ? OR lower(name) = lower(?))",
            (places.channel_name(typed, "?"), typed),
        )
        if row is None:
            raise UsageError(
                f"There is no coalition {typed!r}. /coalition list shows them; /coalition propose adds one."
            )
        return row

    @command("coalition list", "The topic coalitions you can join")
    async def list_coalitions(self, ctx: Context) -> Reply:
        rows = await self.active()
        counts = {
            r["coalition_id"]: r["n"]
            for r in await ctx.db.fetchall(
                "SELECT coalition_id, COUNT(*) AS n FROM coalition_members GROUP BY coalition_id"
            )
        }
        mine = {
            r["coalition_id"]
            for r in await ctx.db.fetchall(
                "SELECT coalition_id FROM coalition_members WHERE platform = ? AND user_id = ?",
                (ctx.actor.platform, ctx.actor.user_id),
            )
        }
        lines = ["Topic coalitions (join with /coalition join NAME):"]
        for row in rows:
            you = " (you're in)" if row["id"] in mine else ""
            lines.append(f"- **{row['name']}**: {row['description']} ({counts.get(row['id'], 0)} members){you}")
        lines.append("Missing one? /coalition propose NAME DESCRIPTION.")
        return Reply("\n".join(lines))

    @command(
        "coalition join",
        "Join a topic coalition",
        Option("name", "The coalition", autocomplete=_complete_coalition),
    )
    async def join(self, ctx: Context) -> Reply:
        row = await self.find(ctx.options["name"])
        actor = ctx.actor
        cursor = await ctx.db.execute(
            "INSERT INTO coalition_members (coalition_id, platform, user_id, display_name, joined_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (row["id"], actor.platform, actor.user_id, actor.display_name, ctx.now().isoformat()),
        )
        if cursor.rowcount != 1:
            return Reply(f"You're already in **{row['name']}**.")
        port = self.app.platforms.get(actor.platform) or ctx.platform
        if port is not None:
            try:
                try:
                    place = await self.place(port, row)
                    await port.add_member(place, actor.user_id)
                except PlatformError:
                    # Its space may have been deleted by hand: forget it, make a new one, try once more.
                    await ctx.db.execute(
                        "DELETE FROM coalition_places WHERE coalition_id = ? AND platform = ?",
                        (row["id"], str(port.platform)),
                    )
                    place = await self.place(port, row)
                    await port.add_member(place, actor.user_id)
            except Exception:
                # Not in after all: a later try must not answer "already in".
                await ctx.db.execute(
                    "DELETE FROM coalition_members WHERE coalition_id = ? AND platform = ? AND user_id = ?",
                    (row["id"], actor.platform, actor.user_id),
                )
                raise
            self._welcome(Joiner(row, actor.display_name, f"{actor.platform}-{actor.user_id}", port, place))
        return Reply(f"You joined **{row['name']}**. Say hello in its space; /coalition leave {row['name']} to leave.")

    def _welcome(self, joiner: Joiner) -> None:
        """Greet a new member in the coalition's space, after the reply: a join costs one request
        (Discord's 50/s for the whole bot; Slack's 1 message/s per channel), not two."""
        key = (str(joiner.port.platform), joiner.coalition["id"])
        if key not in self._welcomes:
            self._welcomes[key] = Batcher(self.app, f"welcoming to coalition {key[1]}", self._post_welcome)
        self._welcomes[key].add(joiner)

    @staticmethod
    async def _post_welcome(joiners: list[Joiner]) -> None:
        latest = joiners[-1]  # the freshest port, space and coalition (a restarted adapter, a remade space)
        row = latest.coalition
        text = f"👋 Welcome, {join_words([j.name for j in joiners])}, to **{row['name']}**!\nTo start: {row['prompt']}"
        key = f"coalition-welcome-{row['id']}-{joiners[0].who}"
        await latest.port.post(latest.place, Message(text, dedupe_key=key))

    async def place(self, port, row) -> Place:
        """The coalition's space on this platform, created the first time someone needs it."""
        async with self._lock:  # two first joins at once must not create two spaces
            platform = str(port.platform)
            found = await self.app.db.fetchone(
                "SELECT channel_id, thread_id FROM coalition_places WHERE coalition_id = ? AND platform = ?",
                (row["id"], platform),
            )
            if found:
                if found["thread_id"]:
                    return Place(Platform(platform), found["channel_id"], PlaceKind.THREAD, found["thread_id"])
                return Place(Platform(platform), found["channel_id"])
            forum = await places.place_for(self.app.db, platform, "coalitions")
            intro = Message(f"**{row['name']}**: {row['description']}\nTo start: {row['prompt']}")
            if forum is not None:
                created = await port.create_thread(forum, row["name"][:100], intro)
                thread_id = created.thread_id or created.channel_id
                place = Place(Platform(platform), created.channel_id, PlaceKind.THREAD, thread_id)
            else:
                name = f"{self.app.config.event.coalition_prefix}{row['slug']}"[:80]
                place = await port.create_channel(places.channel_name(name), topic=row["description"])
                await port.post(place, intro)
                thread_id = ""
            await self.app.db.execute(
                "INSERT INTO coalition_places (coalition_id, platform, channel_id, thread_id) VALUES (?, ?, ?, ?)",
                (row["id"], platform, place.channel_id, thread_id),
            )
            return place

    @command(
        "coalition leave",
        "Leave a topic coalition",
        Option("name", "The coalition", autocomplete=_complete_coalition),
    )
    async def leave(self, ctx: Context) -> Reply:
        row = await self.find(ctx.options["name"])
        actor = ctx.actor
        cursor = await ctx.db.execute(
            "DELETE FROM coalition_members WHERE coalition_id = ? AND platform = ? AND user_id = ?",
            (row["id"], actor.platform, actor.user_id),
        )
        if cursor.rowcount != 1:
            return Reply(f"You're not in **{row['name']}**.")
        port = self.app.platforms.get(actor.platform) or ctx.platform
        found = await ctx.db.fetchone(
            "SELECT channel_id, thread_id FROM coalition_places WHERE coalition_id = ? AND platform = ?",
            (row["id"], str(actor.platform)),
        )
        if port is not None and found:
            kind = PlaceKind.THREAD if found["thread_id"] else PlaceKind.CHANNEL
            await port.remove_member(
                Place(actor.platform, found["channel_id"], kind, found["thread_id"]), actor.user_id
            )
        return Reply(f"You left **{row['name']}**.")

    @command(
        "coalition members",
        "Who is in a coalition",
        Option("name", "The coalition", autocomplete=_complete_coalition),
    )
    async def members(self, ctx: Context) -> Reply:
        row = await self.find(ctx.options["name"])
        people = await ctx.db.fetchall(
            "SELECT platform, user_id, display_name FROM coalition_members WHERE coalition_id = ? ORDER BY joined_at",
            (row["id"],),
        )
        inside = any((p["platform"], p["user_id"]) == (ctx.actor.platform, ctx.actor.user_id) for p in people)
        if not (inside or ctx.actor.is_organizer):  # names are for fellow members and organizers
            return Reply(f"**{row['name']}** has {len(people)} members. Join to meet them: /coalition join.")
        names = ", ".join(f"{p['display_name']} ({p['platform']})" for p in people) or "nobody yet"
        return Reply(f"**{row['name']}** ({len(people)}): {names}")

    # -- proposing new coalitions ----------------------------------------------------------------
    @command(
        "coalition propose",
        "Propose a new topic coalition (organizers approve it)",
        Option("name", "Its name", max_length=60),
        Option("description", "What it will work on", max_length=300),
    )
    async def propose(self, ctx: Context) -> Reply:
        name, description = ctx.options["name"].strip(), ctx.options["description"].strip()
        slug = places.channel_name(name, "")
        if not slug:
            raise UsageError("A coalition name needs some letters or digits (emoji alone can't name a channel).")
        await self._seed()
        taken = await ctx.db.fetchone("SELECT name, status FROM coalitions WHERE slug = ?", (slug,))
        if taken:
            raise UsageError(f"“{taken['name']}” already exists ({taken['status']}); choose another name.")
        cursor = await ctx.db.execute(
            "INSERT INTO coalitions (slug, name, description, prompt, status, proposed_by, created_at)"
            " VALUES (?, ?, ?, ?, 'proposed', ?, ?)",
            (
                slug,
                name,
                description,
                f"What brought you to {name}?",
                f"{ctx.actor.platform}:{ctx.actor.user_id}",
                ctx.now().isoformat(),
            ),
        )
        coalition_id = cursor.lastrowid
        text = f"**Coalition proposed** by {ctx.actor.display_name} ({ctx.actor.platform}): **{name}**: {description}"
        buttons = (
            Button(f"coal-approve:{coalition_id}", "Approve", ButtonStyle.PRIMARY),
            Button(f"coal-decline:{coalition_id}", "Decline", ButtonStyle.DANGER),
        )
        await self.app.post_everywhere(
            [self.app.config.channels.organizers],
            Message(text, buttons, dedupe_key=f"coalition-proposed-{coalition_id}"),
        )
        return Reply(f"Thanks! **{name}** is with the organizers; I'll tell you when they decide.")

    @button("coal-approve", permission=ORGANIZER)
    async def approve(self, ctx: Context, coalition_id: str) -> Reply:
        return await self._decide(ctx, coalition_id, "active")

    @button("coal-decline", permission=ORGANIZER)
    async def decline(self, ctx: Context, coalition_id: str) -> Reply:
        return await self._decide(ctx, coalition_id, "declined")

    async def _decide(self, ctx: Context, coalition_id: str, status: str) -> Reply:
        number = parse_id(coalition_id)  # -1 for a forged argument: no such coalition
        cursor = await ctx.db.execute(
            "UPDATE coalitions SET status = ? WHERE id = ? AND status = 'proposed'",
            (status, -1 if number is None else number),
        )
        row = await ctx.db.fetchone("SELECT * FROM coalitions WHERE id = ?", (-1 if number is None else number,))
        if row is None:
            raise UsageError("That coalition no longer exists.")
        if cursor.rowcount != 1:
            return Reply(f"**{row['name']}** was already decided ({row['status']}).")
        await audit.record(ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, f"coalition {status}", row["name"])
        platform, _, user_id = row["proposed_by"].partition(":")
        port = self.app.platforms.get(platform)
        if port is not None and user_id:
            verdict = (
                f"Your coalition **{row['name']}** was approved: /coalition join {row['name']}"
                if status == "active"
                else f"The organizers decided not to open **{row['name']}** for now. Thank you for proposing it."
            )
            await port.dm(user_id, Message(verdict, dedupe_key=f"coalition-decided-{row['id']}"))
        return Reply(f"**{row['name']}** is {'open' if status == 'active' else 'declined'}.", private=False)

    # -- prompts for every coalition -----------------------------------------------------------------
    @command(
        "coalition prompt",
        "Post a conversation prompt in every coalition's space, now or at a time you choose",
        Option("text", "The prompt", max_length=1500),
        Option("at", "When to post it (default: now), e.g. 2023-10-14 16:30", OptionKind.DATETIME, required=False),
        permission=ORGANIZER,
    )
    async def prompt(self, ctx: Context) -> Reply:
        text, at = ctx.options["text"].strip(), ctx.options.get("at")
        if not text:
            raise UsageError("Please give the prompt's text.")
        now = ctx.now()
        if at is not None and at <= now:
            raise UsageError(f"{Timestamp(at)} has passed: choose a later time, or leave it out to post now.")
        if at is None and not await self._targets():
            raise UsageError("No coalition has a space yet: they appear when the first person joins.")
        cursor = await ctx.db.execute(
            "INSERT INTO coalition_prompts (text, send_at, status, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                text,
                (at or now).isoformat(),
                "scheduled" if at else "sent",
                f"{ctx.actor.platform}:{ctx.actor.user_id}",
                now.isoformat(),
            ),
        )
        prompt_id = cursor.lastrowid
        if at is not None:
            await self.app.replan()
            return Reply(
                f"Prompt #{prompt_id} will be posted in every coalition's space at {Timestamp(at)}. "
                f"/coalition prompts lists what is planned; /coalition prompt-cancel {prompt_id} stops it."
            )
        report = await self.app.deliveries.run_occurrence(self._occurrence(prompt_id, text, now))
        failed = f"; {report.failed} failed: {'; '.join(report.details)}" if report.failed else ""
        return Reply(f"Prompt posted in {report.sent} coalition space(s){failed}.")

    @command("coalition prompts", "Prompts waiting for their time", permission=ORGANIZER)
    async def scheduled_prompts(self, ctx: Context) -> Reply:
        rows = await ctx.db.fetchall(
            "SELECT * FROM coalition_prompts WHERE status = 'scheduled' AND send_at > ? ORDER BY send_at, id",
            (ctx.now().isoformat(),),
        )
        if not rows:
            return Reply("No coalition prompts are scheduled. /coalition prompt TEXT at=WHEN schedules one.")
        lines = ["Scheduled coalition prompts:"]
        for row in rows:
            when = Timestamp(dt.datetime.fromisoformat(row["send_at"]))
            lines.append(f"- **#{row['id']}** {when}: “{excerpt(row['text'])}”")
        lines.append("Cancel one with /coalition prompt-cancel ID.")
        return Reply("\n".join(lines))

    @command(
        "coalition prompt-cancel",
        "Cancel a scheduled coalition prompt",
        Option("id", "The prompt's number (see /coalition prompts)", OptionKind.INTEGER, min_value=1),
        permission=ORGANIZER,
    )
    async def cancel_prompt(self, ctx: Context) -> Reply:
        prompt_id = ctx.options["id"]
        row = await ctx.db.fetchone("SELECT * FROM coalition_prompts WHERE id = ?", (prompt_id,))
        if row is None:
            raise UsageError(f"There is no coalition prompt #{prompt_id}. /coalition prompts lists them.")
        if row["status"] != "scheduled" or dt.datetime.fromisoformat(row["send_at"]) <= ctx.now():
            state = "cancelled" if row["status"] == "cancelled" else "posted"
            raise UsageError(f"Prompt #{prompt_id} was already {state}; it cannot be cancelled.")
        await ctx.db.execute("UPDATE coalition_prompts SET status = 'cancelled' WHERE id = ?", (prompt_id,))
        await self.app.deliveries.cancel("coalition-prompt", str(prompt_id))
        await audit.record(
            ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "coalition prompt cancelled", str(prompt_id)
        )
        return Reply(f"Prompt #{prompt_id} is cancelled; it will not be posted.")

    @timeline("coalition-prompt")
    async def planned_prompts(self) -> list[Occurrence]:
        rows = await self.app.db.fetchall("SELECT * FROM coalition_prompts WHERE status IN ('scheduled', 'sent')")
        return [self._occurrence(r["id"], r["text"], dt.datetime.fromisoformat(r["send_at"])) for r in rows]

    async def _targets(self) -> list[Target]:
        """Every active coalition's space on every platform (spaces open with the first join)."""
        rows = await self.app.db.fetchall(
            "SELECT p.platform, p.channel_id, p.thread_id, c.name FROM coalition_places p"
            " JOIN coalitions c ON c.id = p.coalition_id WHERE c.status = 'active' ORDER BY c.name, p.platform"
        )
        return [
            Target(
                r["platform"],
                "thread" if r["thread_id"] else "channel",
                f"{r['channel_id']}/{r['thread_id']}" if r["thread_id"] else r["channel_id"],
                r["name"],
            )
            for r in rows
        ]

    def _occurrence(self, prompt_id: int, text: str, due: dt.datetime) -> Occurrence:
        async def message(target: Target, late: bool) -> Message:
            return Message(f"💬 **Prompt from the organizers:** {text}")

        return Occurrence(
            "coalition-prompt",
            str(prompt_id),
            due,
            f"Coalition prompt #{prompt_id}",
            "coalitions",
            self._targets,
            message,
            useful_until=due + dt.timedelta(hours=1),  # a conversation starter is stale after that
        )
