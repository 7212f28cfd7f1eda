"""The virtual event: program and calendar, idempotent setup, session threads, questions, coalitions."""

import dataclasses
import datetime as dt

import icalendar
import pytest

from bot.core.model import Platform
from cogs.event.places import channel_name
from cogs.event.program import ProgramError, load_program
from storage import audit
from tests.cogs.test_reminders import world  # noqa: F401  (fixture)
from tests.conftest import console_actor

OLU = console_actor("olu", organizer=True)


def slack_person(name):
    return dataclasses.replace(console_actor(name), platform=Platform.SLACK)


def test_the_ics_has_every_session_at_its_utc_instant(config):
    from cogs.event.program import calendar

    sessions = load_program(config)
    assert len(sessions) >= 8
    parsed = icalendar.Calendar.from_ical(calendar(sessions, config))
    events = parsed.walk("VEVENT")
    assert len(events) == len(sessions)
    by_uid = {str(e["uid"]).split("@")[0]: e for e in events}
    opening = by_uid["opening"]
    assert opening.decoded("dtstart") == dt.datetime(2023, 10, 13, 13, 0, tzinfo=dt.UTC)
    assert opening.decoded("dtend") == dt.datetime(2023, 10, 13, 13, 45, tzinfo=dt.UTC)
    for session in sessions:
        assert by_uid[session.id].decoded("dtstart") == session.start.astimezone(dt.UTC)


def test_the_default_program_covers_both_days_every_area_and_every_form(config):
    sessions = load_program(config)
    assert {s.start.date() for s in sessions} == {dt.date(2023, 10, 13), dt.date(2023, 10, 14)}
    assert {a.id for a in config.areas} <= {s.area for s in sessions}
    kinds = {s.kind.lower() for s in sessions}
    assert {"poster session", "personal narratives", "workshop", "fireside chat"} <= kinds


def test_program_problems_are_named(config, tmp_path):
    bad = tmp_path / "program.toml"
    bad.write_text(
        '[[sessions]]\nid = "x"\ntitle = "X"\narea = "mars"\nstart = 2023-10-13T09:00:00\n'
        "end = 2023-10-13T08:00:00-04:00\n"
    )
    broken = config.model_copy(update={"event": config.event.model_copy(update={"program": bad})})
    with pytest.raises(ProgramError) as caught:
        load_program(broken)
    assert "area 'mars' is not one of" in str(caught.value)
    assert "start needs a date, time and UTC offset" in str(caught.value)


async def test_program_views_in_the_readers_zone(world):  # noqa: F811
    app, lobby = world.app, None
    from bot.core.model import Place

    lobby = Place(Platform.CONSOLE, "C1", name="lobby")
    ana = console_actor("ana")
    world.clock.advance(dt.datetime(2023, 10, 13, 12, tzinfo=dt.UTC) - world.clock.now())
    today = await app.dispatcher.run_command("program show", {"which": "today"}, ana, lobby)
    assert "Opening keynote" in today.text and "house staff voices" not in today.text
    assert "<t:1697202000:t>–<t:1697204700:t>" in today.text
    tomorrow = await app.dispatcher.run_command("program show", {"which": "tomorrow"}, ana, lobby)
    assert "house staff voices" in tomorrow.text and "Opening keynote" not in tomorrow.text
    gme = await app.dispatcher.run_command("program show", {"which": "gme"}, ana, lobby)
    assert "equitable evaluation" in gme.text and "deans on changing" not in gme.text
    assert "Opening keynote" in gme.text  # plenaries are for everyone
    unknown = await app.dispatcher.run_command("program show", {"which": "dentistry"}, ana, lobby)
    assert "I don't know the area 'dentistry'" in unknown.text
    ics = await app.dispatcher.run_command("program ics", {"area": "community"}, ana, lobby)
    assert ics.files[0].name == "challenging-norms-community.ics"


async def test_setup_creates_once_repairs_deletions_and_dry_runs(world):  # noqa: F811
    from bot.core.model import Place

    app, lobby = world.app, Place(Platform.CONSOLE, "C1", name="lobby")
    dry = await app.dispatcher.run_command("event setup", {"dry-run": "yes"}, OLU, lobby)
    assert "would create #undergraduate-medical-education" in dry.text
    assert "would adopt the existing #announcements" in dry.text
    assert world.slack.created == [] and world.discord.created == []
    first = await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    assert "- created #lobby" in first.text and "- created category Challenging Norms" in first.text
    discord_created = list(world.discord.created)
    assert ("channel", "coalitions") in discord_created  # no forum support on this port: a channel
    assert ("channel", "coalitions") not in world.slack.created
    second = await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    changes = [line for line in second.text.splitlines() if line.startswith("- ")]
    assert len(changes) == 14 and all(line.startswith("- kept") for line in changes)  # 8 Discord, 6 Slack
    world.slack.delete("graduate-medical-education")
    third = await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    assert "- repaired (it was deleted) #graduate-medical-education" in third.text
    assert world.slack.created.count(("channel", "graduate-medical-education")) == 2
    archived = await app.dispatcher.run_command("event archive", {}, OLU, lobby)
    assert "archived #lobby" in archived.text and len(world.slack.archived) == 4
    assert "left #help open: it existed before the event setup" in archived.text
    participant = console_actor("ana")
    for name in ("event setup", "event archive", "event summary"):
        assert "only organizers" in (await app.dispatcher.run_command(name, {}, participant, lobby)).text


async def test_each_session_gets_one_starting_post_and_one_thread_per_platform(world):  # noqa: F811
    from bot.core.model import Place

    app = world.app
    await app.dispatcher.run_command("event setup", {}, OLU, Place(Platform.CONSOLE, "C1"))
    sessions = load_program(app.config)
    for index, session in enumerate(sessions):
        await world.at(session.start - dt.timedelta(minutes=10))
        if index == 4:
            await world.restart()
            await world.app.deliveries.run_due()
        await world.at(session.end)
    for port in (world.discord, world.slack):
        starting = [m.text for kind, _, m in port.sent if kind == "channel" and "🔔" in m.text]
        assert len(starting) == len(sessions)
        assert len(port.threads) == len(sessions)
        closing = [m.text for kind, _, m in port.sent if kind == "thread" and m.text.startswith("Thank you")]
        assert len(closing) == len(sessions)
    lobby_posts = [
        m.text for kind, t, m in world.slack.sent if kind == "channel" and world.slack.channels[t] == "lobby"
    ]
    assert any("Opening keynote" in t for t in lobby_posts)


async def test_questions_in_session_threads_and_anonymity(world):  # noqa: F811
    from bot.core.model import Place

    app = world.app
    lobby = Place(Platform.SLACK, "S1")
    ana = slack_person("ana")
    await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    early = await app.dispatcher.run_command("ask", {"session": "opening", "question": "Hi?"}, ana, lobby)
    assert "opens 10 minutes before it starts" in early.text
    await world.at(dt.datetime(2023, 10, 13, 12, 51, tzinfo=dt.UTC))
    named = await app.dispatcher.run_command("ask", {"session": "opening", "question": "Where do I start?"}, ana, lobby)
    assert "Posted in the Q&A thread" in named.text
    hidden = await app.dispatcher.run_command(
        "ask",
        {
            "session": "Opening keynote: Challenging norms together",
            "question": "Is it ok to be new?",
            "anonymous": "yes",
        },
        ana,
        lobby,
    )
    assert "without your name" in hidden.text and "moderation log" in hidden.text
    assert "not yours" in (await app.dispatcher.click(hidden.buttons[0].id, slack_person("ben"), lobby)).text
    await app.dispatcher.click(hidden.buttons[0].id, ana, lobby)
    thread_posts = [m.text for kind, _, m in world.slack.sent if kind == "thread"]
    assert "❓ **Ana asks:** Where do I start?" in thread_posts
    assert "❓ **Anonymous question:** Is it ok to be new?" in thread_posts
    assert not any("Ana" in t for t in thread_posts if "Anonymous" in t)
    (entry,) = [e for e in await audit.entries(app.db) if e["action"] == "anonymous question"]
    assert entry["action"] == "anonymous question" and entry["actor_id"] == "ana"
    again = await app.dispatcher.click(hidden.buttons[0].id, ana, lobby)
    assert "already posted" in again.text


async def test_coalitions_join_leave_members_propose_approve(world):  # noqa: F811
    from bot.core.model import Place

    app = world.app
    lobby = Place(Platform.SLACK, "S1")
    ana, ben = slack_person("ana"), slack_person("ben")
    world.slack.channels["S999"] = "coalition-curriculum-reform"  # someone made this channel already
    joined = await app.dispatcher.run_command("coalition join", {"name": "curriculum reform"}, ana, lobby)
    assert "You joined **Curriculum reform**" in joined.text
    assert ("channel", "coalition-curriculum-reform") in world.slack.created
    await app.idle()  # the welcome follows the reply
    welcome = [m.text for _, _, m in world.slack.sent if "Welcome, Ana" in m.text]
    assert len(welcome) == 1 and "To start:" in welcome[0]
    again = await app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, ana, lobby)
    assert "already in" in again.text
    outsider = await app.dispatcher.run_command("coalition members", {"name": "Curriculum reform"}, ben, lobby)
    assert "has 1 members" in outsider.text and "Ana" not in outsider.text
    inside = await app.dispatcher.run_command("coalition members", {"name": "Curriculum reform"}, ana, lobby)
    assert "Ana (slack)" in inside.text
    listing = await app.dispatcher.run_command("coalition list", {}, ana, lobby)
    assert "(1 members) (you're in)" in listing.text
    left = await app.dispatcher.run_command("coalition leave", {"name": "Curriculum reform"}, ana, lobby)
    assert "You left" in left.text

    emoji_only = await app.dispatcher.run_command("coalition propose", {"name": "🌱🌍", "description": "x"}, ben, lobby)
    assert "needs some letters or digits" in emoji_only.text
    proposed = await app.dispatcher.run_command(
        "coalition propose",
        {"name": "🌱 Green Med Ed", "description": "Climate and health equity"},
        ben,
        lobby,
    )
    assert "is with the organizers" in proposed.text
    notice = [m for kind, t, m in world.slack.sent if "Coalition proposed" in m.text]
    assert notice and [b.label for b in notice[0].buttons] == ["Approve", "Decline"]
    duplicate = await app.dispatcher.run_command(
        "coalition propose", {"name": "green med ed", "description": "again"}, ana, lobby
    )
    assert "already exists (proposed)" in duplicate.text
    assert "only organizers" in (await app.dispatcher.click(notice[0].buttons[0].id, ana, lobby)).text
    approved = await app.dispatcher.click(notice[0].buttons[0].id, OLU, lobby)
    assert "🌱 Green Med Ed** is open" in approved.text
    assert any("was approved" in m.text for kind, t, m in world.slack.sent if kind == "user" and t == "ben")
    joined = await app.dispatcher.run_command("coalition join", {"name": "🌱 Green Med Ed"}, ben, lobby)
    assert "You joined" in joined.text and ("channel", "coalition-green-med-ed") in world.slack.created
    prompt = await app.dispatcher.run_command("coalition prompt", {"text": "What next?"}, OLU, lobby)
    assert "Prompt posted in 2 coalition space(s)" in prompt.text


def test_channel_names_fit_both_platforms():
    assert channel_name("Medical education and the community") == "medical-education-and-the-community"
    assert channel_name("🌱 Équité & Santé!") == "equite-sante"
    assert channel_name("🌱") == "channel"
    assert len(channel_name("x" * 200)) == 80


async def test_each_new_event_channel_opens_with_a_welcome_and_how_to_report(world):  # noqa: F811
    from bot.core.model import Place

    conduct = "https://example.org/conduct"
    event = world.app.config.event.model_copy(update={"code_of_conduct": conduct})
    world.app.config = world.app.config.model_copy(update={"event": event})
    await world.app.dispatcher.run_command("event setup", {}, OLU, Place(Platform.CONSOLE, "C1"))
    welcomes = [(t, m.text) for kind, t, m in world.slack.sent if m.text.startswith("👋 Welcome")]
    assert len(welcomes) == 4  # lobby and the three areas; #announcements and #help already existed
    assert all(f"[code of conduct]({conduct})" in text and "/report" in text for _, text in welcomes)


async def test_prompts_are_scheduled_listed_cancelled_and_posted_once(world):  # noqa: F811
    from bot.core.model import Place

    app, lobby = world.app, Place(Platform.SLACK, "S1")
    ana, dev = slack_person("ana"), console_actor("dev")
    dev = dataclasses.replace(dev, platform=Platform.DISCORD)
    await app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, ana, lobby)
    await app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, dev, lobby)
    at = dt.datetime(2023, 10, 14, 20, 30, tzinfo=dt.UTC)
    past = await app.dispatcher.run_command(
        "coalition prompt", {"text": "Too late", "at": "2023-04-01T10:00"}, OLU, lobby
    )
    assert "has passed: choose a later time" in past.text
    refused = await app.dispatcher.run_command("coalition prompt", {"text": "x", "at": at.isoformat()}, ana, lobby)
    assert "only organizers" in refused.text

    planned = await app.dispatcher.run_command(
        "coalition prompt", {"text": "What will you change by spring?", "at": at.isoformat()}, OLU, lobby
    )
    assert f"Prompt #1 will be posted in every coalition's space at <t:{int(at.timestamp())}:F>" in planned.text
    other = await app.dispatcher.run_command(
        "coalition prompt", {"text": "Never mind this one", "at": at.isoformat()}, OLU, lobby
    )
    assert "Prompt #2 will be posted" in other.text
    listing = await app.dispatcher.run_command("coalition prompts", {}, OLU, lobby)
    assert "**#1**" in listing.text and "“What will you change by spring?”" in listing.text and "**#2**" in listing.text
    cancelled = await app.dispatcher.run_command("coalition prompt-cancel", {"id": 2}, OLU, lobby)
    assert cancelled.text == "Prompt #2 is cancelled; it will not be posted."
    again = await app.dispatcher.run_command("coalition prompt-cancel", {"id": 2}, OLU, lobby)
    assert "already cancelled" in again.text
    assert "#2" not in (await app.dispatcher.run_command("coalition prompts", {}, OLU, lobby)).text
    assert any(e["action"] == "coalition prompt cancelled" for e in await audit.entries(app.db))

    def prompts(port):
        return [m.text for _, _, m in port.sent if m.text.startswith("💬")]

    await world.at(at - dt.timedelta(seconds=1))
    assert prompts(world.slack) == [] and prompts(world.discord) == []
    await world.at(at)
    assert (
        prompts(world.slack)
        == prompts(world.discord)
        == ["💬 **Prompt from the organizers:** What will you change by spring?"]
    )
    await world.restart()
    await world.app.deliveries.run_due()
    assert len(prompts(world.slack)) == len(prompts(world.discord)) == 1
    done = await world.app.dispatcher.run_command("coalition prompt-cancel", {"id": 1}, OLU, lobby)
    assert "already posted" in done.text


async def test_summary_counts_attendance_per_area_channel_and_coalition_messages(world):  # noqa: F811
    from bot.core.model import Place, PlaceKind

    app = world.app
    await app.dispatcher.run_command("event setup", {}, OLU, Place(Platform.CONSOLE, "C1"))
    ume = next(i for i, n in world.slack.channels.items() if n == "undergraduate-medical-education")
    ana, ben = slack_person("ana"), slack_person("ben")
    await app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, ana, Place(Platform.SLACK, ume))
    coalition = next(i for i, n in world.slack.channels.items() if n == "coalition-curriculum-reform")

    async def say(person, place):
        await app.dispatcher.message("a message", person, place)

    await say(ana, Place(Platform.SLACK, ume))
    await say(ana, Place(Platform.SLACK, ume, PlaceKind.THREAD, "1697200000.000100"))  # a session thread
    await say(ben, Place(Platform.SLACK, ume))
    await say(ana, Place(Platform.SLACK, coalition))
    await say(ana, Place(Platform.SLACK, coalition, PlaceKind.THREAD, "1697200000.000200"))
    await say(ben, Place(Platform.SLACK, "D-ben", PlaceKind.DM))  # private: not counted
    await say(ben, Place(Platform.SLACK, "S2"))  # #organizers is not an event channel
    summary = await app.dispatcher.run_command("event summary", {}, OLU, Place(Platform.CONSOLE, "C1"))
    assert "- Undergraduate medical education: 2 people, 3 messages, 0 questions" in summary.text
    assert "- Graduate medical education: 0 people, 0 messages, 0 questions" in summary.text
    assert "- Curriculum reform: 1 member, 2 messages from 1 person" in summary.text
    assert "- Residency culture: 0 members, 0 messages from 0 people" in summary.text
    rows = summary.files[0].content.decode().splitlines()
    assert rows[0] == "kind,id,name,people,members,messages,questions"
    assert "channel,ume,Undergraduate medical education,2,,3,0" in rows
    assert any(r.startswith("coalition,") and r.endswith(",Curriculum reform,1,1,2,") for r in rows)


async def test_people_joining_at_once_are_welcomed_together(world):  # noqa: F811
    import asyncio

    from bot.core.model import Place

    app, lobby = world.app, Place(Platform.SLACK, "S1")
    await app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, slack_person("ana"), lobby)
    await app.idle()
    slow_post, gate = world.slack.post, asyncio.Event()

    async def post_slowly(place, message):  # a channel taking about a message a second
        await gate.wait()
        return await slow_post(place, message)

    world.slack.post = post_slowly
    joins = [
        asyncio.create_task(
            app.dispatcher.run_command("coalition join", {"name": "Curriculum reform"}, slack_person(n), lobby)
        )
        for n in ("ben", "cy", "di")
    ]
    done, _ = await asyncio.wait(joins, timeout=0.5)
    assert done == set(joins)  # nobody's reply waits for a welcome (ben's is being posted, slowly)
    assert all(r.result().text.startswith("You joined **Curriculum reform**") for r in joins)
    gate.set()
    await app.idle()
    welcomes = [m.text.split("\n")[0] for _, _, m in world.slack.sent if m.text.startswith("👋 Welcome")]
    assert welcomes == [
        "👋 Welcome, Ana, to **Curriculum reform**!",
        "👋 Welcome, Ben, to **Curriculum reform**!",
        "👋 Welcome, Cy and Di, to **Curriculum reform**!",
    ]
