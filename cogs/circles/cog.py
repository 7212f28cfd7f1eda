"""/circles: opt-in small groups mixing roles, matched in announced rounds, delivered once."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random

from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    Button,
    Choice,
    FieldKind,
    Form,
    FormField,
    Message,
    Option,
    OptionKind,
    Permission,
    Reply,
    Timestamp,
)
from bot.core.registry import button, command, form_builder, form_handler, timeline
from bot.delivery import Occurrence, Target
from cogs.circles.matcher import Person, match, pairs, repeated_pairs
from storage import audit, meta

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER
FORM = "circles-join"
NEXT_SEED = "circles.next_seed"


class CirclesCog:
    def __init__(self, app):
        self.app = app

    # -- joining ----------------------------------------------------------------------------------
    @form_builder(FORM)
    def join_form(self, form_id: str, state: str) -> Form:
        roles = tuple(Choice(r, r.capitalize()) for r in self.app.config.circles.roles)
        area_ids = ", ".join(a.id for a in self.app.config.areas)
        return Form(
            form_id,
            "Join coalition circles",
            (
                FormField("role", "Your role", FieldKind.CHOICE, choices=roles),
                FormField(
                    "areas",
                    f"Areas of interest ({area_ids}, or all)",
                    max_length=100,
                    default="all",
                    placeholder="ume, community",
                ),
                FormField("institution", "Institution (optional)", required=False, max_length=120),
                FormField(
                    "timezone", "Time zone (optional)", required=False, max_length=60, placeholder="America/Chicago"
                ),
            ),
            submit_label="Join",
            state=state,
        )

    @command("circles join", "Opt in to small groups that mix roles across the conference")
    async def join(self, ctx: Context) -> Form:
        row = await self._person(ctx.actor.platform, ctx.actor.user_id)
        form = self.join_form(FORM, "")
        if row:  # changing their answers keeps what they said before
            return form.prefilled(
                {
                    "role": row["role"],
                    "areas": ", ".join(json.loads(row["areas"])),
                    "institution": row["institution"],
                    "timezone": row["timezone"],
                }
            )
        return form

    @form_handler(FORM)
    async def joined(self, ctx: Context, values: dict[str, str], state: str):
        from bot.core.model import FormErrors

        try:
            areas = self._areas(values["areas"])
        except ValueError as exc:
            return FormErrors({"areas": str(exc)})
        actor = ctx.actor
        await ctx.db.execute(
            "INSERT INTO circle_people (platform, user_id, display_name, role, areas, institution, timezone, status,"
            " joined_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?) ON CONFLICT (platform, user_id) DO UPDATE SET"
            " display_name = excluded.display_name, role = excluded.role, areas = excluded.areas,"
            " institution = excluded.institution, timezone = excluded.timezone, status = 'active',"
            " paused_until = NULL",
            (
                actor.platform,
                actor.user_id,
                actor.display_name,
                values["role"],
                json.dumps(areas),
                values["institution"],
                values["timezone"],
                ctx.now().isoformat(),
            ),
        )
        return Reply(
            "You're in! Before each round I'll tell you when it starts, so you can /circles pause. "
            "You'll meet a few people in other roles who share your interests. /circles leave stops it."
        )

    def _areas(self, typed: str) -> list[str]:
        known = {a.id: a.id for a in self.app.config.areas} | {a.label.lower(): a.id for a in self.app.config.areas}
        words = [w.strip().lower() for w in typed.split(",") if w.strip()]
        if not words or words == ["all"]:
            return [a.id for a in self.app.config.areas]
        unknown = [w for w in words if w not in known]
        if unknown:
            raise ValueError(
                f"Unknown area(s): {', '.join(unknown)}. Use {', '.join(a.id for a in self.app.config.areas)} or all."
            )
        return sorted({known[w] for w in words})

    async def _person(self, platform: str, user_id: str):
        return await self.app.db.fetchone(
            "SELECT * FROM circle_people WHERE platform = ? AND user_id = ?", (platform, user_id)
        )

    async def _set_status(self, ctx: Context, status: str, until: dt.datetime | None = None) -> None:
        row = await self._person(ctx.actor.platform, ctx.actor.user_id)
        if row is None or row["status"] == "left":
            raise UsageError("You're not in circles. /circles join opts you in.")
        await ctx.db.execute(
            "UPDATE circle_people SET status = ?, paused_until = ? WHERE platform = ? AND user_id = ?",
            (status, until.isoformat() if until else None, ctx.actor.platform, ctx.actor.user_id),
        )

    @command(
        "circles pause",
        "Skip circles rounds for a while",
        Option("until", "Until when (empty: until you /circles join again)", OptionKind.DATETIME, required=False),
    )
    async def pause(self, ctx: Context) -> Reply:
        until = ctx.options["until"]
        await self._set_status(ctx, "paused", until)
        when = f" until {Timestamp(until)}" if until else " until you /circles join again"
        return Reply(f"Paused{when}: you won't be placed in a circle.")

    @command("circles leave", "Stop taking part in circles")
    async def leave(self, ctx: Context) -> Reply:
        await self._set_status(ctx, "left")
        return Reply("You left circles; you won't be matched again. /circles join brings you back.")

    @command("circles status", "Whether you are in circles, and when the next round is")
    async def status(self, ctx: Context) -> Reply:
        row = await self._person(ctx.actor.platform, ctx.actor.user_id)
        state = "not in circles" if row is None else self._state(row, ctx.now())
        upcoming = await self._upcoming_round(ctx.now())
        nxt = f" Next round: {Timestamp(dt.datetime.fromisoformat(upcoming['match_at']))}." if upcoming else ""
        return Reply(f"You are {state}.{nxt}")

    @staticmethod
    def _state(row, now: dt.datetime) -> str:
        if row["status"] == "paused" and row["paused_until"] and dt.datetime.fromisoformat(row["paused_until"]) <= now:
            return "in circles (your pause has ended)"
        if row["status"] == "paused":
            return "paused"
        return "in circles" if row["status"] == "active" else "out of circles"

    # -- rounds -----------------------------------------------------------------------------------
    async def _upcoming_round(self, now: dt.datetime):
        return await self.app.db.fetchone(
            "SELECT * FROM circle_rounds WHERE status = 'announced' ORDER BY match_at LIMIT 1"
        )

    async def _available(self, platform: str, now: dt.datetime) -> list[Person]:
        rows = await self.app.db.fetchall(
            "SELECT * FROM circle_people WHERE platform = ? ORDER BY user_id", (platform,)
        )
        people = []
        for row in rows:
            if row["status"] == "active" or (
                row["status"] == "paused"
                and row["paused_until"]
                and dt.datetime.fromisoformat(row["paused_until"]) <= now
            ):
                people.append(
                    Person(row["user_id"], row["role"], frozenset(json.loads(row["areas"])), row["institution"])
                )
        return people

    async def _history(self, platform: str) -> set[frozenset[str]]:
        rows = await self.app.db.fetchall(
            "SELECT group_id, user_id FROM circle_members WHERE platform = ? ORDER BY group_id", (platform,)
        )
        groups: dict[int, list[str]] = {}
        for row in rows:
            groups.setdefault(row["group_id"], []).append(row["user_id"])
        found: set[frozenset[str]] = set()
        for members in groups.values():
            found |= pairs(members)
        return found

    async def _plan(self, size: int, seed: int, now: dt.datetime) -> dict[str, list[list[str]]]:
        plan = {}
        for platform in sorted(str(p) for p in self.app.platforms):
            people = await self._available(platform, now)
            plan[platform] = match(people, size, await self._history(platform), seed)
        return plan

    async def _seed(self) -> int:
        stored = await meta.get(self.app.db, NEXT_SEED)
        if stored is None:
            stored = str(random.SystemRandom().randrange(1, 2**31))
            await meta.put(self.app.db, NEXT_SEED, stored)
        return int(stored)

    @command(
        "circles match",
        "Announce a circles round (members can pause), or preview it with dry-run",
        Option(
            "size", "People per circle", OptionKind.CHOICE, required=False, choices=(Choice("3", "3"), Choice("4", "4"))
        ),
        Option(
            "dry-run",
            "Only show the groups",
            OptionKind.CHOICE,
            required=False,
            choices=(Choice("no", "no"), Choice("yes", "yes")),
        ),
        permission=ORGANIZER,
    )
    async def match_round(self, ctx: Context) -> Reply:
        size = int(ctx.options["size"] or self.app.config.circles.size)
        if ctx.options["dry-run"] == "yes":
            upcoming = await self._upcoming_round(ctx.now())
            seed = upcoming["seed"] if upcoming else await self._seed()
            when = dt.datetime.fromisoformat(upcoming["match_at"]) if upcoming else ctx.now()
            plan = await self._plan(upcoming["size"] if upcoming else size, seed, when)
            return Reply(self._describe_plan(plan, seed))
        if await self._upcoming_round(ctx.now()):
            raise UsageError("A round is already announced; wait for it (see /circles status).")
        seed = await self._seed()
        match_at = ctx.now() + dt.timedelta(hours=self.app.config.circles.warning_hours)
        cursor = await ctx.db.execute(
            "INSERT INTO circle_rounds (size, seed, match_at, status, created_by, created_at)"
            " VALUES (?, ?, ?, 'announced', ?, ?)",
            (size, seed, match_at.isoformat(), ctx.actor.display_name, ctx.now().isoformat()),
        )
        await meta.delete(ctx.db, NEXT_SEED)  # the next dry run previews the next round
        await audit.record(
            ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "circles round", f"#{cursor.lastrowid}"
        )
        await self.app.replan()
        report = await self.app.deliveries.run_due()
        return Reply(
            f"Round #{cursor.lastrowid} is announced for {Timestamp(match_at)}; {report.sent} member(s) were told "
            "so they can pause. A dry run now shows the groups it will make."
        )

    def _describe_plan(self, plan: dict[str, list[list[str]]], seed: int) -> str:
        lines = [f"**Dry run** (seed {seed}): nothing is posted."]
        for platform, groups in plan.items():
            lines.append(f"{platform.title()}: {len(groups)} circle(s)")
            lines += [f"- {', '.join(g)}" for g in groups]
        return "\n".join(lines)

    @timeline("circles")
    async def rounds(self) -> list[Occurrence]:
        rows = await self.app.db.fetchall("SELECT * FROM circle_rounds WHERE status != 'cancelled' ORDER BY id")
        found = []
        followup = dt.timedelta(days=self.app.config.circles.followup_days)
        for row in rows:
            match_at = dt.datetime.fromisoformat(row["match_at"])
            created = dt.datetime.fromisoformat(row["created_at"])
            found.append(
                Occurrence(
                    "circle-warning",
                    str(row["id"]),
                    created,
                    f"Circles round #{row['id']} warning",
                    "everyone in circles (private message)",
                    self._members_now,
                    self._warning(row),
                    useful_until=match_at,
                )
            )
            found.append(
                Occurrence(
                    "circle-round",
                    str(row["id"]),
                    match_at,
                    f"Circles round #{row['id']}",
                    "new circles",
                    self._groups_for(row),
                    self._introduction(row),
                    useful_until=match_at + dt.timedelta(days=2),
                    send=self._open_group,
                )
            )
            found.append(
                Occurrence(
                    "circle-followup",
                    str(row["id"]),
                    match_at + followup,
                    f"Circles round #{row['id']} follow-up",
                    "circle members (private message)",
                    self._round_members(row),
                    self._followup(row),
                    useful_until=match_at + 2 * followup,
                )
            )
        return found

    async def _members_now(self) -> list[Target]:
        now = self.app.clock.now()
        targets = []
        for platform in list(self.app.platforms):
            targets += [Target(str(platform), "user", p.id) for p in await self._available(str(platform), now)]
        return targets

    def _warning(self, row):
        async def build(target: Target, late: bool) -> Message | None:
            match_at = dt.datetime.fromisoformat(row["match_at"])
            return Message(
                f"🔄 A coalition circles round starts {Timestamp(match_at)}: you'll be placed in a small group "
                "with people in other roles. Not a good time? /circles pause skips it; /circles leave opts out."
            )

        return build

    def _groups_for(self, row):
        async def targets() -> list[Target]:
            groups = await self._ensure_groups(row)
            return [Target(platform, "group", str(group_id)) for platform, group_id in groups]

        return targets

    async def _ensure_groups(self, row) -> list[tuple[str, int]]:
        """The round's groups, matched once (at its time, with its seed) and stored."""
        async with self.app.db.transaction():
            existing = await self.app.db.fetchall(
                "SELECT DISTINCT g.id, m.platform FROM circle_groups g JOIN circle_members m ON m.group_id = g.id"
                " WHERE g.round_id = ? ORDER BY g.number",
                (row["id"],),
            )
            if existing or row["status"] == "matched":
                return [(r["platform"], r["id"]) for r in existing]
            match_at = dt.datetime.fromisoformat(row["match_at"])
            plan = await self._plan(row["size"], row["seed"], match_at)
            created, number, avoided = [], 0, 0
            for platform, groups in plan.items():
                history = await self._history(platform)
                baseline = _random_grouping([p for g in groups for p in g], [len(g) for g in groups], row["seed"])
                avoided += max(0, repeated_pairs(baseline, history) - repeated_pairs(groups, history))
                for members in groups:
                    number += 1
                    cursor = await self.app.db.execute(
                        "INSERT INTO circle_groups (round_id, number) VALUES (?, ?)", (row["id"], number)
                    )
                    for user_id in members:
                        await self.app.db.execute(
                            "INSERT INTO circle_members (group_id, platform, user_id) VALUES (?, ?, ?)",
                            (cursor.lastrowid, platform, user_id),
                        )
                    created.append((platform, cursor.lastrowid))
            await self.app.db.execute(
                "UPDATE circle_rounds SET status = 'matched', repeats_avoided = ? WHERE id = ?", (avoided, row["id"])
            )
            return created

    def _introduction(self, row):
        async def build(target: Target, late: bool) -> Message:
            members = await self._group_people(int(target.id))
            lines = [f"👋 **Your coalition circle** (round #{row['id']}): meet each other!"]
            lines += [
                f"- {m['display_name']}: {m['role']}" + (f", {m['institution']}" if m["institution"] else "")
                for m in members
            ]
            shared = set.intersection(*(set(json.loads(m["areas"])) for m in members)) if members else set()
            labels = {a.id: a.label for a in self.app.config.areas}
            if shared:
                lines.append("You all care about: " + ", ".join(labels.get(a, a) for a in sorted(shared)) + ".")
            lines.append(
                "To start: what is one change you want in medical education this year, and what would help you "
                "make it? Find a time to talk in the next week."
            )
            return Message("\n".join(lines))

        return build

    async def _group_people(self, group_id: int) -> list:
        return await self.app.db.fetchall(
            "SELECT p.display_name, p.role, p.institution, p.areas, m.user_id FROM circle_members m"
            " JOIN circle_people p ON p.platform = m.platform AND p.user_id = m.user_id"
            " WHERE m.group_id = ? ORDER BY p.display_name",
            (group_id,),
        )

    async def _open_group(self, port, target: Target, message: Message) -> str:
        """A private space for the group (a private thread or group DM), else a DM to each member."""
        members = [m["user_id"] for m in await self._group_people(int(target.id))]
        create_group = getattr(port, "create_group", None)
        if create_group is not None:
            place = await create_group(members, f"Circle {target.id}", message)
            return place.thread_id or place.channel_id
        last = ""
        for user_id in members:
            posted = await port.dm(user_id, Message(message.text, dedupe_key=f"{message.dedupe_key}:{user_id}"))
            last = posted.message_id
        return last

    def _round_members(self, row):
        async def targets() -> list[Target]:
            rows = await self.app.db.fetchall(
                "SELECT m.platform, m.user_id FROM circle_members m JOIN circle_groups g ON g.id = m.group_id"
                " WHERE g.round_id = ? ORDER BY m.platform, m.user_id",
                (row["id"],),
            )
            return [Target(r["platform"], "user", r["user_id"]) for r in rows]

        return targets

    def _followup(self, row):
        async def build(target: Target, late: bool) -> Message | None:
            group = await self.app.db.fetchone(
                "SELECT m.group_id FROM circle_members m JOIN circle_groups g ON g.id = m.group_id"
                " WHERE g.round_id = ? AND m.platform = ? AND m.user_id = ?",
                (row["id"], target.platform, target.id),
            )
            if group is None:
                return None
            gid = group["group_id"]
            return Message(
                f"Did your coalition circle (round #{row['id']}) get to meet?",
                buttons=(Button(f"circ-met:{gid}:yes", "Yes, we met"), Button(f"circ-met:{gid}:no", "Not yet")),
            )

        return build

    @button("circ-met")
    async def met(self, ctx: Context, argument: str) -> Reply:
        group_id, _, answer = argument.partition(":")
        cursor = await ctx.db.execute(
            "UPDATE circle_members SET met = ? WHERE group_id = ? AND platform = ? AND user_id = ?",
            (
                answer if answer in ("yes", "no") else "no",
                -1 if parse_id(group_id) is None else parse_id(group_id),
                ctx.actor.platform,
                ctx.actor.user_id,
            ),
        )
        if cursor.rowcount != 1:
            raise UsageError("That follow-up is for someone else's circle.")
        return Reply(
            "Thanks for telling us! 💛" if answer == "yes" else "Thanks. There's still time: say hi in your circle."
        )

    @command("circles stats", "Rounds, groups, repeat pairs avoided and how many met", permission=ORGANIZER)
    async def stats(self, ctx: Context) -> Reply:
        rounds = await ctx.db.fetchone(
            "SELECT COUNT(*) AS n, COALESCE(SUM(repeats_avoided), 0) AS avoided FROM circle_rounds"
            " WHERE status = 'matched'"
        )
        groups = await ctx.db.fetchone("SELECT COUNT(*) AS n FROM circle_groups")
        people = await ctx.db.fetchone("SELECT COUNT(*) AS n FROM circle_people WHERE status = 'active'")
        answers = await ctx.db.fetchall(
            "SELECT met, COUNT(*) AS n FROM circle_members WHERE met IS NOT NULL GROUP BY met"
        )
        by_answer = {r["met"]: r["n"] for r in answers}
        answered = sum(by_answer.values())
        share = (
            f"{100 * by_answer.get('yes', 0) / answered:.0f} % of {answered} who answered"
            if answered
            else "no answers yet"
        )
        return Reply(
            f"**Circles:** {people['n']} active members; {rounds['n']} round(s), {groups['n']} circle(s); "
            f"{rounds['avoided']} repeat pair(s) avoided; met: {share}."
        )


def _random_grouping(ids: list[str], sizes: list[int], seed: int) -> list[list[str]]:
    shuffled = sorted(ids)
    random.Random(seed ^ 0x5EED).shuffle(shuffled)
    groups, start = [], 0
    for n in sizes:
        groups.append(shuffled[start : start + n])
        start += n
    return groups
