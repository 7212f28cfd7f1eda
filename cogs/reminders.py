"""Deadline reminders in the announcement channels, and private nudges to people with intents
not yet marked submitted. Both are timelines (see bot.delivery): delivered once per target."""

from __future__ import annotations

import datetime as dt

from bot.core.clock import parse_duration
from bot.core.context import Context
from bot.core.model import Choice, Message, Option, OptionKind, Platform, Reply, Timestamp
from bot.core.port import PlatformError
from bot.core.registry import command, timeline
from bot.core.text import time_left
from bot.delivery import Occurrence, Target
from storage import people
from storage import proposals as intents

ON_OFF = (Choice("on", "on"), Choice("off", "off"))


def describe_offset(offset: dt.timedelta) -> str:
    """'30 days', '1 day', '6 hours', '90 minutes'."""
    seconds = int(offset.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class RemindersCog:
    def __init__(self, app):
        self.app = app

    def _offsets(self, texts: list[str]) -> list[tuple[str, dt.timedelta]]:
        """(label, offset), earliest reminder first."""
        return sorted(((t, parse_duration(t)) for t in texts), key=lambda item: -item[1])

    # -- deadline reminders in the announcement channels -----------------------------------------
    @timeline("deadline")
    async def deadline_reminders(self) -> list[Occurrence]:
        config = self.app.config
        deadline = config.deadline
        offsets = self._offsets(config.reminders.deadline_offsets)
        found = []
        for index, (label, offset) in enumerate(offsets):
            due = deadline - offset
            # A reminder missed while the bot was down is still worth sending until the next one.
            next_due = deadline - offsets[index + 1][1] if index + 1 < len(offsets) else deadline
            found.append(
                Occurrence(
                    "deadline",
                    label,
                    due,
                    f"Deadline reminder, {describe_offset(offset)} before",
                    "announcement channels",
                    self._announcement_channels,
                    self._reminder_message(offset),
                    useful_until=next_due,
                )
            )
        if config.reminders.passed_notice:
            found.append(
                Occurrence(
                    "deadline",
                    "passed",
                    deadline + dt.timedelta(seconds=1),
                    "Deadline passed notice",
                    "announcement channels",
                    self._announcement_channels,
                    self._passed_message,
                    useful_until=deadline + dt.timedelta(days=2),
                )
            )
        return found

    async def _announcement_channels(self) -> list[Target]:
        targets = []
        for platform, port in list(self.app.platforms.items()):
            place = await port.find_channel(self.app.config.channels.announcements)
            if place:
                targets.append(Target(str(platform), "channel", place.channel_id, place.name))
        return targets

    def _reminder_message(self, offset: dt.timedelta):
        async def build(target: Target, late: bool) -> Message:
            config = self.app.config
            links, name = config.links, config.conference.short_name
            deadline, left = Timestamp(config.deadline), time_left(config.deadline, self.app.clock.now())
            if offset >= dt.timedelta(days=14):
                opening = f"📣 **Proposals for {name} are open** until {deadline} ({left})."
            elif offset >= dt.timedelta(days=3):
                left_text = describe_offset(offset).capitalize()
                opening = f"⏳ **{left_text} left** to propose for {name}: due {deadline}."
            else:
                soon = Timestamp(config.deadline, "R")
                opening = f"🚨 **Last call for {name} proposals!** They close {soon}: {deadline}."
            lines = [
                opening,
                "Poster abstracts, personal narratives, workshops and Fireside Chats are all welcome, "
                "preliminary work and challenges as much as successes.",
                f"Start with /propose, read the [submission guide]({links.submission_guide}), and submit "
                f"with the [submission form]({links.submission_form}).",
            ]
            if late:
                lines.append("_(This reminder is late: the bot was offline when it was due.)_")
            return Message("\n".join(lines))

        return build

    async def _passed_message(self, target: Target, late: bool) -> Message:
        config = self.app.config
        return Message(
            f"The proposal deadline for {config.conference.short_name} has passed "
            f"({Timestamp(config.deadline)}). Thank you to everyone who submitted! "
            f"Questions about a proposal: {config.links.contact_email}."
        )

    # -- personal nudges ---------------------------------------------------------------------------
    @timeline("nudge")
    async def nudges(self) -> list[Occurrence]:
        deadline = self.app.config.deadline
        offsets = self._offsets(self.app.config.reminders.nudge_offsets)
        found = []
        for index, (label, offset) in enumerate(offsets):
            next_due = deadline - offsets[index + 1][1] if index + 1 < len(offsets) else deadline
            found.append(
                Occurrence(
                    "nudge",
                    label,
                    deadline - offset,
                    f"Personal nudge, {describe_offset(offset)} before",
                    "people with unsubmitted intents (private message)",
                    self._people_to_nudge,
                    self._nudge_message,
                    useful_until=next_due,
                )
            )
        return found

    async def _people_to_nudge(self) -> list[Target]:
        connected = {str(p) for p in self.app.platforms}
        found = []
        for platform, user_id, _count in await intents.unfinished_authors(self.app.db):
            if platform in connected and not await people.nudges_off(self.app.db, platform, user_id):
                found.append(Target(platform, "user", user_id))
        return found

    async def _nudge_message(self, target: Target, late: bool) -> Message | None:
        # Checked again at send time: they may have submitted or opted out since.
        if await people.nudges_off(self.app.db, target.platform, target.id):
            return None
        open_ones = [i for i in await intents.by_author(self.app.db, target.platform, target.id) if i.state == "intent"]
        if not open_ones:
            return None
        config = self.app.config
        titles = "\n".join(f"- #{i.id} “{i.title}”" for i in open_ones)
        return Message(
            f"⏰ Your proposal intent{'s are' if len(open_ones) > 1 else ' is'} not marked submitted yet, "
            "and "
            f"proposals close {Timestamp(config.deadline)} "
            f"({time_left(config.deadline, self.app.clock.now())}):\n{titles}\n"
            f"Submit with the [submission form]({config.links.submission_form}), then tell me with "
            "/proposals submitted ID.\n"
            "_Don't want these reminders? Type /reminders off._"
        )

    @command(
        "reminders",
        "Turn your private deadline reminders on or off",
        Option("state", "on or off", OptionKind.CHOICE, choices=ON_OFF),
    )
    async def reminders(self, ctx: Context) -> Reply:
        off = ctx.options["state"] == "off"
        actor = ctx.actor
        await people.set_nudges_off(ctx.db, actor.platform, actor.user_id, actor.display_name, off, ctx.now())
        if off:
            return Reply("Done: no more private deadline reminders. /reminders on brings them back.")
        return Reply("Done: I'll remind you privately before the deadline if an intent is not marked submitted.")

    @command(
        "notify",
        "Get pinged (or not) by announcements that ask for it",
        Option("state", "on or off", OptionKind.CHOICE, choices=ON_OFF),
    )
    async def notify(self, ctx: Context) -> Reply:
        on = ctx.options["state"] == "on"
        actor = ctx.actor
        await people.set_notify(ctx.db, actor.platform, actor.user_id, actor.display_name, on, ctx.now())
        role = self.app.config.roles.announcements
        change = getattr(ctx.platform, "add_role" if on else "remove_role", None)
        if change is not None and actor.platform == Platform.DISCORD:
            try:
                await change(actor.user_id, role)
            except PlatformError as exc:
                return Reply(
                    f"Your choice is saved, but I could not {'give you' if on else 'remove'} the {role} role: {exc} "
                    "Please tell the organizers."
                )
        if on:
            return Reply("Done: announcements that ping will ping you. /notify off stops it.")
        return Reply("Done: announcements will no longer ping you (you can still read them).")
