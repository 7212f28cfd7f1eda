"""The virtual event on Discord, with the real discord.py client against the fake server: /event
setup creating each place once (and repairing, and dry-running), the program's "starting soon"
posts and Q&A threads through the ledger (once each, across restarts and a crash mid-send), /ask
named and anonymous, and coalitions in the forum: join, leave, propose, approve, decline, a name
with emoji and names that collide with channels.

Each test gets its own fake server and bot (the clock only moves forward, and the ledger remembers
everything), with the event's cogs only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core.clock import Clock
from bot.core.model import Message, Platform
from bot.core.port import PlatformError
from bot.delivery import Occurrence, Target
from cogs.event import ActivityCog, CoalitionsCog, EventCog
from cogs.event.program import load_program
from cogs.general import GeneralCog
from storage import audit
from tests.adapters.conftest import DiscordWorld, discord_world
from tests.fakes.discord_server import (
    CATEGORY,
    CREATE_PUBLIC_THREADS,
    FORUM,
    PUBLIC_THREAD,
    SEND_MESSAGES,
    TEXT,
    FakeDiscord,
    StoredMessage,
)

COGS = [GeneralCog, EventCog, CoalitionsCog, ActivityCog]
OCT_12 = dt.datetime(2023, 10, 12, 12, 0, tzinfo=dt.UTC)  # the day before the conference
NO_PINGS = {"parse": []}  # AllowedMentions.none(), as discord.py sends it
AREA_CHANNELS = ["undergraduate-medical-education", "graduate-medical-education", "medical-education-and-the-community"]
PLANNED = ["lobby", "announcements", "help", *AREA_CHANNELS]  # text channels, in the plan's order
AREA_TAGS = ["Undergraduate medica", "Graduate medical edu", "Medical education an"]  # labels, 20 characters


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[DiscordWorld]:
    async with discord_world(tmp_path, COGS) as world:
        world.app.clock = Clock.frozen(OCT_12)
        yield world
        assert not world.fake.errors, [(c.method, c.path, c.error) for c in world.fake.errors]


def advance_to(world: DiscordWorld, when: dt.datetime) -> None:
    world.app.clock.advance(when - world.app.clock.now())


def channel_creates(fake: FakeDiscord) -> list:
    return [c for c in fake.calls if c.method == "POST" and c.path == f"/guilds/{fake.guild_id}/channels"]


def changes(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- ")]


async def set_up(world: DiscordWorld, **options: str) -> str:
    seen = await world.fake.slash(world.organizer, "event setup", options)
    assert seen.ephemeral
    return seen.text


def threads_in(fake: FakeDiscord, parent: dict) -> list[dict]:
    return [c for c in fake.channels.values() if c.get("parent_id") == parent["id"] and "thread_metadata" in c]


def bot_messages(fake: FakeDiscord, channel: dict | str) -> list[StoredMessage]:
    return [m for m in fake.messages_in(channel) if int(m.payload["author"]["id"]) == fake.app_id]


# -- /event setup ---------------------------------------------------------------------------------
async def test_setup_creates_each_planned_place_once_repairs_a_deletion_and_dry_runs(world):
    fake = world.fake
    # A server without the event's channels yet (the test server has #help and #announcements).
    for name in ("help", "announcements"):
        await fake.delete_channel(name)
    await fake._until(lambda: not [c for c in world.bot.get_all_channels() if c.name == "help"], 5, "#help gone")

    dry = await set_up(world, **{"dry-run": "yes"})
    assert dry.startswith("**Event setup (dry run: nothing changed)**\nDiscord:")
    assert changes(dry) == ["- would create category Challenging Norms"] + [
        f"- would create #{name}" for name in [*PLANNED, "coalitions"]
    ]
    assert channel_creates(fake) == []

    first = await set_up(world)
    assert changes(first) == ["- created category Challenging Norms"] + [
        f"- created #{name}" for name in [*PLANNED, "coalitions"]
    ]
    assert len(channel_creates(fake)) == 8
    category = fake.channel("Challenging Norms")
    assert category["type"] == CATEGORY
    for name in PLANNED:
        channel = fake.channel(name)
        assert channel["type"] == TEXT and channel["parent_id"] == category["id"], name
    assert fake.channel("lobby")["topic"] == "Welcome to Challenging Norms!"
    forum = fake.channel("coalitions")
    assert forum["type"] == FORUM and forum["parent_id"] == category["id"]
    assert [t["name"] for t in forum["available_tags"]] == AREA_TAGS

    second = await set_up(world)
    assert changes(second) == ["- kept category Challenging Norms"] + [f"- kept #{n}" for n in [*PLANNED, "coalitions"]]
    assert len(channel_creates(fake)) == 8  # nothing new

    await fake.delete_channel("graduate-medical-education")
    await fake._until(
        lambda: not [c for c in world.bot.get_all_channels() if c.name == "graduate-medical-education"], 5, "gone"
    )
    third = await set_up(world)
    assert "- repaired (it was deleted) #graduate-medical-education" in changes(third)
    assert [line for line in changes(third) if not line.startswith("- kept")] == [
        "- repaired (it was deleted) #graduate-medical-education"
    ]
    assert len(channel_creates(fake)) == 9
    assert fake.channel("graduate-medical-education")["parent_id"] == category["id"]

    refused = await fake.slash(world.participant, "event setup", override_permissions=True)
    assert refused.text.startswith("Sorry, only organizers can use /event setup.")

    archived = await fake.slash(world.organizer, "event archive")
    assert [f"- archived #{n}" for n in sorted([*PLANNED, "coalitions"])] == sorted(changes(archived.text))
    for name in [*PLANNED, "coalitions"]:  # read-only, never deleted
        everyone = {o["id"]: o for o in fake.channel(name)["permission_overwrites"]}[str(fake.guild_id)]
        assert int(everyone["deny"]) & SEND_MESSAGES and int(everyone["deny"]) & CREATE_PUBLIC_THREADS, name


async def test_setup_adopts_channels_the_server_already_has(world):
    fake = world.fake
    help_id = fake.channel("help")["id"]
    text = await set_up(world)
    assert "- adopted the existing #help" in changes(text) and "- adopted the existing #announcements" in changes(text)
    assert fake.channel("help")["id"] == help_id and len(channel_creates(fake)) == 6
    assert all(line.startswith("- kept") for line in changes(await set_up(world)))


async def test_a_deleted_category_is_recreated_with_the_channel(world):
    fake = world.fake
    await set_up(world)
    await fake.delete_channel("Challenging Norms")
    await fake.delete_channel("lobby")
    await fake._until(lambda: not [c for c in world.bot.get_all_channels() if c.name == "lobby"], 5, "gone")
    text = await set_up(world)
    assert "- repaired (it was deleted) #lobby" in changes(text), text
    assert fake.channels[int(fake.channel("lobby")["parent_id"])]["type"] == CATEGORY


# -- the program: one "starting soon" post and one Q&A thread per session -------------------------
async def test_each_session_gets_one_starting_post_and_one_thread_across_restarts(world):
    fake, app = world.fake, world.app
    await set_up(world)
    sessions = load_program(app.config)
    lead = dt.timedelta(minutes=app.config.event.lead_minutes)
    instants = sorted({s.start - lead for s in sessions} | {s.end for s in sessions})
    for index, when in enumerate(instants):
        advance_to(world, when)
        await world.app.deliveries.run_due()
        if index == len(instants) // 2:
            await world.restart()  # a new process in the middle of the first day
            assert (await world.app.deliveries.run_due()).sent == 0
        if index == 3:
            # A crash right after a send, before the ledger heard of it: the row is left mid-send.
            await world.app.db.execute(
                "UPDATE deliveries SET status = 'sending' WHERE what = 'session-start' AND occurrence = ?",
                (sessions[1].id,),
            )
            await world.restart()  # reconcile sends it again, with the same nonce
            await world.app.deliveries.run_due()
    await world.app.deliveries.run_due()

    labels = {a.id: a for a in app.config.areas}
    for session in sessions:
        name = "lobby" if session.area == "plenary" else AREA_CHANNELS[list(labels).index(session.area)]
        channel = fake.channel(name)
        mine = f"/ask {session.id} QUESTION."
        starting = [m for m in bot_messages(fake, channel) if m.content.startswith("🔔") and mine in m.content]
        assert len(starting) == 1, session.id
        assert starting[0].payload["nonce"] and starting[0].allowed_mentions == NO_PINGS
        [thread] = [t for t in threads_in(fake, channel) if t["name"] == f"Q&A: {session.title}"[:100]]
        assert thread["type"] == PUBLIC_THREAD
        texts = [m.content for m in bot_messages(fake, thread)]
        assert texts[0].startswith(f"Q&A for **{session.title}**")
        assert len([t for t in texts if t.startswith("Thank you for joining")]) == 1, session.id
    all_threads = [c for c in fake.channels.values() if c["name"].startswith("Q&A: ")]
    assert len(all_threads) == len(sessions)
    rows = await app.db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    assert {r["status"]: r["n"] for r in rows} == {"sent": 2 * len(sessions)}


# -- /ask -----------------------------------------------------------------------------------------
async def test_ask_named_and_anonymous_lands_in_the_sessions_thread(world):
    fake, app = world.fake, world.app
    ana, dana = world.participant, fake.member("dana")
    await set_up(world)
    early = await fake.slash(ana, "ask", {"session": "opening", "question": "Hi?"})
    assert "opens 10 minutes before it starts" in early.text and early.ephemeral
    opening = load_program(app.config)[0]
    advance_to(world, opening.start - dt.timedelta(minutes=9))
    await app.deliveries.run_due()
    thread = fake.channel(f"Q&A: {opening.title}")

    named = await fake.slash(ana, "ask", {"session": "opening", "question": "Where do I start?"})
    assert named.text == f"Posted in the Q&A thread of **{opening.title}**." and named.ephemeral
    assert bot_messages(fake, thread)[-1].content == "❓ **ana asks:** Where do I start?"

    choices = await fake.autocomplete(dana, "ask", "session", "keyn", {"question": "?"})
    assert choices == [{"name": opening.title, "value": "opening"}]
    hidden = await fake.slash(
        dana, "ask", {"session": "opening", "question": "Is it ok to be new?", "anonymous": "yes"}
    )
    assert hidden.ephemeral and "without your name" in hidden.text
    assert [b["label"] for b in hidden.buttons()] == ["Post anonymously", "Cancel"]
    with pytest.raises(PermissionError):  # only dana sees her confirmation
        await fake.click(ana, hidden.message_with("Post anonymously"), "Post anonymously")
    assert len(bot_messages(fake, thread)) == 2  # nothing posted before she confirms
    posted = await fake.click(dana, hidden.message_with("Post anonymously"), "Post anonymously")
    assert posted.text == f"Posted in the Q&A thread of **{opening.title}**." and posted.ephemeral
    anonymous = bot_messages(fake, thread)[-1]
    assert anonymous.content == "❓ **Anonymous question:** Is it ok to be new?"
    assert "dana" not in str(anonymous.payload).lower() and not anonymous.pinged
    again = await fake.click(dana, hidden.message_with("Post anonymously"), "Post anonymously")
    assert "already posted" in again.text

    cancelled = await fake.slash(dana, "ask", {"session": "opening", "question": "Never mind", "anonymous": "yes"})
    assert (await fake.click(dana, cancelled.message_with("Cancel"), "Cancel")).text == "Cancelled; nothing was posted."
    assert len(bot_messages(fake, thread)) == 3
    [entry] = [e for e in await audit.entries(app.db) if e["action"] == "anonymous question"]
    assert entry["actor_id"] == dana["user"]["id"]  # organizers can see who asked (/audit)


# -- coalitions -----------------------------------------------------------------------------------
async def test_coalitions_in_the_forum_join_leave_propose_approve_and_decline(world):
    fake = world.fake
    ana, dana, olu = world.participant, fake.member("dana"), world.organizer
    ana_id, dana_id = ana["user"]["id"], dana["user"]["id"]

    # Before /event setup there is no forum: a coalition gets a channel of its own. Someone already
    # made a channel of that name: it is left alone (Discord allows two channels of one name).
    theirs = await world.add_channel("coalition-pipeline-and-admissions")
    calls = len(fake.calls)
    joined = await fake.slash(ana, "coalition join", {"name": "Pipeline and admissions"})
    await world.app.idle()  # the welcome follows the reply
    assert joined.text.startswith("You joined **Pipeline and admissions**.")
    ours = [
        c for c in fake.channels.values() if c.get("name") == "coalition-pipeline-and-admissions" and c is not theirs
    ]
    assert len(ours) == 1 and fake.messages_in(theirs) == [] and theirs["permission_overwrites"] == []
    [let_in] = [o for o in ours[0]["permission_overwrites"] if o["id"] == ana_id]
    view_and_send = (1 << 10) | (1 << 11)
    assert let_in["type"] == 1 and int(let_in["allow"]) & view_and_send == view_and_send
    # Let in by id: no member fetched first (each would be one more request against the 50/s).
    assert not [c for c in fake.calls[calls:] if c.method == "GET" and "/members/" in c.path]
    assert [m.content.split("\n")[0] for m in bot_messages(fake, ours[0])] == [
        "**Pipeline and admissions**: Who gets in, who is supported to stay, and who is missing.",
        "👋 Welcome, ana, to **Pipeline and admissions**!",
    ]

    await set_up(world)
    forum = fake.channel("coalitions")
    first = await fake.slash(ana, "coalition join", {"name": "curriculum reform"})
    assert first.text.startswith("You joined **Curriculum reform**.") and first.ephemeral
    [thread] = threads_in(fake, forum)
    assert thread["name"] == "Curriculum reform"
    assert (await fake.slash(dana, "coalition join", {"name": "Curriculum reform"})).text.startswith("You joined")
    await world.app.idle()
    assert threads_in(fake, forum) == [thread]  # one space per coalition
    assert fake.thread_member_ids(thread) >= {ana_id, dana_id}
    texts = [m.content for m in bot_messages(fake, thread)]
    assert texts[0].startswith("**Curriculum reform**: Rewriting what and how we teach")
    assert [t.split("\n")[0] for t in texts[1:]] == [
        "👋 Welcome, ana, to **Curriculum reform**!",
        "👋 Welcome, dana, to **Curriculum reform**!",
    ]
    assert (await fake.slash(ana, "coalition join", {"name": "Curriculum reform"})).text.startswith("You're already in")
    listing = await fake.slash(dana, "coalition list")
    assert (
        "**Curriculum reform**: Rewriting what and how we teach" in listing.text
        and "(2 members) (you're in)" in listing.text
    )
    left = await fake.slash(ana, "coalition leave", {"name": "Curriculum reform"})
    assert left.text == "You left **Curriculum reform**."
    assert ana_id not in fake.thread_member_ids(thread) and dana_id in fake.thread_member_ids(thread)
    members = await fake.slash(dana, "coalition members", {"name": "Curriculum reform"})
    assert members.text == "**Curriculum reform** (1): dana (discord)"
    outsider = await fake.slash(ana, "coalition members", {"name": "Curriculum reform"})
    assert outsider.text.startswith("**Curriculum reform** has 1 members.")

    # A proposal with emoji, approved; it becomes a forum post with its emoji.
    proposed = await fake.slash(
        dana, "coalition propose", {"name": "🌱 Green Med Ed", "description": "Climate and health"}
    )
    assert "is with the organizers" in proposed.text
    [notice] = [m for m in bot_messages(fake, "organizers") if "Coalition proposed" in m.content]
    assert notice.content == "**Coalition proposed** by dana (discord): **🌱 Green Med Ed**: Climate and health"
    assert [b["label"] for b in notice.components()] == ["Approve", "Decline"]
    refused = await fake.click(ana, notice, "Approve")
    assert refused.text.startswith("Sorry, only organizers can use that button.")
    approved = await fake.click(olu, notice, "Approve")
    assert approved.text == "**🌱 Green Med Ed** is open." and not approved.ephemeral
    assert (await fake.click(olu, notice, "Approve")).text == "**🌱 Green Med Ed** was already decided (active)."
    [verdict] = [m.content for m in fake.messages_in(fake.channel_dm(dana)) if "🌱" in m.content]
    assert verdict == "Your coalition **🌱 Green Med Ed** was approved: /coalition join 🌱 Green Med Ed"
    choices = await fake.autocomplete(dana, "coalition join", "name", "green")
    assert choices == [{"name": "🌱 Green Med Ed", "value": "🌱 Green Med Ed"}]
    await fake.slash(dana, "coalition join", {"name": "🌱 Green Med Ed"})
    assert "🌱 Green Med Ed" in [t["name"] for t in threads_in(fake, forum)]

    # A coalition named like an existing channel: its forum post is not the channel.
    general_before = len(fake.messages_in("general"))
    await fake.slash(ana, "coalition propose", {"name": "General", "description": "Everything else"})
    [notice] = [m for m in bot_messages(fake, "organizers") if "**General**" in m.content]
    await fake.click(olu, notice, "Approve")
    await fake.slash(ana, "coalition join", {"name": "general"})
    await world.app.idle()
    [general_thread] = [t for t in threads_in(fake, forum) if t["name"] == "General"]
    assert "👋 Welcome, ana, to **General**!" in bot_messages(fake, general_thread)[-1].content
    assert len(fake.messages_in("general")) == general_before  # only replies to the commands, none new
    found = await world.bot.port.find_channel("general")
    assert found.channel_id == fake.channel("general")["id"] and found.kind.value == "channel"

    # A declined proposal: the proposer hears so, and it cannot be joined.
    await fake.slash(ana, "coalition propose", {"name": "Night shift wellbeing", "description": "Rest"})
    [notice] = [m for m in bot_messages(fake, "organizers") if "Night shift wellbeing" in m.content]
    declined = await fake.click(olu, notice, "Decline")
    assert declined.text == "**Night shift wellbeing** is declined."
    assert "decided not to open **Night shift wellbeing**" in fake.messages_in(fake.channel_dm(ana))[-1].content
    nope = await fake.slash(ana, "coalition join", {"name": "Night shift wellbeing"})
    assert nope.text.startswith("There is no coalition 'Night shift wellbeing'.")

    prompt = await fake.slash(olu, "coalition prompt", {"text": "What is one step for next week?"})
    assert prompt.text == "Prompt posted in 4 coalition space(s)."
    assert (
        bot_messages(fake, thread)[-1].content == "💬 **Prompt from the organizers:** What is one step for next week?"
    )
    assert bot_messages(fake, ours[0])[-1].content.startswith("💬 **Prompt from the organizers:**")


async def test_joining_or_leaving_a_coalition_whose_thread_went_quiet_reopens_it(world):
    """An inactive week archives a forum post; Discord adds or removes nobody in an archived thread."""
    fake = world.fake
    await set_up(world)
    await fake.slash(world.participant, "coalition join", {"name": "Residency culture"})
    thread = fake.channel("Residency culture")
    thread["thread_metadata"]["archived"] = True
    await fake.dispatch("THREAD_UPDATE", thread)
    await fake._until(lambda: world.bot.get_channel(int(thread["id"])) is None, 5, "the bot to drop it")
    joined = await fake.slash("dana", "coalition join", {"name": "Residency culture"})
    assert joined.text.startswith("You joined **Residency culture**.")
    assert fake.member("dana")["user"]["id"] in fake.thread_member_ids(thread)
    assert not thread["thread_metadata"]["archived"]

    thread["thread_metadata"]["archived"] = True  # another quiet week
    await fake.dispatch("THREAD_UPDATE", thread)
    await fake._until(lambda: world.bot.get_channel(int(thread["id"])) is None, 5, "the bot to drop it")
    left = await fake.slash(world.participant, "coalition leave", {"name": "Residency culture"})
    assert left.text == "You left **Residency culture**."
    assert world.participant["user"]["id"] not in fake.thread_member_ids(thread)


async def test_joining_a_coalition_whose_forum_post_was_deleted_makes_a_new_one(world):
    fake = world.fake
    await set_up(world)
    await fake.slash(world.participant, "coalition join", {"name": "Residency culture"})
    await fake.delete_channel("Residency culture")  # a moderator deleted the forum post
    await fake._until(lambda: all(t.name != "Residency culture" for t in world.bot.port.guild.threads), 5, "gone")
    fake.errors.clear()
    joined = await fake.slash("dana", "coalition join", {"name": "Residency culture"})
    try:
        assert joined.text.startswith("You joined **Residency culture**."), joined.text
        thread = fake.channel("Residency culture")
        assert fake.member("dana")["user"]["id"] in fake.thread_member_ids(thread)
    finally:
        fake.errors.clear()  # the failing join's 404


async def test_two_prompts_in_the_same_second_are_both_posted(world):
    fake, olu = world.fake, world.organizer
    await set_up(world)
    await fake.slash(world.participant, "coalition join", {"name": "Residency culture"})
    first = await fake.slash(olu, "coalition prompt", {"text": "What is one step for next week?"})
    assert first.text == "Prompt posted in 1 coalition space(s)."
    second = await fake.slash(olu, "coalition prompt", {"text": "Who else should be here?"})
    assert second.text == "Prompt posted in 1 coalition space(s)."


async def test_the_coalitions_forum_keeps_discords_forum_rules(world):
    fake, port = world.fake, world.bot.port
    tags = (*(f"Area number {n:02d} with a long label" for n in range(25)), "Area number 00 with x")
    forum = await port.create_forum("many-areas", tags=tags)  # trimmed to 20 distinct tags of 20 characters
    stored = fake.channel(forum.channel_id)
    assert [t["name"] for t in stored["available_tags"]] == [f"Area number {n:02d} with" for n in range(20)]
    with pytest.raises(PlatformError, match="takes no messages of its own"):
        await port.post(forum, Message("Hello"))
    post = await port.create_thread(forum, "A first post", Message("Posts are threads."))
    assert [m.content for m in fake.messages_in(post.thread_id)] == ["Posts are threads."]

    headers = {"Authorization": f"Bot {fake.token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def refused(path: str, body: dict) -> tuple[int, int]:
            async with http.post(fake.api_url + path, data=json.dumps(body)) as response:
                return response.status, (await response.json())["code"]

        channels = f"/guilds/{fake.guild_id}/channels"
        too_many = [{"name": f"t{n}"} for n in range(21)]
        assert await refused(channels, {"name": "f", "type": FORUM, "available_tags": too_many}) == (400, 50035)
        too_long = [{"name": "x" * 21}]
        assert await refused(channels, {"name": "f", "type": FORUM, "available_tags": too_long}) == (400, 50035)
        assert await refused(f"/channels/{forum.channel_id}/messages", {"content": "hi"}) == (400, 40058)
        assert await refused(f"/channels/{forum.channel_id}/threads", {"name": "no message"}) == (400, 50035)
    fake.errors.clear()  # all expected


async def test_a_scheduled_prompt_reaches_every_coalition_post_once(world):
    fake, olu = world.fake, world.organizer
    await set_up(world)
    await fake.slash(world.participant, "coalition join", {"name": "Residency culture"})
    await fake.slash(world.participant, "coalition join", {"name": "Curriculum reform"})
    text = "What is one step for next week?"
    planned = await fake.slash(olu, "coalition prompt", {"text": text, "at": "2023-10-14T16:30-04:00"})
    assert planned.text == (
        "Prompt #1 will be posted in every coalition's space at <t:1697315400:F>. "
        "/coalition prompts lists what is planned; /coalition prompt-cancel 1 stops it."
    )
    assert (await fake.slash(olu, "coalition prompts", {})).text.startswith("Scheduled coalition prompts:\n- **#1**")
    assert "only organizers" in (await fake.slash(world.participant, "coalition prompts", {})).text
    assert "only organizers" in (await fake.slash(world.participant, "coalition prompt-cancel", {"id": 1})).text

    def prompts(name: str) -> list[str]:
        return [m.content for m in bot_messages(fake, name) if m.content.startswith("💬")]

    advance_to(world, dt.datetime(2023, 10, 14, 20, 29, tzinfo=dt.UTC))
    await world.app.deliveries.run_due()
    assert prompts("Residency culture") == prompts("Curriculum reform") == []
    advance_to(world, dt.datetime(2023, 10, 14, 20, 31, tzinfo=dt.UTC))
    await world.app.deliveries.run_due()
    await world.restart()
    await world.app.deliveries.run_due()
    expected = [f"💬 **Prompt from the organizers:** {text}"]
    assert prompts("Residency culture") == prompts("Curriculum reform") == expected


async def test_a_burst_of_joins_during_a_fan_out_stays_under_discords_global_limit(world, monkeypatch):
    """60 people join at once (each join adds them to the coalition's thread and posts a welcome)
    while the ledger DMs 20 others: every request waits its turn at the App's one Discord gate, so
    the fake, which enforces 50 requests/s, answers none with a 429."""
    fake, app = world.fake, world.app
    await set_up(world)
    await app.idle()
    joiners = [fake.add_member(f"joiner{n:02d}") for n in range(60)]
    people = [Target("discord", "user", fake.add_member(f"reader{n:02d}")["user"]["id"]) for n in range(20)]
    names = [c.name for c in app.config.event.coalitions]

    async def everyone() -> list[Target]:
        return people

    async def hello(target: Target, late: bool) -> Message:
        return Message("The program is out.")

    fan_out = Occurrence("test", "burst", app.clock.now(), "a test", "people", everyone, hello)
    gate = app.rate_limits[Platform.DISCORD]
    booked: list[int] = []
    wait = gate.wait

    async def counted(cost: int = 1) -> None:
        booked.append(cost)
        await wait(cost)

    monkeypatch.setattr(gate, "wait", counted)
    before = len(fake.calls)

    report, *seen = await asyncio.gather(
        app.deliveries.run_occurrence(fan_out),
        *(fake.slash(m, "coalition join", {"name": names[n % len(names)]}) for n, m in enumerate(joiners)),
    )

    assert report.sent == 20 and all(s.text.startswith("You joined") for s in seen)
    await app.idle()  # the welcomes follow the replies
    calls = fake.calls[before:]
    assert [c for c in calls if c.status == 429] == []
    welcomes = [m for name in names for m in bot_messages(fake, name) if m.content.startswith("👋 Welcome, joiner")]
    greeted = [who for m in welcomes for who in re.findall(r"joiner\d\d", m.content.split("\n")[0])]
    assert sorted(greeted) == [f"joiner{n:02d}" for n in range(60)]  # everyone, once
    assert len(welcomes) < 60  # those who joined while a welcome was on its way were greeted together
    # Each request counted against the limit was booked once, ledger sends included; interaction
    # callbacks and followups (exempt on Discord) were not booked at all.
    limited = [c for c in calls if not c.path.startswith(("/interactions/", "/webhooks/"))]
    assert len(booked) == len(limited) >= 60 + len(welcomes) + 20 * 2


async def test_the_summary_counts_who_talked_in_area_channels_and_coalitions(world):
    fake = world.fake
    await set_up(world)
    await fake.slash(world.participant, "coalition join", {"name": "Residency culture"})
    await fake.say(world.participant, "undergraduate-medical-education", "Thanks, all!")  # no content intent:
    await fake.say("dana", "undergraduate-medical-education", "Same here")  # counted all the same
    await fake.say(world.participant, "Residency culture", "Hello, coalition")  # its forum post
    await fake.say("dana", "help", "Where is the link?")  # not an area channel

    async def counted() -> int:
        rows = await world.app.db.fetchall("SELECT messages FROM event_activity")
        return sum(r["messages"] for r in rows)

    for _ in range(100):  # the bot handles gateway messages on its own time
        if await counted() >= 3:
            break
        await asyncio.sleep(0.02)
    summary = (await fake.slash(world.organizer, "event summary", {})).text
    assert "- Undergraduate medical education: 2 people, 2 messages, 0 questions" in summary
    assert "- Residency culture: 1 member, 1 message from 1 person" in summary
    assert "- Curriculum reform: 0 members, 0 messages from 0 people" in summary
    assert await counted() == 3


async def test_a_category_created_just_before_a_crash_is_finished_not_made_twice(world):
    """/event setup noted the category, Discord made it, and the bot died before recording it."""
    from cogs.event import places

    fake = world.fake
    item = next(p for p in places.plan(world.app.config, "discord") if p.kind == "category")
    await places.intend(world.app.db, "discord", item, world.app.clock.now())
    category = fake.add_channel(item.name, type=CATEGORY)
    await fake.dispatch("CHANNEL_CREATE", category)
    await fake._until(lambda: any(c.name == item.name for c in world.bot.port.guild.categories), 5, "the category")
    setup = await set_up(world)
    assert "- created category Challenging Norms (finished after an interruption)" in changes(setup)
    assert [c["id"] for c in fake.channels.values() if c.get("name") == item.name] == [category["id"]]
    assert fake.channel("lobby")["parent_id"] == category["id"]
