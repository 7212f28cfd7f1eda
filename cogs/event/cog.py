"""The virtual event: /program, /event setup|archive|summary, session threads and /ask."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import Counter

from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    File,
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
from bot.core.registry import button, command, timeline
from bot.delivery import Occurrence, Target
from cogs.event import activity, places
from cogs.event.program import PLENARY, ProgramError, Session, calendar, load_program
from storage import audit

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER
YES_NO = (Choice("no", "no"), Choice("yes", "yes"))


async def _complete_session(ctx: Context, partial: str) -> list[Choice]:
    needle = partial.lower().strip()
    cog = next(c for c in ctx.app.cogs if isinstance(c, EventCog))
    found = [s for s in cog.sessions() if needle in s.id or needle in s.title.lower()]
    return [Choice(s.id, f"{s.title}"[:100]) for s in found[:25]]


def _n(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


class EventCog:
    def __init__(self, app):
        self.app = app
        self._sessions: list[Session] | None = None

    def sessions(self) -> list[Session]:
        if self._sessions is None:
            try:
                self._sessions = load_program(self.app.config)
            except ProgramError as exc:
                log.error("program not loaded: %s", exc)
                self._sessions = []
        return self._sessions

    def session(self, session_id: str) -> Session:
        wanted = session_id.strip().lower()
        for session in self.sessions():
            if wanted in (session.id, session.title.lower()):
                return session
        raise UsageError(f"There is no session {session_id!r}. /program lists them with their ids.")

    def area_label(self, area: str) -> str:
        labels = {a.id: a.label for a in self.app.config.areas}
        return labels.get(area, "All areas")

    # -- the program ------------------------------------------------------------------------------
    @command(
        "program show",
        "The sessions, in your time zone: all, today, tomorrow or one area",
        Option("which", "today, tomorrow, or an area", required=False),
        group_default=True,
    )
    async def show(self, ctx: Context) -> Reply:
        which = (ctx.options["which"] or "").strip().lower()
        sessions = self.sessions()
        if which in ("today", "tomorrow"):
            day = ctx.now().astimezone(ctx.zone).date() + dt.timedelta(days=which == "tomorrow")
            sessions = [s for s in sessions if s.start.astimezone(ctx.zone).date() == day]
            if not sessions:
                return Reply(f"No sessions {which}. The conference runs on {self._days()}; /program shows all.")
        elif which:
            area = self._area(which)
            sessions = [s for s in sessions if s.area in (area, PLENARY)]
        lines, day = [], None
        for session in sessions:
            start_day = session.start.astimezone(self.app.config.zone).date()
            if start_day != day:
                day = start_day
                lines.append(f"**{Timestamp(session.start, 'D')}**")
            link = f" [join]({session.join_link})" if session.join_link else ""
            lines.append(
                f"- {Timestamp(session.start, 't')}–{Timestamp(session.end, 't')} **{session.title}** "
                f"({session.kind}, {self.area_label(session.area)}; id `{session.id}`){link}"
            )
        lines.append("Add it to your calendar with /program ics. Ask in a session with /ask SESSION QUESTION.")
        return Reply("\n".join(lines))

    def _days(self) -> str:
        from cogs.general import conference_days

        return conference_days(self.app.config.conference.dates)

    def _area(self, typed: str) -> str:
        for area in self.app.config.areas:
            if typed in (area.id, area.label.lower()):
                return area.id
        names = ", ".join(a.id for a in self.app.config.areas)
        raise UsageError(f"I don't know the area {typed!r}. Try today, tomorrow or one of: {names}.")

    @command(
        "program ics",
        "The program as a calendar file (.ics)",
        Option(
            "area",
            "Only this area (and plenaries)",
            OptionKind.CHOICE,
            required=False,
            choices=lambda cog: tuple(Choice(a.id, a.label) for a in cog.app.config.areas),
        ),
    )
    async def ics(self, ctx: Context) -> Reply:
        area = ctx.options["area"]
        sessions = [s for s in self.sessions() if not area or s.area in (area, PLENARY)]
        name = f"{places.channel_name(self.app.config.conference.short_name)}{'-' + area if area else ''}.ics"
        return Reply(
            f"{len(sessions)} sessions; open the file to add them to your calendar.",
            files=(File(name, calendar(sessions, self.app.config), "text/calendar"),),
        )

    # -- setting up and archiving -----------------------------------------------------------------
    @command(
        "event setup",
        "Create the event's channels on every platform (safe to run again)",
        Option("dry-run", "Only show the plan", OptionKind.CHOICE, required=False, choices=YES_NO),
        permission=ORGANIZER,
    )
    async def setup(self, ctx: Context) -> Reply:
        dry_run = ctx.options["dry-run"] == "yes"
        lines = ["**Event setup (dry run: nothing changed)**" if dry_run else "**Event setup**"]
        for platform, port in list(self.app.platforms.items()):
            try:
                done = await places.set_up(port, self.app.config, ctx.db, ctx.now(), dry_run)
            except Exception as exc:
                log.exception("event setup on %s failed", platform)
                lines.append(f"{str(platform).title()}: stopped: {exc}")
                continue
            lines.append(f"{str(platform).title()}:")
            lines += [f"- {line}" for line in done]
        if not dry_run:
            await audit.record(ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "event setup")
        return Reply("\n".join(lines))

    @command("event archive", "Archive (never delete) every place the bot created", permission=ORGANIZER)
    async def archive(self, ctx: Context) -> Reply:
        lines = ["**Event archive**"]
        for platform, port in list(self.app.platforms.items()):
            lines.append(f"{str(platform).title()}:")
            lines += [f"- {line}" for line in await places.archive_all(port, ctx.db)] or ["- nothing to archive"]
        await audit.record(ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, "event archive")
        return Reply("\n".join(lines))

    @command(
        "event summary",
        "Attendance per area channel, coalition members and messages, questions per session (CSV too)",
        permission=ORGANIZER,
    )
    async def summary(self, ctx: Context) -> Reply:
        sessions = self.sessions()
        asked = await ctx.db.fetchall(
            "SELECT session_id, platform, user_id FROM session_questions WHERE status = 'posted'"
        )
        questions = Counter(r["session_id"] for r in asked)
        writers = await ctx.db.fetchall("SELECT platform, space, user_id, messages FROM event_activity")
        area_of = {s.id: ("lobby" if s.area == PLENARY else f"area:{s.area}") for s in sessions}
        channels = [("lobby", "plenary", f"#{self.app.config.event.lobby} (plenary sessions)")]
        channels += [(f"area:{a.id}", a.id, a.label) for a in self.app.config.areas]
        rows = []
        for key, ident, label in channels:
            # Attendance: everyone who wrote in the channel or its session threads, or asked there with /ask.
            people = {(w["platform"], w["user_id"]) for w in writers if w["space"] == key}
            people |= {(q["platform"], q["user_id"]) for q in asked if area_of.get(q["session_id"]) == key}
            messages = sum(w["messages"] for w in writers if w["space"] == key)
            in_area = sum(n for session_id, n in questions.items() if area_of.get(session_id) == key)
            rows.append(("channel", ident, label, len(people), "", messages, in_area))
        coalitions = await ctx.db.fetchall(
            "SELECT c.id, c.name, COUNT(m.user_id) AS members FROM coalitions c"
            " LEFT JOIN coalition_members m ON m.coalition_id = c.id WHERE c.status = 'active'"
            " GROUP BY c.id ORDER BY members DESC, c.name"
        )
        talk = await activity.by_space(ctx.db)
        for c in coalitions:
            said = talk.get(f"coalition:{c['id']}")
            rows.append(
                (
                    "coalition",
                    c["id"],
                    c["name"],
                    said.people if said else 0,
                    c["members"],
                    said.messages if said else 0,
                    "",
                )
            )
        rows += [("session", s.id, s.title, "", "", "", questions.get(s.id, 0)) for s in sessions]

        def lines_for(kind: str, describe) -> list[str]:
            return [f"- {describe(r)}" for r in rows if r[0] == kind] or ["- none yet"]

        lines = [
            "**Attendance per area channel** (people who wrote there, in its session threads, or asked with /ask):"
        ]
        lines += lines_for(
            "channel",
            lambda r: f"{r[2]}: {_n(r[3], 'person', 'people')}, {_n(r[5], 'message')}, {_n(r[6], 'question')}",
        )
        lines.append("**Coalitions:**")
        lines += lines_for(
            "coalition",
            lambda r: f"{r[2]}: {_n(r[4], 'member')}, {_n(r[5], 'message')} from {_n(r[3], 'person', 'people')}",
        )
        lines.append("**Questions asked per session:**")
        lines += lines_for("session", lambda r: f"{r[2]}: {r[6]}")
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(["kind", "id", "name", "people", "members", "messages", "questions"])
        writer.writerows(rows)
        return Reply("\n".join(lines), files=(File("event-summary.csv", buffer.getvalue().encode(), "text/csv"),))

    # -- session threads --------------------------------------------------------------------------
    @timeline("session-start")
    async def starting(self) -> list[Occurrence]:
        lead = dt.timedelta(minutes=self.app.config.event.lead_minutes)
        return [
            Occurrence(
                "session-start",
                s.id,
                s.start - lead,
                f"Starting soon: {s.title}",
                f"{self.area_label(s.area)} channel + Q&A thread",
                self._area_channels(s),
                self._starting_message(s),
                useful_until=s.end,
                send=self._post_and_open_thread(s),
            )
            for s in self.sessions()
        ]

    @timeline("session-end")
    async def ending(self) -> list[Occurrence]:
        return [
            Occurrence(
                "session-end",
                s.id,
                s.end,
                f"Thanks and coalitions pointer: {s.title}",
                "the session's Q&A thread",
                self._threads(s),
                self._closing_message(s),
                useful_until=s.end + dt.timedelta(hours=2),
            )
            for s in self.sessions()
        ]

    def _area_channels(self, session: Session):
        key = "lobby" if session.area == PLENARY else f"area:{session.area}"

        async def targets() -> list[Target]:
            found = []
            for platform, port in list(self.app.platforms.items()):
                place = await places.place_for(self.app.db, str(platform), key)
                if place is None:  # not set up with /event setup: look for the channel by name
                    name = self.app.config.event.lobby if session.area == PLENARY else self.area_label(session.area)
                    place = await port.find_channel(places.channel_name(name))
                if place:
                    found.append(Target(str(platform), "channel", place.channel_id, place.name))
            return found

        return targets

    def _starting_message(self, session: Session):
        async def build(target: Target, late: bool) -> Message:
            join = f"\n[Join the session]({session.join_link})" if session.join_link else ""
            return Message(
                f"🔔 **Starting {Timestamp(session.start, 'R')}: {session.title}** "
                f"({session.kind}, {Timestamp(session.start, 't')}–{Timestamp(session.end, 't')})\n"
                f"{session.description}{join}\n"
                f"Questions for the speakers go in the Q&A thread, or use /ask {session.id} QUESTION."
            )

        return build

    def _post_and_open_thread(self, session: Session):
        async def send(port, target: Target, message: Message) -> str:
            place = Place(Platform(target.platform), target.id, name=target.name)
            posted = await port.post(place, message)
            # The post is what the ledger records; a thread that fails to open now is opened by the
            # first /ask instead, so a retry never repeats the post.
            try:
                await self._ensure_thread(port, session, place)
            except Exception:
                log.exception("could not open the Q&A thread of %s on %s", session.id, target.platform)
            return posted.message_id

        return send

    async def _ensure_thread(self, port, session: Session, channel: Place | None = None) -> Place | None:
        """The session's Q&A thread on this platform, opened the first time it is needed."""
        platform = str(port.platform)
        found = await self._thread_place(platform, session.id)
        if found or not port:
            return found
        if channel is None:
            key = "lobby" if session.area == PLENARY else f"area:{session.area}"
            channel = await places.place_for(self.app.db, platform, key)
            if channel is None:
                name = self.app.config.event.lobby if session.area == PLENARY else self.area_label(session.area)
                channel = await port.find_channel(places.channel_name(name))
            if channel is None:
                return None
        thread = await port.create_thread(
            channel,
            f"Q&A: {session.title}"[:100],
            Message(
                f"Q&A for **{session.title}**. Ask here, or with /ask {session.id} QUESTION "
                "(anonymously if you prefer)."
            ),
        )
        await self.app.db.execute(
            "INSERT INTO session_threads (platform, session_id, channel_id, thread_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, session_id) DO NOTHING",
            (platform, session.id, thread.channel_id, thread.thread_id or thread.channel_id),
        )
        return await self._thread_place(platform, session.id)

    async def _thread_place(self, platform: str, session_id: str) -> Place | None:
        row = await self.app.db.fetchone(
            "SELECT channel_id, thread_id FROM session_threads WHERE platform = ? AND session_id = ?",
            (platform, session_id),
        )
        if row is None:
            return None
        return Place(Platform(platform), row["channel_id"], PlaceKind.THREAD, row["thread_id"])

    def _threads(self, session: Session):
        async def targets() -> list[Target]:
            found = []
            for platform in list(self.app.platforms):
                place = await self._thread_place(str(platform), session.id)
                if place:
                    found.append(Target(str(platform), "thread", f"{place.channel_id}/{place.thread_id}"))
            return found

        return targets

    def _closing_message(self, session: Session):
        async def build(target: Target, late: bool) -> Message:
            return Message(
                f"Thank you for joining **{session.title}**! Keep working on what you heard together: "
                "/coalition list shows the topic coalitions, and /coalition join NAME brings you in."
            )

        return build

    # -- questions --------------------------------------------------------------------------------
    @command(
        "ask",
        "Ask a question in a session's Q&A thread (optionally anonymously)",
        Option("session", "The session (its id or title)", autocomplete=_complete_session),
        Option("question", "Your question", max_length=1000),
        Option("anonymous", "Hide your name from attendees", OptionKind.CHOICE, required=False, choices=YES_NO),
    )
    async def ask(self, ctx: Context) -> Reply:
        session = self.session(ctx.options["session"])
        thread = await self._thread_place(ctx.actor.platform, session.id)
        lead = dt.timedelta(minutes=self.app.config.event.lead_minutes)
        port = self.app.platforms.get(ctx.actor.platform) or ctx.platform
        if thread is None and ctx.now() >= session.start - lead and port is not None:
            thread = await self._ensure_thread(port, session)  # its opening failed, or was interrupted
        if thread is None:
            lead = self.app.config.event.lead_minutes
            raise UsageError(
                f"The Q&A thread for **{session.title}** opens {lead} minutes before it starts "
                f"({Timestamp(session.start)}). Ask again then."
            )
        anonymous = ctx.options["anonymous"] == "yes"
        cursor = await ctx.db.execute(
            "INSERT INTO session_questions (session_id, platform, user_id, display_name, text, anonymous, status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            (
                session.id,
                ctx.actor.platform,
                ctx.actor.user_id,
                ctx.actor.display_name,
                ctx.options["question"].strip(),
                int(anonymous),
                ctx.now().isoformat(),
            ),
        )
        question_id = cursor.lastrowid
        if anonymous:
            return Reply(
                "Your question will appear **without your name**. To keep the space safe, organizers can "
                "see who asked in the moderation log. Post it?",
                buttons=(
                    Button(f"ask-post:{question_id}", "Post anonymously", ButtonStyle.PRIMARY),
                    Button(f"ask-cancel:{question_id}", "Cancel"),
                ),
            )
        return await self._post_question(ctx, question_id)

    @button("ask-post")
    async def post_anonymous(self, ctx: Context, question_id: str) -> Reply:
        return await self._post_question(ctx, question_id)

    @button("ask-cancel")
    async def cancel_question(self, ctx: Context, question_id: str) -> Reply:
        row = await self._own_question(ctx, question_id)
        await ctx.db.execute(
            "UPDATE session_questions SET status = 'cancelled' WHERE id = ? AND status = 'pending'",
            (row["id"],),
        )
        return Reply("Cancelled; nothing was posted.")

    async def _own_question(self, ctx: Context, question_id: str):
        number = parse_id(question_id)
        row = (
            await ctx.db.fetchone("SELECT * FROM session_questions WHERE id = ?", (number,))
            if number is not None
            else None
        )
        if row is None or (row["platform"], row["user_id"]) != (ctx.actor.platform, ctx.actor.user_id):
            raise UsageError("That question is not yours to post.")
        return row

    async def _post_question(self, ctx: Context, question_id) -> Reply:
        row = await self._own_question(ctx, str(question_id))
        cursor = await ctx.db.execute(
            "UPDATE session_questions SET status = 'posted' WHERE id = ? AND status = 'pending'", (row["id"],)
        )
        if cursor.rowcount != 1:
            raise UsageError("That question was already posted or cancelled.")
        thread = await self._thread_place(row["platform"], row["session_id"])
        port = self.app.platforms.get(row["platform"]) or ctx.platform
        who = "Anonymous question" if row["anonymous"] else f"{row['display_name']} asks"
        await port.post(thread, Message(f"❓ **{who}:** {row['text']}", dedupe_key=f"question-{row['id']}"))
        if row["anonymous"]:
            await audit.record(
                ctx.db,
                ctx.now(),
                row["platform"],
                row["user_id"],
                "anonymous question",
                f"session {row['session_id']}, question #{row['id']}",
            )
        return Reply(f"Posted in the Q&A thread of **{self.session(row['session_id']).title}**.")
