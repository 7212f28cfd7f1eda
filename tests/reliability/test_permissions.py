"""The permission matrix, generated from the registry and run on every path a request can take.

1. Every organizer-only command, button prefix and form handler, used by a participant, is refused
   with the organizers-only message and changes nothing: no row in any table, and no platform call
   besides the refusal itself (looking up who is asking is a read, and allowed).
2. Everything that acts on one person's own data (intents, reports, forwarded questions, anonymous
   questions, circle follow-ups, the privacy erase), used by another participant, is refused the same
   way.

Each case runs through the dispatcher, the console, Discord (the real bot against the fake server)
and Slack (signed requests to the served app, the fake Web API). Data that a wrongly accepted request
could change is prepared first, so a missing check shows up as a changed table.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.adapters.console import Console
from bot.adapters.slack_blocks import FormOrigin, form_view
from bot.adapters.slack_text import escape
from bot.app import App
from bot.config import load_config
from bot.core.clock import Clock
from bot.core.model import (
    Actor,
    Button,
    FieldKind,
    Form,
    Message,
    OptionKind,
    Permission,
    Place,
    Platform,
    Reply,
)
from storage import faq as faq_store
from storage import proposals as intents
from storage.db import Database
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import ORGANIZER, PARTICIPANT, visible_text
from tests.conftest import BEFORE_DEADLINE, CONFIG_PATH
from tests.fakes.slack_server import FakeSlack
from tests.recording_port import RecordingPort
from tests.reliability.support import changed_tables, command_line, sample_options, snapshot

REGISTRY = App.registry_for(load_config(CONFIG_PATH))
ORG = Permission.ORGANIZER
SLACK_OTHER = "UBEN00001"
# One app (and one Discord and one Slack) per runner for the whole module: every case is a refusal
# that must change nothing, which each case checks against the stored state just before it.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str  # "command", "button" or "form"
    name: str  # the command, the button prefix or the form id
    refusal: str  # what the person must read

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"


ORGANIZER_CASES = (
    [
        Case("command", c.name, f"Sorry, only organizers can use /{c.name}.")
        for c in REGISTRY.commands.values()
        if c.permission is ORG
    ]
    + [
        Case("button", p, "Sorry, only organizers can use that button.")
        for p, r in REGISTRY.buttons.items()
        if r.permission is ORG
    ]
    + [
        Case("form", f, "Sorry, only organizers can submit that form.")
        for f, r in REGISTRY.forms.items()
        if r.permission is ORG
    ]
)
OWN_DATA_CASES = [
    Case("command", "proposals edit", "You have no intent #"),
    Case("command", "proposals submitted", "You have no intent #"),
    Case("command", "proposals withdraw", "You have no intent #"),
    Case("command", "report reply", "You have no report #"),
    Case("button", "prop-edit", "You have no intent #"),
    Case("button", "prop-submitted", "You have no intent #"),
    Case("button", "faq-forward", "Only the person who asked can forward that question."),
    Case("button", "ask-post", "That question is not yours to post."),
    Case("button", "ask-cancel", "That question is not yours to post."),
    Case("button", "circ-met", "That follow-up is for someone else's circle."),
    Case("button", "privacy-delete", "That button erases someone else's data"),
    Case("form", "proposal", "You have no intent #"),  # an edit of someone else's intent (a forged state)
]
# The organizer command that opens each organizer-only form (Discord needs a modal to submit).
FORM_OPENERS = {"faq-entry": "faq add", "announce": "announce new"}
# Options whose value is something prepared below, so a wrongly accepted command has a target.
ID_OPTIONS = {
    "faq reply": "forwarded",
    "announce cancel": "announcement",
    "report close": "report",
    "report reply": "report",
    "proposals edit": "intent",
    "proposals submitted": "intent",
    "proposals withdraw": "intent",
}


async def test_the_matrix_covers_every_organizer_only_route():
    organizer_routes = (
        {c.name for c in REGISTRY.commands.values() if c.permission is ORG}
        | {p for p, r in REGISTRY.buttons.items() if r.permission is ORG}
        | {f for f, r in REGISTRY.forms.items() if r.permission is ORG}
    )
    assert {c.name for c in ORGANIZER_CASES} == organizer_routes and organizer_routes
    assert set(FORM_OPENERS) == {c.name for c in ORGANIZER_CASES if c.kind == "form"}, (
        "a new organizer-only form: add the command that opens it to FORM_OPENERS"
    )
    own = {c.name for c in OWN_DATA_CASES}
    assert own <= set(REGISTRY.commands) | set(REGISTRY.buttons) | set(REGISTRY.forms)


# -- what a wrongly accepted request could change -----------------------------------------------------------
PROPOSAL = {
    "type": "poster",
    "area": "ume",
    "title": "Listening to patients first",
    "description": "How residents and neighbours co-designed a curriculum together.",
    "co_presenters": "",
    "email": "owner@example.org",
    "affiliation": "",
}


async def prepare(app: App, owner: Actor) -> dict[str, Any]:
    """Data of `owner` and of the organizers, stored directly (no platform is involved)."""
    db, now = app.db, app.clock.now().isoformat()
    platform, user = str(owner.platform), owner.user_id
    intent = await intents.create(db, platform, user, owner.display_name, PROPOSAL, app.clock.now(), 100)
    report = await db.execute(
        "INSERT INTO reports (platform, reporter_id, reporter_name, about, text, created_at)"
        " VALUES (?, ?, ?, '', ?, ?)",
        (platform, user, owner.display_name, "Something worried me", now),
    )
    asked = await faq_store.log_question(db, app.clock.now(), platform, user, "Is there a quiet room?", "unknown", [])
    earlier = await faq_store.log_question(db, app.clock.now(), platform, user, "Is there parking?", "unknown", [])
    forwarded, _ = await faq_store.forward(
        db, earlier, platform, user, owner.display_name, "Is there parking?", app.clock.now()
    )
    announcement = await db.execute(
        "INSERT INTO announcements (text, targets, send_at, ping, created_by, created_at) VALUES (?, ?, NULL, 0, ?, ?)",
        ("Registration is open", json.dumps([]), "Olu", now),
    )
    coalition = await db.execute(
        "INSERT INTO coalitions (slug, name, description, prompt, status, proposed_by, created_at)"
        " VALUES ('llama-care', 'Llama care', 'Caring for llamas', 'Why llamas?', 'proposed', ?, ?)",
        (f"{platform}:{user}", now),
    )
    await db.execute(
        "INSERT INTO session_threads (platform, session_id, channel_id, thread_id) VALUES (?, 'opening', 'C1', 'T1')"
        " ON CONFLICT DO NOTHING",
        (platform,),
    )
    question = await db.execute(
        "INSERT INTO session_questions (session_id, platform, user_id, display_name, text, anonymous, status,"
        " created_at) VALUES ('opening', ?, ?, ?, 'Will the slides be shared?', 1, 'pending', ?)",
        (platform, user, owner.display_name, now),
    )
    round_ = await db.execute(
        "INSERT INTO circle_rounds (size, seed, match_at, status, created_by, created_at)"
        " VALUES (3, 7, ?, 'matched', 'Olu', ?)",
        (now, now),
    )
    group = await db.execute("INSERT INTO circle_groups (round_id, number) VALUES (?, 1)", (round_.lastrowid,))
    await db.execute(
        "INSERT INTO circle_members (group_id, platform, user_id) VALUES (?, ?, ?)", (group.lastrowid, platform, user)
    )
    return {
        "intent": intent.id,
        "report": report.lastrowid,
        "asked": asked,
        "forwarded": forwarded.id,
        "announcement": announcement.lastrowid,
        "coalition": coalition.lastrowid,
        "question": question.lastrowid,
        "group": group.lastrowid,
        "owner": user,
    }


def options_for(name: str, ids: dict[str, Any], platform: str) -> dict[str, Any]:
    command = REGISTRY.get(name)
    options = sample_options(command, platform)
    if name in ID_OPTIONS:
        options["id"] = ids[ID_OPTIONS[name]]
    if name in ("faq edit", "faq remove"):
        options["id"] = "cost"  # an entry that exists
    for option in command.options:
        if option.kind is OptionKind.INTEGER and platform != "discord":
            options[option.name] = str(options[option.name])
    return options


def button_id(prefix: str, ids: dict[str, Any]) -> str:
    argument = {
        "ann-send": ids["announcement"],
        "ann-cancel": ids["announcement"],
        "coal-approve": ids["coalition"],
        "coal-decline": ids["coalition"],
        "faq-addfrom": ids["forwarded"],
        "prop-edit": ids["intent"],
        "prop-submitted": ids["intent"],
        "faq-forward": ids["asked"],
        "ask-post": ids["question"],
        "ask-cancel": ids["question"],
        "circ-met": f"{ids['group']}:yes",
        "privacy-delete": ids["owner"],
    }.get(prefix, "1")
    return f"{prefix}:{argument}"


def valid_values(form: Form) -> dict[str, str]:
    """Answers the form accepts, so only the permission check can stop them."""
    special = {"id": "parking", "email": "someone@example.org", "areas": "all", "title": "A title that is fine"}
    values = {}
    for field in form.fields:
        if field.kind is FieldKind.CHOICE:
            values[field.name] = field.default or field.choices[0].value
        elif field.kind is FieldKind.DATETIME:
            values[field.name] = ""
        elif field.kind is FieldKind.INTEGER:
            values[field.name] = "1"
        else:
            text = field.default or special.get(field.name) or "A perfectly ordinary answer, long enough."
            values[field.name] = text if len(text) >= field.min_length else text * 3
    return values


def form_and_values(case: Case, ids: dict[str, Any], app: App) -> tuple[Form, dict[str, str]]:
    state = str(ids["intent"]) if case.name == "proposal" else ""
    form = app.dispatcher.form_for(case.name, state)
    return form, valid_values(form)


# -- the dispatcher -----------------------------------------------------------------------------------------
async def _dispatch(app: App, case: Case, actor: Actor, ids: dict[str, Any]) -> Any:
    place = Place(actor.platform, "C1", name="general")
    if case.kind == "command":
        return await app.dispatcher.run_command(case.name, options_for(case.name, ids, "console"), actor, place)
    if case.kind == "button":
        return await app.dispatcher.click(button_id(case.name, ids), actor, place)
    form, values = form_and_values(case, ids, app)
    return await app.dispatcher.submit(form.id, form.state, values, actor, place)


async def _app(folder: Path) -> App:
    return App(load_config(CONFIG_PATH), await Database.open(folder / "app.sqlite3"), Clock.frozen(BEFORE_DEADLINE))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def core(tmp_path_factory):
    """The dispatcher with a recording port per platform, and the prepared data of ana."""
    app = await _app(tmp_path_factory.mktemp("permissions-core"))
    app.platforms.update({p: RecordingPort(p) for p in (Platform.DISCORD, Platform.SLACK)})
    app.ids = await prepare(app, Actor(Platform.CONSOLE, "ana", "Ana"))
    yield app
    await app.close()


@pytest.mark.parametrize("case", ORGANIZER_CASES + OWN_DATA_CASES, ids=lambda c: c.id)
async def test_the_dispatcher_refuses_and_changes_nothing(core, case):
    someone = Actor(Platform.CONSOLE, "ben", "Ben")  # a participant, and not the owner
    before = await snapshot(core.db)

    outcome = await _dispatch(core, case, someone, core.ids)

    assert isinstance(outcome, Reply) and case.refusal in outcome.text, outcome
    assert not changed_tables(before, await snapshot(core.db))
    for port in core.platforms.values():
        assert not (port.sent or port.created or port.archived or port.members), port.platform


# -- the console --------------------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console_app(tmp_path_factory):
    app = await _app(tmp_path_factory.mktemp("permissions-console"))
    app.ids = await prepare(app, Actor(Platform.CONSOLE, "ana", "Ana"))
    yield app
    await app.close()


@pytest.mark.parametrize("case", ORGANIZER_CASES + OWN_DATA_CASES, ids=lambda c: c.id)
async def test_the_console_refuses_and_changes_nothing(console_app, case):
    app, ids = console_app, console_app.ids
    out = io.StringIO()
    console = Console(app, user="Ben", stdin=io.StringIO(""), stdout=out)  # a participant, not the owner
    before = await snapshot(app.db)

    if case.kind == "command":
        await console.handle(command_line(REGISTRY.get(case.name), options_for(case.name, ids, "console")))
    elif case.kind == "button":
        await console.handle(f":click {button_id(case.name, ids)}")
    else:  # the console's own form filling, every field given inline
        form, values = form_and_values(case, ids, app)
        await console.follow(form, values)

    shown = out.getvalue()
    assert case.refusal in shown, shown
    assert not changed_tables(before, await snapshot(app.db))
    side_effects = [line for line in shown.splitlines() if line.startswith("[")]  # posts, DMs, channels
    assert not side_effects, side_effects


# -- Discord ------------------------------------------------------------------------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def discord(tmp_path_factory):
    from tests.adapters.conftest import discord_world

    async with discord_world(tmp_path_factory.mktemp("discord-permissions")) as world:
        ana = world.fake.member("ana")["user"]
        world.ids = await prepare(world.app, Actor(Platform.DISCORD, ana["id"], "ana"))
        yield world


def _discord_side_effects(calls) -> list[str]:
    """Calls that change something, other than answering the interaction itself."""
    return [
        f"{c.method} {c.path}"
        for c in calls
        if c.method != "GET" and not c.path.startswith(("/interactions/", "/webhooks/"))
    ]


@pytest.mark.parametrize("case", ORGANIZER_CASES + OWN_DATA_CASES, ids=lambda c: c.id)
async def test_discord_refuses_and_changes_nothing(discord, case):
    fake, app, ids = discord.fake, discord.app, discord.ids
    member = fake.member("dana")  # a participant, and not the owner (ana)
    if case.kind == "form" and case.name not in FORM_OPENERS:
        pytest.skip("a participant's own multi-page form: its drafts are per person (see the dispatcher case)")
    opened = None
    if case.kind == "button":  # the bot shows the button in a public channel, as a real message would
        general = Place(Platform.DISCORD, str(fake.channel("general")["id"]), name="general")
        posted = await discord.bot.port.post(
            general, Message("Press it.", buttons=(Button(button_id(case.name, ids), "Press"),))
        )
        message = fake.messages[int(posted.message_id)]
    elif case.kind == "form":  # an organizer opens the form; the participant submits it
        opened = await fake.slash(discord.organizer, FORM_OPENERS[case.name])
    before, calls = await snapshot(app.db), len(fake.calls)

    if case.kind == "command":
        shown = await fake.slash(member, case.name, options_for(case.name, ids, "discord"), override_permissions=True)
    elif case.kind == "button":
        shown = await fake.click(member, message, "Press")
    else:
        form = app.dispatcher.form_for(case.name, "")
        values = {k: v for k, v in valid_values(form).items() if v}
        shown = await fake.submit_modal(member, opened, values)

    assert case.refusal in shown.text and shown.ephemeral, shown.text
    assert not changed_tables(before, await snapshot(app.db))
    assert not _discord_side_effects(fake.calls[calls:])


# -- Slack --------------------------------------------------------------------------------------------------
SLACK_READS = {"users.info", "usergroups.users.list", "conversations.info", "auth.test"}
SLACK_REPLIES = {"response_url", "chat.postEphemeral"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def slack(tmp_path_factory):
    """The served Slack app (every cog), a second participant, and the prepared data of ana."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            env.delenv(name, raising=False)  # every request goes to 127.0.0.1 directly
        fake = await FakeSlack().start()
        slack_fixtures.seed(fake)
        fake.add_user(SLACK_OTHER, "Ben Other", tz="America/Los_Angeles")
        fake.channel_named("general").members.add(SLACK_OTHER)
        folder = tmp_path_factory.mktemp("permissions-slack")
        harness = await slack_fixtures.start_harness(
            fake, load_config(CONFIG_PATH), Clock.frozen(BEFORE_DEADLINE), folder / "app.sqlite3", None
        )
        harness.ids = await prepare(harness.app, Actor(Platform.SLACK, PARTICIPANT, "Ana Participant"))
        yield harness
        await slack_fixtures.stop_harness(harness)
        await fake.close()


@pytest.mark.parametrize("case", ORGANIZER_CASES + OWN_DATA_CASES, ids=lambda c: c.id)
async def test_slack_refuses_and_changes_nothing(slack, case):
    fake, app, ids = slack.fake, slack.app, slack.ids
    assert SLACK_OTHER not in (PARTICIPANT, ORGANIZER)
    before, calls = await snapshot(app.db), len(fake.calls)

    if case.kind == "command":
        line = command_line(REGISTRY.get(case.name), options_for(case.name, ids, "slack"))
        await slack.command("/" + escape(line[1:]), user=SLACK_OTHER)
    elif case.kind == "button":
        bid = button_id(case.name, ids)
        await slack.click(
            {"action_id": bid, "value": bid, "text": {"type": "plain_text", "text": "Press"}}, user=SLACK_OTHER
        )
    else:
        form, values = form_and_values(case, ids, app)
        origin = FormOrigin(form.state, slack.channels["general"], "channel", "", "general")
        await slack.submit(
            form_view(form, origin, app.config.zone), {k: v for k, v in values.items() if v}, user=SLACK_OTHER
        )
    await slack.idle()

    made = fake.calls[calls:]
    replies = [visible_text(c) for c in made if c.method in SLACK_REPLIES and c.ok]
    assert any(case.refusal in r for r in replies), [(c.method, c.args) for c in made]
    others = [c.method for c in made if c.method not in SLACK_READS | SLACK_REPLIES]
    assert not others, others
    assert not changed_tables(before, await snapshot(app.db))


# -- who can read what the bot stores ----------------------------------------------------------------------
async def test_a_backup_is_as_private_as_the_database(tmp_path):
    previous = os.umask(0o022)  # the usual umask, so the outcome does not depend on the machine
    try:
        db = await Database.open(tmp_path / "live.sqlite3")
        try:
            copy = await db.backup(tmp_path / "backup.sqlite3")
        finally:
            await db.close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "live.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
