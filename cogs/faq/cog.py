"""/faq: answers from the knowledge base, "did you mean", and questions forwarded to organizers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import re
from pathlib import Path

from bot.core.context import Context
from bot.core.dispatch import UsageError
from bot.core.ids import parse_id
from bot.core.model import (
    MAX_BUTTON_LABEL,
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
    Reply,
)
from bot.core.registry import button, command, form_builder, form_handler, listener
from cogs.faq.engine import FaqEngine, best_ranker
from cogs.faq.knowledge import Entry, KnowledgeError, entry_problems, load_entries, render_answer
from storage import faq as store

log = logging.getLogger(__name__)
ORGANIZER = Permission.ORGANIZER
ENTRY_FORM = "faq-entry"
VECTORS_FILE = "faq-vectors.npz"  # next to the database: the knowledge base's vectors across restarts


@functools.cache
def _model_thread() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that loads and runs the FAQ model, for the whole process. In a rush, questions
    queue here instead of filling the shared pool: inference keeps one core and the event loop the
    other, so every request is still acknowledged at once (bench/results.md, burst)."""
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="faq-model")


async def on_model_thread(func, /, *args):
    return await asyncio.get_running_loop().run_in_executor(_model_thread(), func, *args)


async def merged_entries(config, db) -> list[Entry]:
    """The file's entries with organizers' runtime changes applied (added, edited, removed)."""
    entries = {e.id: e for e in load_entries(config.resolve(config.faq.path))}
    for item in await store.overrides(db):
        if item.removed:
            entries.pop(item.entry_id, None)
        else:
            entries[item.entry_id] = Entry(
                item.entry_id, item.question, item.answer, tuple(item.alternates), tuple(item.tags)
            )
    return list(entries.values())


async def _complete_entry(ctx: Context, partial: str) -> list[Choice]:
    """Entry questions containing what was typed (Discord shows these as you type)."""
    cog = next(c for c in ctx.app.cogs if isinstance(c, FaqCog))
    engine = await cog.engine()
    needle = partial.lower().strip()
    found = [e.question for e in engine.entries.values() if needle in e.question.lower()]
    return [Choice(q[:100], q[:100]) for q in found[:25]]


class FaqCog:
    def __init__(self, app):
        self.app = app
        self._engine: FaqEngine | None = None
        self._lock = asyncio.Lock()

    async def engine(self) -> FaqEngine:
        """Loaded on first use, on the model thread: the model takes a moment and must not stall replies."""
        async with self._lock:
            if self._engine is None:
                try:
                    entries = await merged_entries(self.app.config, self.app.db)
                except KnowledgeError as exc:
                    log.error("FAQ not loaded: %s", exc)
                    entries = []
                engine_name = self.app.config.faq.engine
                ranker, bands = await on_model_thread(best_ranker, engine_name, self._vectors_file())
                self._engine = await on_model_thread(FaqEngine, entries, ranker, bands)
            return self._engine

    def _vectors_file(self) -> Path | None:
        database = Path(self.app.db.path)
        return None if str(database) == ":memory:" else database.with_name(VECTORS_FILE)

    async def reload(self) -> None:
        engine = await self.engine()
        entries = await merged_entries(self.app.config, self.app.db)
        await on_model_thread(engine.reindex, entries)

    def answer_text(self, entry: Entry) -> str:
        return f"**{entry.question}**\n{render_answer(entry, self.app.config, self.app.clock.now())}"

    # -- asking ---------------------------------------------------------------------------------
    @command(
        "faq ask",
        "Ask a question about the conference",
        Option("question", "Your question, in your own words", max_length=500, autocomplete=_complete_entry),
        group_default=True,
    )
    async def ask(self, ctx: Context) -> Reply:
        question = ctx.options["question"].strip()
        engine = await self.engine()
        decision = await on_model_thread(engine.ask, question)
        if decision.outcome == "answer":
            entry = engine.entries[decision.entry_id]
            return Reply(self.answer_text(entry), buttons=(Button(f"faq-share:{entry.id}", "Share in channel"),))
        log_id = await store.log_question(
            ctx.db, ctx.now(), ctx.actor.platform, ctx.actor.user_id, question, decision.outcome, decision.top
        )
        forward = Button(f"faq-forward:{log_id}", "Ask the organizers", ButtonStyle.PRIMARY)
        if decision.outcome == "suggest":
            picks = tuple(
                Button(f"faq-show:{entry_id}", _label(engine.entries[entry_id].question))
                for entry_id in decision.suggestions
            )
            return Reply(
                "I'm not sure I understood. Did you mean one of these? If not, I can ask the organizers.",
                buttons=(*picks, forward),
            )
        return Reply(
            "I don't know the answer to that yet. I can forward your question to the organizers and "
            "bring their answer back to you privately, or you can write to "
            f"{self.app.config.links.contact_email}.",
            buttons=(forward,),
        )

    @button("faq-show")
    async def show(self, ctx: Context, entry_id: str) -> Reply:
        entry = (await self.engine()).entries.get(entry_id)
        if entry is None:
            raise UsageError("That FAQ entry was removed. Try /faq again.")
        return Reply(self.answer_text(entry), buttons=(Button(f"faq-share:{entry.id}", "Share in channel"),))

    @button("faq-share")
    async def share(self, ctx: Context, entry_id: str) -> Reply:
        entry = (await self.engine()).entries.get(entry_id)
        if entry is None:
            raise UsageError("That FAQ entry was removed. Try /faq again.")
        return Reply(f"{self.answer_text(entry)}\n_Shared by {ctx.actor.display_name} from /faq._", private=False)

    @listener("faq")
    async def passive(self, ctx: Context, text: str) -> Reply | None:
        """Answer plain questions only where invited (a mention, a help channel) and only when sure."""
        in_help_channel = ctx.place.name in self.app.config.faq.help_channels
        if not (ctx.mentioned or in_help_channel) or len(text.strip()) < 4:
            return None
        engine = await self.engine()
        decision = await on_model_thread(engine.ask, text)
        if decision.outcome != "answer":
            return None
        entry = engine.entries[decision.entry_id]
        return Reply(f"{self.answer_text(entry)}\n_Not what you asked? Try /faq with your question._", private=False)

    # -- escalation -----------------------------------------------------------------------------
    @button("faq-forward")
    async def forward(self, ctx: Context, log_id: str) -> Reply:
        number = parse_id(log_id)
        row = await store.logged(ctx.db, number) if number is not None else None
        if row is None or (row["platform"], row["user_id"]) != (ctx.actor.platform, ctx.actor.user_id):
            raise UsageError("Only the person who asked can forward that question.")
        item, created = await store.forward(
            ctx.db,
            row["id"],
            ctx.actor.platform,
            ctx.actor.user_id,
            ctx.actor.display_name,
            row["question"],
            ctx.now(),
        )
        if not created:
            return Reply(f"Already sent to the organizers as question #{item.id}. I'll message you when they answer.")
        delivered = await self._notify_organizers(item)
        where = "" if delivered else " (it is waiting in their /faq inbox)"
        return Reply(f"Sent to the organizers as question #{item.id}{where}. I'll send you their answer privately.")

    async def _notify_organizers(self, item: store.Forwarded) -> int:
        text = (
            f"**Question #{item.id}** from {item.display_name} ({item.platform}):\n> {item.question}\n"
            f"Answer with `/faq reply {item.id} YOUR ANSWER`; I'll deliver it privately."
        )
        return await self.app.post_everywhere(
            [self.app.config.channels.organizers], Message(text, dedupe_key=f"faq-forward-{item.id}")
        )

    @command(
        "faq reply",
        "Answer a forwarded question; the asker gets it privately",
        Option("id", "The question number", OptionKind.INTEGER, min_value=1),
        Option("answer", "Your answer", max_length=3000),
        permission=ORGANIZER,
    )
    async def reply(self, ctx: Context) -> Reply:
        item = await store.forwarded(ctx.db, ctx.options["id"])
        if item is None:
            raise UsageError(f"There is no forwarded question #{ctx.options['id']}. See /faq inbox.")
        answer = ctx.options["answer"].strip()
        port = self.app.platforms.get(item.platform)
        if port is None:
            raise UsageError(
                f"{item.display_name} asked on {item.platform}, which is not connected right now; try again later."
            )
        await port.dm(
            item.user_id,
            Message(
                f"The organizers answered your question #{item.id}:\n> {item.question}\n\n{answer}",
                dedupe_key=f"faq-reply-{item.id}-{len(answer)}",
            ),
        )
        await store.record_answer(ctx.db, item.id, answer, ctx.actor.display_name, ctx.now())
        return Reply(
            f"Sent your answer to {item.display_name} privately.",
            buttons=(Button(f"faq-addfrom:{item.id}", "Add it to the FAQ"),),
        )

    @command("faq inbox", "Forwarded questions waiting for an answer", permission=ORGANIZER)
    async def inbox(self, ctx: Context) -> Reply:
        rows = await ctx.db.fetchall(
            "SELECT id, display_name, platform, question FROM faq_forwarded WHERE answer IS NULL ORDER BY id"
        )
        if not rows:
            return Reply("No forwarded questions are waiting. 🎉")
        lines = [f"- **#{r['id']}** {r['display_name']} ({r['platform']}): {r['question']}" for r in rows]
        return Reply("Waiting for an answer (reply with /faq reply ID ANSWER):\n" + "\n".join(lines))

    @command("faq gaps", "The questions I most often could not answer", permission=ORGANIZER)
    async def gaps(self, ctx: Context) -> Reply:
        found = await store.gaps(ctx.db)
        if not found:
            return Reply("No unanswered or uncertain questions so far.")
        lines = ["Most frequent questions I could not answer with confidence:"]
        for gap in found:
            best = ", ".join(f"{entry_id} {score:.2f}" for entry_id, score in gap.top) or "no match"
            lines.append(f"- {gap.times}× “{gap.question}” ({gap.outcome}; closest: {best})")
        lines.append("Add an entry with /faq add, or add the wording as an alternate with /faq edit ID.")
        return Reply("\n".join(lines))

    # -- browsing and editing -------------------------------------------------------------------
    @command("faq list", "Every question I can answer")
    async def list_entries(self, ctx: Context) -> Reply:
        entries = (await self.engine()).entries.values()
        lines = [f"- {e.question} (`{e.id}`)" for e in entries]
        return Reply("I can answer these (ask with /faq in your own words):\n" + "\n".join(lines))

    @command("faq add", "Add an FAQ entry", permission=ORGANIZER)
    async def add(self, ctx: Context) -> Form:
        return self.entry_form(ENTRY_FORM, "")

    @command(
        "faq edit",
        "Change an FAQ entry",
        Option("id", "The entry id (see /faq list)", autocomplete=None),
        permission=ORGANIZER,
    )
    async def edit(self, ctx: Context) -> Form:
        entry = await self._entry(ctx.options["id"])
        return self.entry_form(ENTRY_FORM, entry.id).prefilled(
            {
                "id": entry.id,
                "question": entry.question,
                "alternates": "\n".join(entry.alternates),
                "answer": entry.answer,
                "tags": ", ".join(entry.tags),
            }
        )

    @command("faq remove", "Remove an FAQ entry", Option("id", "The entry id"), permission=ORGANIZER)
    async def remove(self, ctx: Context) -> Reply:
        entry = await self._entry(ctx.options["id"])
        await store.save_override(
            ctx.db,
            store.Override(entry.id, entry.question, list(entry.alternates), entry.answer, list(entry.tags), True),
            ctx.actor.display_name,
            ctx.now(),
        )
        await self.reload()
        return Reply(f"Removed `{entry.id}` ({entry.question}). `python -m bot faq export` writes the file.")

    @button("faq-addfrom", permission=ORGANIZER)
    async def add_from_answer(self, ctx: Context, forwarded_id: str) -> Form:
        number = parse_id(forwarded_id)
        item = await store.forwarded(ctx.db, number) if number is not None else None
        if item is None:
            raise UsageError("That forwarded question no longer exists.")
        slug = re.sub(r"[^a-z0-9]+", "-", item.question.lower()).strip("-")[:40].strip("-") or "new-entry"
        return self.entry_form(ENTRY_FORM, "").prefilled(
            {"id": slug, "question": item.question, "answer": item.answer or ""}
        )

    async def _entry(self, entry_id: str) -> Entry:
        entry = (await self.engine()).entries.get(entry_id.strip())
        if entry is None:
            raise UsageError(f"There is no FAQ entry `{entry_id}`. See /faq list for the ids.")
        return entry

    @form_builder(ENTRY_FORM)
    def entry_form(self, form_id: str, state: str) -> Form:
        return Form(
            form_id,
            "Edit FAQ entry" if state else "New FAQ entry",
            (
                FormField("id", "Id (lowercase-with-dashes)", max_length=40, placeholder="parking"),
                FormField("question", "Question", max_length=200),
                FormField(
                    "alternates",
                    "Other ways to ask it (one per line)",
                    FieldKind.PARAGRAPH,
                    required=False,
                    max_length=1500,
                ),
                FormField("answer", "Answer", FieldKind.PARAGRAPH, max_length=1500),
                FormField("tags", "Tags (comma-separated)", required=False, max_length=100),
            ),
            state=state,
        )

    @form_handler(ENTRY_FORM, permission=ORGANIZER)
    async def save_entry(self, ctx: Context, values: dict[str, str], state: str) -> Reply | FormErrors:
        entry = Entry(
            values["id"],
            values["question"],
            values["answer"],
            tuple(a.strip() for a in values["alternates"].splitlines() if a.strip()),
            tuple(t.strip() for t in values["tags"].split(",") if t.strip()),
        )
        existing = (await self.engine()).entries
        if entry.id != state and entry.id in existing:
            return FormErrors({"id": f"`{entry.id}` is already used; choose another id."})
        problems = entry_problems(entry)
        if problems:
            field = "id" if problems[0].startswith("id ") else "answer"
            return FormErrors({field: "; ".join(problems)})
        if state and state != entry.id:  # renamed: the old id disappears
            old = existing.get(state)
            if old:
                await store.save_override(
                    ctx.db,
                    store.Override(old.id, old.question, list(old.alternates), old.answer, list(old.tags), True),
                    ctx.actor.display_name,
                    ctx.now(),
                )
        await store.save_override(
            ctx.db,
            store.Override(entry.id, entry.question, list(entry.alternates), entry.answer, list(entry.tags), False),
            ctx.actor.display_name,
            ctx.now(),
        )
        await self.reload()
        return Reply(f"Saved `{entry.id}`. People asking “{entry.question}” now get:\n{self.answer_text(entry)}")


def _label(text: str) -> str:
    return text if len(text) <= MAX_BUTTON_LABEL else text[: MAX_BUTTON_LABEL - 1] + "…"
