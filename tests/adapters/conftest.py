"""Discord adapter fixtures: a fake Discord with a small conference server, and the real bot
logged in to it. (Slack fixtures live with the Slack tests.)

A module that uses `discord_env` (or `discord_strict`, which also fails a test on any error the
fake answered) shares one fake and one logged-in bot across its tests, so it needs
`pytestmark = pytest.mark.asyncio(loop_scope="module")`. It may set `DISCORD_COGS` to run
the bot with other cogs than the shipped ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.adapters.discord import REQUIRED_PERMISSIONS, DiscordBot
from bot.app import App
from bot.config import load_config
from bot.core.clock import Clock
from bot.core.context import Context
from bot.core.model import (
    Button,
    ButtonStyle,
    Choice,
    FieldKind,
    File,
    Form,
    FormField,
    Option,
    OptionKind,
    Permission,
    Reply,
)
from bot.core.registry import button, command, form_builder, form_handler, listener
from storage.db import Database
from tests.fakes.discord_server import MANAGE_EVENTS, SEND_MESSAGES, VIEW_CHANNEL, FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
# Three weeks before the shipped proposal deadline.
NOW = dt.datetime(2023, 6, 9, 13, 0, tzinfo=dt.UTC)
TOKEN = "fake-discord-token-for-tests"
ORGANIZER_ROLE = "Organizer"


def conference_guild() -> FakeDiscord:
    """A small conference server: a participant (ana, dana), an organizer (olu), the configured
    channels, a private organizers' channel and a feedback forum."""
    fake = FakeDiscord(token=TOKEN, guild_name="Challenging Norms", bot_permissions=REQUIRED_PERMISSIONS.value)
    fake.add_role(ORGANIZER_ROLE, permissions=MANAGE_EVENTS, position=2)
    fake.add_role("Announcements", position=1)
    fake.add_member("ana")
    fake.add_member("dana")
    fake.add_member("olu", roles=[ORGANIZER_ROLE])
    fake.add_channel("Conference", type=4)
    for name in ("general", "help", "announcements"):
        fake.add_channel(name, parent="Conference")
    fake.add_channel("organizers", parent="Conference", private=True)
    fake.add_channel("feedback", type=15, parent="Conference")
    return fake


@dataclass
class DiscordWorld:
    """The fake server, the app (storage, cogs) and the bot currently logged in."""

    fake: FakeDiscord
    app: App
    bot: DiscordBot | None = None
    cogs: list[type] | None = None  # what a restart runs (None: the shipped cogs)
    _task: asyncio.Task | None = None
    _saved: tuple = field(default_factory=tuple)

    @property
    def participant(self) -> dict:
        return self.fake.member("ana")

    @property
    def organizer(self) -> dict:
        return self.fake.member("olu")

    async def start_bot(self) -> DiscordBot:
        """Log a new bot in (as after a restart): the same storage, a fresh client."""
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DISCORD_API_URL", self.fake.api_url)
            env.setenv("DISCORD_GATEWAY_URL", self.fake.gateway_url)
            bot = DiscordBot(self.app, guild_ready_timeout=0.05, max_messages=None)
        task = asyncio.create_task(bot.start(TOKEN), name="discord-bot")
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():  # start() failed (its exception is raised below) or hung
            ready.cancel()
            await bot.close()
            await asyncio.gather(ready, return_exceptions=True)
            await task
            raise AssertionError("the bot did not become ready within 10 s")
        self.bot, self._task = bot, task
        return bot

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await self.bot.close()
            await self._task
            await self.fake.wait_until_disconnected()
            self.bot = self._task = None

    async def restart(self) -> None:
        """A new process: a fresh app and client on the same database and clock, which then
        reconciles the delivery ledger as the timer does at start-up."""
        old = self.app
        await self.stop_bot()
        self.app = App(old.config, old.db, old.clock, self.cogs)
        await self.start_bot()
        await self.app.deliveries.reconcile()

    async def add_channel(self, name: str, *, private: bool = False, roles: tuple[str, ...] = ()) -> dict:
        """An admin creates a text channel in the Conference category (private: hidden from
        @everyone; `roles` may see it); the bot hears of it before this returns."""
        channel = self.fake.add_channel(name, parent="Conference", private=private)
        for role in roles:
            allow = str(VIEW_CHANNEL | SEND_MESSAGES)
            channel["permission_overwrites"].append(
                {"id": self.fake.role(role)["id"], "type": 0, "allow": allow, "deny": "0"}
            )
        await self.fake.dispatch("CHANNEL_CREATE", channel)
        await self.fake._until(lambda: self.bot.get_channel(int(channel["id"])) is not None, 5, f"#{name}")
        return channel


@contextlib.asynccontextmanager
async def discord_world(folder: Path, cogs: list[type] | None = None) -> AsyncIterator[DiscordWorld]:
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    config = load_config(ROOT / "config.toml")
    fake = await conference_guild().start()
    config = config.model_copy(update={"discord": config.discord.model_copy(update={"guild_id": fake.guild_id})})
    db = await Database.open(folder / "bot.sqlite3")
    world = DiscordWorld(fake, App(config, db, Clock.frozen(NOW), cogs), cogs=cogs)
    try:
        await world.start_bot()
        yield world
    finally:
        await world.stop_bot()
        await fake.close()
        await db.close()
        # discord.py keeps its endpoints as class attributes: leave them as found.
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def discord_env(request, tmp_path_factory) -> AsyncIterator[DiscordWorld]:
    """One fake Discord and one logged-in bot for the whole test module."""
    cogs = getattr(request.module, "DISCORD_COGS", None)
    async with discord_world(tmp_path_factory.mktemp("discord"), cogs) as world:
        yield world


@pytest.fixture
def discord_strict(discord_env: DiscordWorld):
    """Fail a test if the fake answered any request of it with an error the test did not expect
    (a bug that would fail on real Discord, even if the bot swallowed it)."""
    before = len(discord_env.fake.errors)
    yield discord_env
    unexpected = discord_env.fake.errors[before:]
    assert not unexpected, [(c.method, c.path, c.error) for c in unexpected]


async def _suggest_items(ctx: Context, partial: str) -> list[Choice]:
    # More than Discord can show, so the 25-choice limit is exercised.
    return [Choice(f"item-{n}", f"Item {n}") for n in range(40) if partial in str(n)]


class ProbeCog:
    """A cog exercising every kind of outcome the Discord adapter renders."""

    def __init__(self, app):
        self.app = app
        self.slow = 0.3  # seconds the slow commands take
        self.crashes = 0  # submissions of the intent form to fail, as a locked database would

    @command("probe buttons", "A public reply with a button and a link")
    async def buttons(self, ctx: Context) -> Reply:
        return Reply(
            "Choose a session.",
            private=False,
            buttons=(
                Button("probe-pick:keynote", "Keynote", ButtonStyle.PRIMARY),
                Button("guide", "Guide", url="https://example.org/guide"),
            ),
        )

    @button("probe-pick")
    async def picked(self, ctx: Context, argument: str) -> Reply:
        return Reply(f"You picked {argument}, {ctx.actor.display_name}.")

    @command("probe form", "A form of five fields")
    async def form(self, ctx: Context) -> Form:
        return self.intent_form("probe-intent", "v1")

    @form_builder("probe-intent")
    def intent_form(self, form_id: str, state: str) -> Form:
        return Form(
            form_id,
            "Proposal intent",
            (
                FormField("name", "Your name", max_length=80),
                FormField("email", "Email", FieldKind.EMAIL),
                FormField("title", "Working title of your proposal (a few words)", max_length=100),
                FormField("summary", "Summary", FieldKind.PARAGRAPH, min_length=20, max_length=1000),
                FormField(
                    "kind",
                    "Type",
                    FieldKind.CHOICE,
                    choices=(Choice("poster", "Poster abstract"), Choice("workshop", "Workshop")),
                ),
            ),
            state=state,
        )

    @form_handler("probe-intent")
    async def intent_submitted(self, ctx: Context, values: dict[str, str], state: str) -> Reply:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("database is locked")
        return Reply(
            f"Thanks {values['name']}: “{values['title']}” ({values['kind']}) from {values['email']}; "
            f"summary {len(values['summary'])} characters; state {state}."
        )

    @command("probe big-form", "A form of seven fields")
    async def big_form(self, ctx: Context) -> Form:
        return self.seven_fields("probe-big", "")

    @form_builder("probe-big")
    def seven_fields(self, form_id: str, state: str) -> Form:
        letters = "abcde"
        fields = [FormField(x, f"Field {x.upper()}") for x in letters]
        fields.append(FormField("f", "Field F", FieldKind.INTEGER))
        fields.append(FormField("g", "Field G", FieldKind.CHOICE, choices=(Choice("yes", "Yes"), Choice("no", "No"))))
        return Form(form_id, "Seven questions", tuple(fields))

    @form_handler("probe-big")
    async def seven_submitted(self, ctx: Context, values: dict[str, str], state: str) -> Reply:
        return Reply("Got " + ",".join(values[k] for k in "abcdefg"))

    @command("probe later", "A button that opens a form")
    async def later(self, ctx: Context) -> Reply:
        return Reply("When you are ready:", buttons=(Button("probe-open:now", "Fill it in"),))

    @button("probe-open")
    async def open_form(self, ctx: Context, argument: str) -> Form:
        return self.intent_form("probe-intent", "from-button")

    @command("probe long", "A reply longer than one message")
    async def long(self, ctx: Context) -> Reply:
        return Reply("\n".join(f"Line {n:03d} " + "·" * 40 for n in range(90)))

    @command("probe huge", "A reply far too long for messages")
    async def huge(self, ctx: Context) -> Reply:
        return Reply("\n".join(f"Row {n:04d} " + "x" * 60 for n in range(300)))

    @command("probe file", "A reply with a file")
    async def file(self, ctx: Context) -> Reply:
        return Reply("Your calendar file.", files=(File("agenda.ics", b"BEGIN:VCALENDAR\nEND:VCALENDAR\n"),))

    @command("probe slow", "A private reply that takes a while")
    async def slow_private(self, ctx: Context) -> Reply:
        await asyncio.sleep(self.slow)
        return Reply("Slow but private.")

    @command("probe slow-public", "A public reply that takes a while")
    async def slow_public(self, ctx: Context) -> Reply:
        await asyncio.sleep(self.slow)
        return Reply("Slow and public.", private=False)

    @command("probe slow-form", "A form that takes a while to prepare")
    async def slow_form(self, ctx: Context) -> Form:
        await asyncio.sleep(self.slow)
        return self.intent_form("probe-intent", "slow")

    @command("probe echo", "Repeat text publicly", Option("text", "What to repeat"))
    async def echo(self, ctx: Context) -> Reply:
        return Reply(f"You said: {ctx.options['text']}", private=False)

    @command(
        "probe typed",
        "Typed options",
        Option("count", "A number", OptionKind.INTEGER, min_value=1, max_value=10),
        Option("who", "A person", OptionKind.USER),
        Option("where", "A channel", OptionKind.CHANNEL),
        Option("kind", "A kind", OptionKind.CHOICE, choices=(Choice("talk", "Talk"), Choice("poster", "Poster"))),
        Option("when", "A time", OptionKind.DATETIME, required=False),
    )
    async def typed(self, ctx: Context) -> Reply:
        o = ctx.options
        when = o["when"].isoformat() if o["when"] else "-"
        return Reply(
            f"count={o['count']} who={o['who'].user_id}/{o['who'].name} "
            f"where={o['where'].channel_id}/{o['where'].name} kind={o['kind']} when={when}"
        )

    @command("probe pick", "Autocomplete", Option("item", "An item", autocomplete=_suggest_items))
    async def pick(self, ctx: Context) -> Reply:
        return Reply(f"Picked {ctx.options['item']}.")

    @command("organize", "Organizer tools", permission=Permission.ORGANIZER)
    async def organize(self, ctx: Context) -> Reply:
        return Reply("Organizer tools ready.")

    @button("probe-staff", permission=Permission.ORGANIZER)
    async def staff(self, ctx: Context, argument: str) -> Reply:
        return Reply(f"Staff only: {argument}.")

    @listener("probe-listen")
    async def listen(self, ctx: Context, text: str) -> Reply | None:
        if ctx.mentioned and text.lower().startswith("where"):
            return Reply("The conference is online; see /about. @everyone")
        return None
