"""Every command in the registry works on Discord, run by a participant and by an organizer.

To cover a new command, add one line to CASES: the options a member types and a fragment of
what they must see (the reply, or the title of the form that opens). `test_every_command_has_a_
discord_case` fails for any registry command without a line, and for lines naming no command.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.app import App
from bot.config import load_config
from bot.core.model import Actor, Form, Message, Permission, Place, Platform
from storage import audit
from storage import faq as faq_store
from storage import proposals as proposal_store
from tests.adapters.conftest import ROOT
from tests.fakes.discord_server import Exchange, FakeDiscord

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Case:
    options: dict[str, Any] = field(default_factory=dict)  # users and channels by name
    expect: str = ""  # in the reply text, or the title of the modal it opens
    organizer_expect: str | None = None  # when organizers see something else
    submit: dict[str, str] | None = None  # a form's answers by input label, across all its modals
    expect_submitted: str = ""  # in the reply to those answers
    # Data the command needs first (say, a proposal to edit): called with the app and the fake
    # server before the command runs; returns options to add (the id of what it made).
    prepare: Callable[[App, FakeDiscord], Awaitable[dict[str, Any]]] | None = None


async def forwarded_question(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """A question dana forwarded to the organizers on Discord."""
    dana = fake.member("dana")["user"]["id"]
    question = "Is there a quiet room?"
    log_id = await faq_store.log_question(app.db, app.clock.now(), "discord", dana, question, "unknown", [])
    item, _ = await faq_store.forward(app.db, log_id, "discord", dana, "dana", question, app.clock.now())
    return {"id": item.id}


async def forwarded_question_only(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await forwarded_question(app, fake)
    return {}


async def unanswered_question(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await faq_store.log_question(app.db, app.clock.now(), "discord", "1", "Is there a dress code?", "unknown", [])
    return {}


PROPOSAL = {  # by field name, for the store
    "type": "poster",
    "area": "ume",
    "title": "Listening to patients first",
    "description": "How residents and neighbours co-designed a curriculum together.",
    "co_presenters": "",
    "email": "ana@example.org",
    "affiliation": "Medical student",
}
PROPOSAL_FORM = {  # by input label, as a member fills in the two modals of /propose
    "Submission type": "Poster abstract",
    "Area": "Undergraduate medical education",
    "Working title": PROPOSAL["title"],
    "Short description": PROPOSAL["description"],
    "Contact email": PROPOSAL["email"],
}

_prepared = itertools.count(1)


async def intents(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """A fresh intent of ana's (the participant; organizers may act on it too), and one of olu's."""
    ids = {}
    for name in ("olu", "ana"):  # ana's last: its id is the one returned
        member = fake.member(name)["user"]
        values = PROPOSAL | {"title": f"Prepared intent number {next(_prepared)}"}
        intent = await proposal_store.create(app.db, "discord", member["id"], name, values, app.clock.now(), limit=1000)
        ids[name] = intent.id
    return {"id": ids["ana"]}


async def intents_only(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await intents(app, fake)
    return {}


async def scheduled_announcement(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """An announcement olu scheduled for two days from now (through the core, as the form would)."""
    olu = fake.member("olu")["user"]
    actor = Actor(Platform.DISCORD, olu["id"], "olu", is_organizer=True)
    place = Place(Platform.DISCORD, fake.channel("general")["id"], name="general")
    form = await app.dispatcher.run_command("announce new", {}, actor, place)
    assert isinstance(form, Form)
    when = (app.clock.now() + dt.timedelta(days=2)).isoformat(timespec="minutes")
    values = {"text": "Prepared news", "channels": "announcements", "platforms": "discord"}
    shown = await app.dispatcher.submit(form.id, form.state, values | {"send_at": when, "ping": "no"}, actor, place)
    scheduled = await app.dispatcher.click(shown.buttons[0].id, actor, place)
    assert "is scheduled for" in scheduled.text, scheduled.text
    return {"id": int(shown.buttons[0].argument)}


async def scheduled_announcement_only(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await scheduled_announcement(app, fake)
    return {}


def discord_actor(fake: FakeDiscord, name: str) -> Actor:
    user = fake.member(name)["user"]
    return Actor(Platform.DISCORD, user["id"], name, is_organizer=name == "olu")


def general(fake: FakeDiscord) -> Place:
    return Place(Platform.DISCORD, fake.channel("general")["id"], name="general")


async def qa_thread(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """The opening keynote's Q&A thread, as its "starting soon" delivery opens it."""
    known = await app.db.fetchone("SELECT 1 FROM session_threads WHERE platform = 'discord' AND session_id = 'opening'")
    if known is None:
        port = app.platforms[Platform.DISCORD]
        thread = await port.create_thread(general(fake), "Q&A: Opening keynote", Message("Ask here."))
        await app.db.execute(
            "INSERT INTO session_threads (platform, session_id, channel_id, thread_id) VALUES (?, ?, ?, ?)",
            ("discord", "opening", thread.channel_id, thread.thread_id),
        )
    return {}


async def in_coalition(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """ana and olu are in "Residency culture" (which then has a space on Discord)."""
    for name in ("ana", "olu"):
        await app.dispatcher.run_command(
            "coalition join", {"name": "Residency culture"}, discord_actor(fake, name), general(fake)
        )
    return {}


async def new_coalition_name(app: App, fake: FakeDiscord) -> dict[str, Any]:
    return {"name": f"Coalition idea {next(_prepared)}"}


async def in_circles(app: App, fake: FakeDiscord) -> dict[str, Any]:
    """ana and olu opted in to circles (as the /circles join form does)."""
    values = {"role": "faculty", "areas": "all", "institution": "", "timezone": ""}
    for name in ("ana", "olu"):
        await app.dispatcher.submit("circles-join", "", values, discord_actor(fake, name), general(fake))
    return {}


async def report_by_ana(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await app.dispatcher.run_command(
        "report new", {"text": "Someone keeps messaging me"}, discord_actor(fake, "ana"), general(fake)
    )
    row = await app.db.fetchone("SELECT MAX(id) AS id FROM reports")
    return {"id": row["id"]}


async def audit_entry(app: App, fake: FakeDiscord) -> dict[str, Any]:
    await audit.record(app.db, app.clock.now(), "discord", fake.member("olu")["user"]["id"], "event setup")
    return {}


CASES: dict[str, Case] = {
    "help": Case(expect="Here is what I can do in Challenging Norms"),
    "about": Case(expect="**Challenging Norms: Uplifting Anti-Racist Work"),
    "timezone": Case({"zone": "America/Chicago"}, expect="Done: I'll show you times in America/Chicago."),
    "faq ask": Case({"question": "How much does it cost to attend?"}, expect="the conference is free"),
    "faq reply": Case(
        {"answer": "Yes, room 2."}, expect="Sent your answer to dana privately.", prepare=forwarded_question
    ),
    "faq inbox": Case(expect="Waiting for an answer", prepare=forwarded_question_only),
    "faq gaps": Case(expect="questions I could not answer with confidence", prepare=unanswered_question),
    "faq list": Case(expect="I can answer these"),
    "faq add": Case(
        expect="New FAQ entry",
        submit={
            "Id (lowercase-with-dashes)": "parking",
            "Question": "Where can I park?",
            "Answer": "The conference is virtual: no parking needed.",
        },
        expect_submitted="Saved `parking`.",
    ),
    "faq edit": Case({"id": "cost"}, expect="Edit FAQ entry", submit={}, expect_submitted="Saved `cost`."),
    "faq remove": Case({"id": "poster"}, expect="Removed `poster`"),
    "propose": Case(
        {"type": "poster"},
        expect="Proposal intent (1/2)",
        submit=PROPOSAL_FORM,
        expect_submitted="recorded: “Listening to patients first”",
    ),
    "proposals extend": Case(
        {"user": "dana", "until": "2023-07-07T17:00-04:00"},
        expect="dana can start and edit proposal intents until <t:1688763600:F>.",
    ),
    "proposals mine": Case(expect="Your proposal intents:", prepare=intents_only),
    "proposals edit": Case(
        expect="Edit intent #",
        prepare=intents,
        submit={"Your role and affiliation": "Resident physician"},  # on the second modal
        expect_submitted="- **Role and affiliation:** Resident physician",
    ),
    "proposals submitted": Case(expect="is marked submitted", prepare=intents),
    "proposals withdraw": Case(expect="is withdrawn", prepare=intents),
    "proposals button": Case(expect="Press the button to record your intent"),
    "proposals list": Case(expect="Prepared intent number", prepare=intents_only),
    "proposals stats": Case(expect="New intents by day:", prepare=intents_only),
    "proposals export": Case(expect="intent(s), one row each.", prepare=intents_only),
    "reminders": Case({"state": "off"}, expect="Done: no more private deadline reminders."),
    "notify": Case({"state": "on"}, expect="Done: announcements that ping will ping you."),
    "announce new": Case(
        expect="New announcement",
        submit={"Announcement": "Registration is open!"},
        expect_submitted="**Preview** (only you can see this):",
    ),
    "announce cancel": Case(expect="is cancelled; nothing more of it will be sent", prepare=scheduled_announcement),
    "announce scheduled": Case(expect="Scheduled announcements:\n- **#", prepare=scheduled_announcement_only),
    "program show": Case(expect="Add it to your calendar with /program ics."),
    "program ics": Case({"area": "ume"}, expect="sessions; open the file to add them to your calendar."),
    "event setup": Case({"dry-run": "yes"}, expect="**Event setup (dry run: nothing changed)**\nDiscord:"),
    "event archive": Case(expect="**Event archive**\nDiscord:"),
    "event summary": Case(expect="**Questions asked per session:**"),
    "ask": Case(
        {"session": "opening", "question": "Where do I start?"},
        expect="Posted in the Q&A thread of **Opening keynote",
        prepare=qa_thread,
    ),
    "coalition list": Case(expect="Topic coalitions (join with /coalition join NAME):"),
    "coalition join": Case({"name": "Curriculum reform"}, expect="You joined **Curriculum reform**."),
    "coalition leave": Case(
        {"name": "Residency culture"}, expect="You left **Residency culture**.", prepare=in_coalition
    ),
    "coalition members": Case({"name": "Residency culture"}, expect="**Residency culture**", prepare=in_coalition),
    "coalition propose": Case(
        {"description": "Working on it together"}, expect="is with the organizers", prepare=new_coalition_name
    ),
    "coalition prompt": Case({"text": "What will you try first?"}, expect="Prompt posted in", prepare=in_coalition),
    "coalition prompts": Case(expect="No coalition prompts are scheduled."),
    "coalition prompt-cancel": Case({"id": 3}, expect="There is no coalition prompt #3."),
    "circles join": Case(
        expect="Join coalition circles", submit={"Your role": "Faculty"}, expect_submitted="You're in!"
    ),
    "circles pause": Case(expect="Paused until you /circles join again", prepare=in_circles),
    "circles leave": Case(expect="You left circles", prepare=in_circles),
    "circles status": Case(expect="You are "),
    "circles match": Case({"dry-run": "yes"}, expect="**Dry run** (seed"),
    "circles stats": Case(expect="**Circles:**"),
    "report new": Case({"text": "Someone was rude to me in #general"}, expect="Thank you. Your report is #"),
    "report reply": Case(
        {"text": "It happened again."},
        expect="Added to report #",
        organizer_expect="Sent privately to the reporter of #",
        prepare=report_by_ana,
    ),
    "report close": Case(expect="is closed; the reporter was told.", prepare=report_by_ana),
    "privacy export": Case(expect="Here is everything I hold about you."),
    "privacy delete": Case(expect="This erases what I hold about you"),
    "audit": Case(expect="Moderation log, newest first:", prepare=audit_entry),
}

REGISTRY = App.registry_for(load_config(ROOT / "config.toml"))


async def test_every_command_has_a_discord_case():
    missing = sorted(set(REGISTRY.commands) - set(CASES))
    stale = sorted(set(CASES) - set(REGISTRY.commands))
    assert not missing, f"commands without a Discord test; add them to CASES in {__file__}: {missing}"
    assert not stale, f"CASES names commands that no longer exist: {stale}"


@pytest.mark.parametrize("role", ["participant", "organizer"])
@pytest.mark.parametrize("name", list(REGISTRY.commands))
async def test_command_on_discord(discord_strict, name: str, role: str):
    world = discord_strict
    fake = world.fake
    case = CASES.get(name)
    if case is None:
        pytest.fail(f"/{name} has no Discord-level test: add a line for it to CASES in {__file__}")
    member = world.participant if role == "participant" else world.organizer
    command = REGISTRY.get(name)
    organizer_only = command.permission >= Permission.ORGANIZER
    # Discord hides a top-level command or a whole group, never one subcommand of a group.
    siblings = [c for c in REGISTRY.commands.values() if c.path[0] == command.path[0]]
    hidden = all(c.permission >= Permission.ORGANIZER for c in siblings)
    assert fake.can_see(member, name) == (role == "organizer" or not hidden)
    options = dict(case.options)
    if case.prepare is not None:
        options |= await case.prepare(world.app, fake)

    # A hidden command is run as if a server admin had granted it to everyone: the bot itself
    # must still refuse it.
    seen = await fake.slash(member, name, options, override_permissions=True)

    if organizer_only and role == "participant":
        assert f"Sorry, only organizers can use /{name}." in seen.text
        assert seen.ephemeral
        return
    expected = case.organizer_expect if role == "organizer" and case.organizer_expect else case.expect
    shown = seen.modal["title"] if seen.modal else seen.text
    assert expected in shown, f"/{name} as {role} showed: {shown!r}"
    if case.submit is not None:
        assert seen.modal is not None, f"/{name} opened no form; it said {seen.text!r}"
        done = await fill_in(fake, member, seen, case.submit)
        assert case.expect_submitted in done.text, done.text


async def fill_in(fake: FakeDiscord, member: dict, opened: Exchange, answers: dict[str, str]) -> Exchange:
    """Submit every modal of the form `opened` shows (a form of more than five fields is several
    modals joined by a Continue button), each with the answers to its own inputs; inputs not
    answered keep what they showed."""
    remaining = dict(answers)
    while True:
        inputs = [(c["label"], c["component"]["custom_id"]) for c in opened.modal["components"]]
        page = {key: remaining.pop(key) for key in list(remaining) if any(key in i for i in inputs)}
        done = await fake.submit_modal(member, opened, page)
        if not any(b.get("label") == "Continue" for b in done.buttons()):
            break
        opened = await fake.click(member, done.message_with("Continue"), "Continue")
    assert not remaining, f"the form never asked for {sorted(remaining)}"
    return done


async def test_help_lists_what_the_member_may_use(discord_strict):
    world = discord_strict
    participant_help = await world.fake.slash(world.participant, "help")
    organizer_help = await world.fake.slash(world.organizer, "help")
    for command in REGISTRY.commands.values():
        assert f"**/{command.name}**" in organizer_help.text
        listed = f"**/{command.name}**" in participant_help.text
        assert listed == (command.permission < Permission.ORGANIZER)


async def test_help_about_one_command(discord_strict):
    world = discord_strict
    seen = await world.fake.slash(world.participant, "help", {"command": "timezone"})
    assert seen.text.startswith("**/timezone <zone>**: Set the time zone")


async def test_timezone_autocomplete_comes_from_the_cog(discord_strict):
    world = discord_strict
    choices = await world.fake.autocomplete(world.participant, "timezone", "zone", "chicago")
    assert {"name": "America/Chicago", "value": "America/Chicago"} in choices
    everything = await world.fake.autocomplete(world.participant, "timezone", "zone", "")
    assert len(everything) == 25


async def test_a_mistyped_option_gets_a_specific_answer(discord_strict):
    world = discord_strict
    seen = await world.fake.slash(world.participant, "timezone", {"zone": "Mars/Olympus"})
    assert "I don't know the time zone 'Mars/Olympus'" in seen.text
    assert seen.ephemeral
