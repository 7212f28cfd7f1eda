"""/propose and /proposals: proposal intents from first idea to "I submitted it", until the deadline.

An intent is not the submission itself (that goes through the official form); it is the bot's
record that someone plans one, so it can point them to the form and remind them before it closes.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import logging

from bot.core.batches import Batcher
from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    FieldKind,
    File,
    Form,
    FormErrors,
    FormField,
    Message,
    Option,
    OptionKind,
    Permission,
    Reply,
    Timestamp,
)
from bot.core.registry import button, command, form_builder, form_handler
from bot.core.text import time_left
from storage import proposals as store

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER
FORM = "proposal"
NOTICE_LISTS = 10  # intents named in one organizers' notice; a longer rush is counted, not listed
STATE_LABELS = {"intent": "intent (not yet submitted)", "submitted": "submitted", "withdrawn": "withdrawn"}


class ProposalsCog:
    def __init__(self, app):
        self.app = app
        config = app.config
        self.types = tuple(Choice(t.id, t.label) for t in config.proposals.types)
        self.areas = tuple(Choice(a.id, a.label) for a in config.areas)
        self.type_labels = {c.value: c.label for c in self.types}
        self.area_labels = {c.value: c.label for c in self.areas}
        self._notices = Batcher(app, "telling organizers of new intents", self._post_notice)

    # -- the form ---------------------------------------------------------------------------------
    @form_builder(FORM)
    def proposal_form(self, form_id: str, state: str) -> Form:
        return Form(
            form_id,
            f"Edit intent #{state}" if state else "Proposal intent",
            (
                FormField("type", "Submission type", FieldKind.CHOICE, choices=self.types),
                FormField("area", "Area", FieldKind.CHOICE, choices=self.areas),
                FormField("title", "Working title", min_length=5, max_length=150),
                FormField(
                    "description",
                    "Short description",
                    FieldKind.PARAGRAPH,
                    min_length=20,
                    max_length=1500,
                    placeholder="What you will share, and why it matters (a few sentences)",
                ),
                FormField(
                    "co_presenters",
                    "Co-presenters (names, roles)",
                    FieldKind.PARAGRAPH,
                    required=False,
                    max_length=500,
                ),
                FormField("email", "Contact email", FieldKind.EMAIL, max_length=254),
                FormField(
                    "affiliation",
                    "Your role and affiliation",
                    required=False,
                    max_length=200,
                    placeholder="e.g. Second-year medical student, Icahn Mount Sinai",
                ),
            ),
            submit_label="Save intent",
            state=state,
        )

    @command(
        "propose",
        "Start a proposal intent: poster, narrative, workshop or Fireside Chat",
        Option("type", "Submission type", OptionKind.CHOICE, required=False, choices=lambda cog: cog.types),
        Option("area", "Area", OptionKind.CHOICE, required=False, choices=lambda cog: cog.areas),
    )
    async def propose(self, ctx: Context) -> Form | Reply:
        await self._check_open(ctx)
        prefill = {k: v for k, v in (("type", ctx.options["type"]), ("area", ctx.options["area"])) if v}
        return self.proposal_form(FORM, "").prefilled(prefill)

    @button("prop-start")
    async def start_button(self, ctx: Context, _argument: str) -> Form | Reply:
        await self._check_open(ctx)
        return self.proposal_form(FORM, "")

    @form_handler(FORM)
    async def saved(self, ctx: Context, values: dict[str, str], state: str) -> Reply | FormErrors:
        await self._check_open(ctx)
        actor = ctx.actor
        if state:  # an edit
            intent = await self._own(ctx, state)
            try:
                intent = await store.update(ctx.db, intent.id, values, ctx.now())
            except store.DuplicateTitle:
                return FormErrors({"title": "You already have an intent with this title."})
            return self._confirmation(ctx, intent, f"Intent #{intent.id} updated")
        try:
            intent = await store.create(
                ctx.db,
                actor.platform,
                actor.user_id,
                actor.display_name,
                values,
                ctx.now(),
                self.app.config.proposals.per_person_limit,
            )
        except store.DuplicateTitle:
            return FormErrors({"title": "You already have an intent with this title; use /proposals edit."})
        except store.LimitReached:
            limit = self.app.config.proposals.per_person_limit
            raise UsageError(
                f"You already have {limit} open intents, the most one person can keep. Withdraw one "
                "(/proposals withdraw ID) or write to " + self.app.config.links.contact_email + "."
            ) from None
        self._tell_organizers(intent)
        return self._confirmation(ctx, intent, f"Intent #{intent.id} recorded")

    def _confirmation(self, ctx: Context, intent: store.Intent, headline: str) -> Reply:
        config, links = self.app.config, self.app.config.links
        deadline = Timestamp(config.deadline)
        lines = [
            f"**{headline}: “{intent.title}”**",
            self._kind(intent),
            "",
            "⚠️ **This is not your submission yet.** Next step: submit it with the official "
            f"[submission form]({links.submission_form}) by **{deadline}** "
            f"({time_left(config.deadline, ctx.now())}). The [submission guide]({links.submission_guide}) "
            "says what to include.",
            f"When you have submitted it, press **I submitted it** (or /proposals submitted {intent.id}).",
            "",
            self._summary(intent, show_email=True),
        ]
        return Reply(
            "\n".join(lines),
            buttons=(
                Button("", "Open the submission form", url=links.submission_form),
                Button(f"prop-submitted:{intent.id}", "I submitted it", ButtonStyle.PRIMARY),
                Button(f"prop-edit:{intent.id}", "Edit"),
            ),
        )

    def _kind(self, intent: store.Intent) -> str:
        """'Poster abstract · Undergraduate medical education'."""
        kind = self.type_labels.get(intent.type, intent.type)
        return f"{kind} · {self.area_labels.get(intent.area, intent.area)}"

    def _summary(self, intent: store.Intent, show_email: bool) -> str:
        lines = [
            f"- **Description:** {intent.description}",
            f"- **Co-presenters:** {intent.co_presenters or 'none'}",
        ]
        if show_email:
            lines.append(f"- **Contact email:** {intent.email}")
        if intent.affiliation:
            lines.append(f"- **Role and affiliation:** {intent.affiliation}")
        return "\n".join(lines)

    def _tell_organizers(self, intent: store.Intent) -> None:
        """In the background (the person's confirmation must not wait), and in a rush a few notices
        naming many intents rather than hundreds (`Batcher`)."""
        if self.app.config.proposals.notify_organizers:
            self._notices.add(intent)

    async def _post_notice(self, intents: list[store.Intent]) -> None:
        await self.app.post_everywhere(
            [self.app.config.channels.organizers],
            Message(self._notice(intents), dedupe_key=f"intent-new-{intents[0].id}"),
        )

    def _notice(self, intents: list[store.Intent]) -> str:
        def line(intent: store.Intent) -> str:
            kind = self._kind(intent)
            return f"#{intent.id}: **{intent.title}** ({kind}) by {intent.display_name} ({intent.platform})."

        if len(intents) == 1:
            return "New proposal intent " + line(intents[0])
        shown = intents[:NOTICE_LISTS]
        lines = [f"New proposal intents, {len(intents)} at once:", *(f"- {line(i)}" for i in shown)]
        if len(intents) > len(shown):
            lines.append(f"…and {len(intents) - len(shown)} more, up to #{intents[-1].id} (/proposals list shows all).")
        return "\n".join(lines)

    # -- the deadline -----------------------------------------------------------------------------
    async def _check_open(self, ctx: Context) -> None:
        config = self.app.config
        now = ctx.now()
        if now <= config.deadline:
            return
        until = await store.late_access_until(ctx.db, ctx.actor.platform, ctx.actor.user_id)
        if until and now <= until:
            return
        raise UsageError(
            f"Proposal intake closed at the deadline, {Timestamp(config.deadline)}. If you need more time, "
            f"write to {config.links.contact_email}: organizers can grant late access."
        )

    @command(
        "proposals extend",
        "Give a named person late access until a date and time",
        Option("user", "The person", OptionKind.USER),
        Option("until", "Until when, in your time zone (e.g. 2023-07-07T17:00)", OptionKind.DATETIME),
        permission=ORGANIZER,
    )
    async def extend(self, ctx: Context) -> Reply:
        user, until = ctx.options["user"], ctx.options["until"]
        if until <= ctx.now():
            raise UsageError("That time has already passed; give a time in the future.")
        await store.grant_late_access(
            ctx.db, ctx.actor.platform, user.user_id, until, ctx.actor.display_name, ctx.now()
        )
        who = user.name or user.user_id
        return Reply(f"{who} can start and edit proposal intents until {Timestamp(until)}.")

    # -- the author's own intents -----------------------------------------------------------------
    async def _own(self, ctx: Context, intent_id: str | int) -> store.Intent:
        """The intent, if the actor may change it (its author, or an organizer)."""
        number = parse_id(intent_id)  # the id may come from a forged button or form state
        intent = await store.get(ctx.db, number) if number is not None else None
        mine = intent and (intent.platform, intent.user_id) == (ctx.actor.platform, ctx.actor.user_id)
        if intent is None or not (mine or ctx.actor.is_organizer):
            raise UsageError(f"You have no intent #{intent_id}. See /proposals mine.")
        return intent

    @command("proposals mine", "Your proposal intents and their state")
    async def mine(self, ctx: Context) -> Reply:
        intents = await store.by_author(ctx.db, ctx.actor.platform, ctx.actor.user_id)
        if not intents:
            return Reply("You have no proposal intents yet. Start one with /propose.")
        lines = ["Your proposal intents:"]
        for intent in intents:
            lines.append(
                f"- **#{intent.id} {intent.title}**: {self.type_labels.get(intent.type, intent.type)}, "
                f"{self.area_labels.get(intent.area, intent.area)}, {STATE_LABELS[intent.state]}"
            )
        if any(i.state == "intent" for i in intents):
            lines.append(
                f"Submit with the [official form]({self.app.config.links.submission_form}) by "
                f"{Timestamp(self.app.config.deadline)}, then /proposals submitted ID."
            )
        return Reply("\n".join(lines))

    @command("proposals edit", "Change one of your intents", Option("id", "The intent number", OptionKind.INTEGER))
    async def edit(self, ctx: Context) -> Form:
        return await self._edit_form(ctx, ctx.options["id"])

    @button("prop-edit")
    async def edit_button(self, ctx: Context, intent_id: str) -> Form:
        return await self._edit_form(ctx, intent_id)

    async def _edit_form(self, ctx: Context, intent_id) -> Form:
        intent = await self._own(ctx, intent_id)
        await self._check_open(ctx)
        if intent.state == "withdrawn":
            raise UsageError(f"Intent #{intent.id} was withdrawn; start a new one with /propose.")
        return self.proposal_form(FORM, str(intent.id)).prefilled(
            {name: getattr(intent, name) for name in store.EDITABLE}
        )

    @command(
        "proposals submitted",
        "Mark an intent as submitted through the official form",
        Option("id", "The intent number", OptionKind.INTEGER),
    )
    async def submitted(self, ctx: Context) -> Reply:
        return await self._mark_submitted(ctx, ctx.options["id"])

    @button("prop-submitted")
    async def submitted_button(self, ctx: Context, intent_id: str) -> Reply:
        return await self._mark_submitted(ctx, intent_id)

    async def _mark_submitted(self, ctx: Context, intent_id) -> Reply:
        intent = await self._own(ctx, intent_id)
        if intent.state == "withdrawn":
            raise UsageError(f"Intent #{intent.id} was withdrawn; it cannot be marked submitted.")
        if intent.state != "submitted":
            intent = await store.set_state(ctx.db, intent.id, "submitted", ctx.now())
        return Reply(f"🎉 Intent #{intent.id} “{intent.title}” is marked submitted. No more reminders for it.")

    @command(
        "proposals withdraw",
        "Withdraw one of your intents",
        Option("id", "The intent number", OptionKind.INTEGER),
    )
    async def withdraw(self, ctx: Context) -> Reply:
        intent = await self._own(ctx, ctx.options["id"])
        if intent.state != "withdrawn":
            intent = await store.set_state(ctx.db, intent.id, "withdrawn", ctx.now())
        return Reply(f"Intent #{intent.id} “{intent.title}” is withdrawn. You will get no reminders for it.")

    # -- organizers -------------------------------------------------------------------------------
    @command(
        "proposals button",
        "Post a permanent “Start a proposal” button in this channel",
        permission=ORGANIZER,
    )
    async def post_button(self, ctx: Context) -> Reply:
        config = self.app.config
        return Reply(
            f"**Share your work at {config.conference.short_name}!** Poster abstracts, personal narratives, "
            f"workshops and Fireside Chats are welcome until {Timestamp(config.deadline)}. "
            "Press the button to record your intent; I'll point you to the official form and remind you.",
            private=False,
            buttons=(Button("prop-start:", "Start a proposal", ButtonStyle.PRIMARY),),
        )

    @command(
        "proposals list",
        "Intents, filtered by type, area or state",
        Option("type", "Submission type", OptionKind.CHOICE, required=False, choices=lambda cog: cog.types),
        Option("area", "Area", OptionKind.CHOICE, required=False, choices=lambda cog: cog.areas),
        Option(
            "state",
            "State",
            OptionKind.CHOICE,
            required=False,
            choices=tuple(Choice(s, s) for s in store.STATES),
        ),
        permission=ORGANIZER,
    )
    async def list_intents(self, ctx: Context) -> Reply:
        found = await store.search(ctx.db, ctx.options["type"], ctx.options["area"], ctx.options["state"])
        if not found:
            return Reply("No intents match.")
        lines = [f"{len(found)} intent(s):"]
        for i in found[:50]:
            lines.append(
                f"- **#{i.id} {i.title}** ({self.type_labels.get(i.type, i.type)}, "
                f"{self.area_labels.get(i.area, i.area)}, {i.state}) by {i.display_name} ({i.platform}) "
                f"{i.email}"
            )
        if len(found) > 50:
            lines.append(f"…and {len(found) - 50} more: /proposals export has them all.")
        return Reply("\n".join(lines))

    @command("proposals stats", "Counts of intents by type, area, state and day", permission=ORGANIZER)
    async def stats(self, ctx: Context) -> Reply:
        intents = await store.search(ctx.db)
        if not intents:
            return Reply("No intents yet.")
        by_kind = collections.Counter((i.type, i.area, i.state) for i in intents)
        lines = [f"**{len(intents)} intents** ({self._state_counts(intents)})", "", "By type and area:"]
        for t in self.types:
            for a in self.areas:
                counts = {s: by_kind[(t.value, a.value, s)] for s in store.STATES}
                if any(counts.values()):
                    detail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
                    lines.append(f"- {t.label} · {a.label}: {detail}")
        zone = self.app.config.zone
        by_day = collections.Counter(
            dt.datetime.fromisoformat(i.created_at).astimezone(zone).date().isoformat() for i in intents
        )
        lines += ["", "New intents by day:"] + [f"- {day}: {n}" for day, n in sorted(by_day.items())]
        return Reply("\n".join(lines))

    def _state_counts(self, intents) -> str:
        counts = collections.Counter(i.state for i in intents)
        return ", ".join(f"{counts[s]} {s}" for s in store.STATES if counts[s])

    @command("proposals export", "Every intent as a CSV file", permission=ORGANIZER)
    async def export(self, ctx: Context) -> Reply:
        intents = await store.search(ctx.db)
        stamp = ctx.now().astimezone(self.app.config.zone).strftime("%Y-%m-%d")
        return Reply(
            f"{len(intents)} intent(s), one row each.",
            files=(File(f"proposal-intents-{stamp}.csv", export_csv(intents), "text/csv"),),
        )


def export_csv(intents: list[store.Intent]) -> bytes:
    """UTF-8 CSV, a header then one row per intent with every field (ISO timestamps)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(store.COLUMNS)
    for intent in intents:
        writer.writerow([getattr(intent, column) or "" for column in store.COLUMNS])
    return buffer.getvalue().encode("utf-8")
