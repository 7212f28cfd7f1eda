"""The virtual event on Slack, through the served app and the fake Web API: /event setup (created once,
repaired, archived channels explained, dry run), the program's "starting soon" posts and Q&A threads
(a parent message and replies with thread_ts) as the app clock moves through both days, across
restarts and a crash, /ask (named and anonymous), and topic coalitions with their channels.

The app clock stands still (tests move it); the port's per-channel pacing and the fake's channel rate
are off, so the module stays fast (see test_slack_delivery for pacing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from bot.adapters.slack_port import Pacer
from bot.adapters.slack_text import escape
from bot.config import Config
from bot.core.clock import Clock
from cogs.event.program import PLENARY, Session, load_program
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import (
    GROUP_ORGANIZER,
    ORGANIZER,
    PARTICIPANT,
    Harness,
    Sent,
    start_harness,
    stop_harness,
    visible_text,
)
from tests.adapters.test_slack_proposals import buttons_of
from tests.fakes.slack_server import Call, FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack

EVE = dt.datetime(2023, 10, 12, 16, 0, tzinfo=dt.UTC)  # the afternoon before the conference
LEAD = dt.timedelta(minutes=10)  # config.event.lead_minutes
OTHER = "UBEN00001"
AREA_CHANNELS = {
    PLENARY: "lobby",
    "ume": "undergraduate-medical-education",
    "gme": "graduate-medical-education",
    "community": "medical-education-and-the-community",
}
CREATED = ["lobby", "announcements", *list(AREA_CHANNELS.values())[1:]]  # #help exists already


@dataclass
class World:
    """The fake Slack and the app + adapter served on it; `restart()` brings up a new app and adapter
    on the same database and the same fake, as after a crash or a deploy."""

    fake: FakeSlack
    config: Config
    clock: Clock
    db_path: Any
    slack: Harness | None = None

    async def start(self) -> Harness:
        self.slack = await start_harness(self.fake, self.config, self.clock, self.db_path, None, Pacer(interval=0.0))
        await self.slack.app.start_timer()  # as the runtime does: reconcile, deliver what is due
        return self.slack

    async def restart(self) -> Harness:
        await stop_harness(self.slack)
        return await self.start()

    async def at(self, when: dt.datetime):
        self.clock.advance(when - self.clock.now())
        return await self.slack.app.deliveries.run_due()

    async def run(self, line: str, user: str = PARTICIPANT, channel: str = "general") -> tuple[Sent, Call]:
        """A slash command as Slack sends it; returns it and its (first) answer."""
        sent = await self.slack.command(line, user=user, channel=channel)
        assert sent.status == 200 and sent.text == ""
        await self.slack.idle()
        return sent, await self.slack.reply_to(sent)

    async def say(self, line: str, user: str = PARTICIPANT, channel: str = "general") -> str:
        return visible_text((await self.run(line, user, channel))[1])

    async def press(self, element: dict[str, Any], user: str = PARTICIPANT, channel: str = "general") -> str:
        sent = await self.slack.click(element, user=user, channel=channel)
        assert sent.status == 200
        await self.slack.idle()
        return visible_text(await self.slack.reply_to(sent))

    def channel(self, name: str):
        return self.fake.channel_named(name)

    def top_level(self, name: str) -> list[dict[str, Any]]:
        return [m for m in self.channel(name).messages if m.get("thread_ts", m["ts"]) == m["ts"]]

    def replies(self, name: str, parent_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.channel(name).messages if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]

    def created(self) -> list[str]:
        return [c.args["name"] for c in self.fake.calls_to("conversations.create")]


def buttons_in(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons of a message the fake stored, by label."""
    return {
        e["text"]["text"]: e
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for e in block["elements"]
    }


def marker(message: dict[str, Any]) -> str:
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "")


@pytest.fixture
async def world(fake_slack, config, tmp_path):
    fake_slack.channel_rate = None  # a session's post and its thread land in one channel within a second
    fast = config.model_copy(update={"delivery": config.delivery.model_copy(update={"slack_rate": 100})})
    w = World(fake_slack, fast, Clock.frozen(EVE), tmp_path / "slack.sqlite3")
    await w.start()
    yield w
    await stop_harness(w.slack)


def lines_of(text: str) -> list[str]:
    return [line.removeprefix("• ") for line in text.splitlines() if line.startswith("• ")]


# -- /event setup --------------------------------------------------------------------------------------
async def test_setup_creates_the_planned_channels_once_and_repairs_a_deleted_one(world):
    fake = world.fake
    dry = await world.say("/event setup dry-run=yes", user=ORGANIZER)
    assert "Event setup (dry run: nothing changed)" in dry
    assert lines_of(dry) == [
        "would create #lobby",
        "would create #announcements",
        "would adopt the existing #help",
        *(f"would create #{name}" for name in CREATED[2:]),
    ]
    assert world.created() == [] and not fake.calls_to("conversations.create", ok_only=False)

    first = await world.say("/event setup", user=ORGANIZER)
    assert lines_of(first) == [
        "created #lobby",
        "created #announcements",
        "adopted the existing #help",
        *(f"created #{name}" for name in CREATED[2:]),
    ]
    assert world.created() == CREATED  # every name passed Slack's rules, each once
    for name in CREATED:
        channel = world.channel(name)
        assert FakeSlack.BOT_USER in channel.members and not channel.is_private and channel.topic
    assert world.channel("lobby").topic == "Welcome to Challenging Norms!"

    second = await world.say("/event setup", user=ORGANIZER)
    assert all(line.startswith("kept #") for line in lines_of(second)) and len(lines_of(second)) == 6
    assert world.created() == CREATED  # nothing more

    old = world.channel("graduate-medical-education").id
    fake.delete_channel("graduate-medical-education")
    third = await world.say("/event setup", user=ORGANIZER)
    assert "repaired (it was deleted) #graduate-medical-education" in lines_of(third)
    assert world.created() == [*CREATED, "graduate-medical-education"]
    assert world.channel("graduate-medical-education").id != old
    row = await world.slack.app.db.fetchone("SELECT place_id FROM event_places WHERE key = 'area:gme'")
    assert row["place_id"] == world.channel("graduate-medical-education").id

    dry_again = await world.say("/event setup dry-run=yes", user=ORGANIZER)
    assert all(line.startswith("kept #") for line in lines_of(dry_again))
    refused = await world.say("/event setup", user=PARTICIPANT)
    assert "only organizers" in refused
    assert len(world.created()) == len(CREATED) + 1


async def test_an_archived_channel_is_explained_since_slack_apps_cannot_unarchive(world):
    await world.say("/event setup", user=ORGANIZER)
    world.channel("medical-education-and-the-community").archived = True  # someone archived it by hand

    archived = await world.say("/event setup", user=ORGANIZER)
    # Archived channels keep their name on Slack, and a bot token cannot unarchive: the organizer is told.
    assert "#medical-education-and-the-community is archived. Unarchive it in Slack (apps cannot)" in archived
    creates = world.fake.calls_to("conversations.create", ok_only=False)
    assert [c.error for c in creates if c.args["name"] == "medical-education-and-the-community"] == ["", "name_taken"]

    world.channel("medical-education-and-the-community").archived = False  # an admin unarchived it
    again = await world.say("/event setup", user=ORGANIZER)
    assert all(line.startswith("kept #") for line in lines_of(again)), again
    assert world.created() == CREATED


async def test_event_archive_archives_the_channels_setup_created(world):
    await world.say("/event setup", user=ORGANIZER)
    archived = await world.say("/event archive", user=ORGANIZER)
    assert {f"archived #{n}" for n in CREATED} <= set(lines_of(archived))
    assert all(world.channel(n).archived for n in CREATED)
    second = lines_of(await world.say("/event archive", user=ORGANIZER))
    assert not any(line.startswith("archived") for line in second)  # nothing left to archive
    again = await world.say("/event setup", user=ORGANIZER)  # Slack apps cannot unarchive: the organizer is told
    assert "#lobby is archived. Unarchive it in Slack (apps cannot)" in again


async def test_event_archive_leaves_adopted_channels_alone(world):
    await world.say("/event setup", user=ORGANIZER)
    archived = await world.say("/event archive", user=ORGANIZER)
    assert "archived #help" not in lines_of(archived)
    assert not world.channel("help").archived


async def test_one_archived_channel_does_not_stop_the_rest_of_the_setup(world):
    await world.say("/event setup", user=ORGANIZER)
    world.channel("lobby").archived = True
    world.fake.delete_channel("graduate-medical-education")
    third = await world.say("/event setup", user=ORGANIZER)
    assert "#lobby is archived" in third
    assert "repaired (it was deleted) #graduate-medical-education" in lines_of(third)


# -- sessions: "starting soon" and the Q&A thread --------------------------------------------------------
def sessions(world: World) -> list[Session]:
    return load_program(world.slack.app.config)


async def session_rows(world: World, what: str) -> list:
    return await world.slack.app.db.fetchall("SELECT * FROM deliveries WHERE what = ? ORDER BY id", (what,))


async def test_each_session_gets_one_starting_post_and_one_thread_across_restarts_and_a_crash(world):
    await world.say("/event setup", user=ORGANIZER)
    program = sessions(world)
    assert len(program) == 11
    for index, session in enumerate(program):
        await world.at(session.start - LEAD - dt.timedelta(seconds=1))
        await world.at(session.start - LEAD)
        if index == 3:  # a restart between "starting soon" and the end of the session
            await world.restart()
        await world.at(session.start)  # nothing new while it runs
        if index == 5:
            # A crash just after Slack took the thread's closing message: the row is left 'sending'.
            await world.at(session.end)
            (row,) = [r for r in await session_rows(world, "session-end") if r["occurrence"] == session.id]
            await world.slack.app.db.execute("UPDATE deliveries SET status = 'sending' WHERE id = ?", (row["id"],))
            await world.restart()  # reconcile reads the thread (conversations.replies) for the marker
            (row,) = [r for r in await session_rows(world, "session-end") if r["occurrence"] == session.id]
            assert (row["status"], row["detail"]) == ("sent", "confirmed after restart")
        await world.at(session.end)
        if index == 8:
            await world.restart()

    threads = {
        r["session_id"]: r
        for r in await world.slack.app.db.fetchall("SELECT * FROM session_threads WHERE platform = 'slack'")
    }
    for session in program:
        name = AREA_CHANNELS[session.area]
        title = escape(session.title)
        starting = [m for m in world.top_level(name) if m["text"].startswith("🔔") and f": {title}* (" in m["text"]]
        assert len(starting) == 1, session.id
        assert marker(starting[0]).startswith(f"session-start:{session.id}:channel:")
        parents = [m for m in world.top_level(name) if m["text"].startswith(f"*Q&amp;A: {title}*")]
        assert len(parents) == 1, session.id
        parent = parents[0]
        assert (threads[session.id]["channel_id"], threads[session.id]["thread_id"]) == (
            world.channel(name).id,
            parent["ts"],
        )
        replies = world.replies(name, parent["ts"])
        assert [m["text"][:28] for m in replies] == ["Thank you for joining *" + title[:5]], session.id
        assert marker(replies[0]) == f"session-end:{session.id}:thread:{world.channel(name).id}/{parent['ts']}#0"
        assert float(starting[0]["ts"]) < float(parent["ts"]) < float(replies[0]["ts"])
    for name in AREA_CHANNELS.values():
        in_channel = [s for s in program if AREA_CHANNELS[s.area] == name]
        # a post and a thread parent each, no more (besides the welcome posted when setup created it)
        welcome = [m for m in world.top_level(name) if m["text"].startswith("👋 Welcome")]
        assert len(world.top_level(name)) - len(welcome) == 2 * len(in_channel) and len(welcome) <= 1
        assert len(world.channel(name).messages) - len(welcome) == 3 * len(in_channel)
    assert {r["status"] for r in await session_rows(world, "session-start")} == {"sent"}
    assert {r["status"] for r in await session_rows(world, "session-end")} == {"sent"}
    assert world.created() == CREATED  # the timeline creates no channel


async def test_sessions_post_in_the_channels_found_by_name_without_setup(world):
    """Without /event setup the area channels are looked up by name (channels made by hand)."""
    lobby = world.fake.add_channel("lobby", members=(PARTICIPANT,))
    opening = sessions(world)[0]
    await world.at(opening.start - LEAD)
    starting, parent = world.fake.messages(lobby)
    assert starting["text"].startswith("🔔") and parent["text"].startswith("*Q&amp;A: Opening keynote")
    later = sessions(world)[1]  # its area has no channel: nothing is posted, nothing fails
    report = await world.at(later.start - LEAD)
    assert report.failed == 0


async def test_a_crash_before_the_thread_opened_still_gives_the_session_a_thread(world):
    await world.say("/event setup", user=ORGANIZER)
    opening = sessions(world)[0]
    await world.at(opening.start - LEAD)
    # The state a crash leaves: the post is on Slack with its marker, no thread, the row 'sending'.
    lobby = world.channel("lobby")
    lobby.messages[:] = [m for m in lobby.messages if m["text"].startswith("🔔")]
    db = world.slack.app.db
    await db.execute("DELETE FROM session_threads")
    await db.execute("UPDATE deliveries SET status = 'sending' WHERE what = 'session-start'")
    await world.restart()
    await world.at(opening.start)
    assert "Posted in the Q&amp;A thread" in await world.say("/ask opening Can you hear me?")


# -- /ask ------------------------------------------------------------------------------------------------
async def opening_thread(world: World) -> tuple[str, dict[str, Any]]:
    await world.say("/event setup", user=ORGANIZER)
    await world.at(sessions(world)[0].start - LEAD)
    (parent,) = [m for m in world.top_level("lobby") if m["text"].startswith("*Q&amp;A")]
    return "lobby", parent


async def test_ask_posts_named_and_anonymous_questions_in_the_sessions_thread(world):
    too_early = await world.say('/ask opening question="Is there a recording?"')
    assert "opens 10 minutes before it starts" in too_early
    lobby, parent = await opening_thread(world)

    named = await world.say('/ask opening question="Where do I start?"')
    assert "Posted in the Q&amp;A thread of *Opening keynote" in named
    (question,) = world.replies(lobby, parent["ts"])
    assert question["text"] == "❓ *Ana Participant asks:* Where do I start?"

    _, confirm = await world.run('/ask Opening question="Is it ok to be new here?" anonymous=yes')
    assert confirm.args["response_type"] == "ephemeral"  # only the asker sees the confirmation
    assert "appear *without your name*" in visible_text(confirm)
    buttons = buttons_of(confirm)
    assert list(buttons) == ["Post anonymously", "Cancel"]
    assert len(world.replies(lobby, parent["ts"])) == 1  # nothing before the confirmation

    assert "not yours" in await world.press(buttons["Post anonymously"], user=ORGANIZER)
    posted = await world.press(buttons["Post anonymously"])
    assert "Posted in the Q&amp;A thread" in posted
    anonymous = world.replies(lobby, parent["ts"])[-1]
    assert anonymous["text"] == "❓ *Anonymous question:* Is it ok to be new here?"
    shown = visible_text(Call("chat.postMessage", anonymous))
    assert "Ana" not in shown and PARTICIPANT not in shown and "ana.participant" not in shown
    assert anonymous["user"] == FakeSlack.BOT_USER  # posted by the bot, not on the asker's behalf
    assert "already posted" in await world.press(buttons["Post anonymously"])

    _, second = await world.run('/ask opening question="Never mind" anonymous=yes')
    assert "Cancelled; nothing was posted" in await world.press(buttons_of(second)["Cancel"])
    assert len(world.replies(lobby, parent["ts"])) == 2
    log = await world.say("/audit", user=ORGANIZER)
    assert f"slack:{PARTICIPANT} anonymous question session opening" in log  # organizers can see who


async def test_ask_typed_as_the_starting_post_says(world):
    """`/ask SESSION QUESTION`, as the starting post and /program put it, with the choice as key=value."""
    lobby, parent = await opening_thread(world)
    assert "Posted in the Q&amp;A thread" in await world.say("/ask opening Where do I start? It's my first time")
    assert world.replies(lobby, parent["ts"])[-1]["text"].endswith("Where do I start? It's my first time")
    _, confirm = await world.run("/ask opening Can I ask twice? anonymous=yes")
    assert list(buttons_of(confirm)) == ["Post anonymously", "Cancel"]


# -- coalitions -----------------------------------------------------------------------------------------
async def test_coalition_join_leave_members_and_prompt(world):
    fake = world.fake
    joined = await world.say("/coalition join Curriculum reform")
    assert "You joined *Curriculum reform*" in joined
    await world.slack.app.idle()  # the welcome follows the reply
    channel = world.channel("coalition-curriculum-reform")
    assert PARTICIPANT in channel.members and FakeSlack.BOT_USER in channel.members
    intro, welcome = channel.messages
    assert intro["text"].startswith("*Curriculum reform*: Rewriting what and how we teach")
    assert welcome["text"].startswith("👋 Welcome, Ana Participant, to *Curriculum reform*!")
    assert "already in" in await world.say("/coalition join curriculum reform")
    fake.add_user(OTHER, "Ben Other")
    assert "has 1 members" in await world.say("/coalition members Curriculum reform", user=OTHER)
    assert "Ana Participant (slack)" in await world.say("/coalition members Curriculum reform")
    assert "(1 members) (you're in)" in await world.say("/coalition list")

    prompt = await world.say('/coalition prompt "What is one thing to try this month?"', user=ORGANIZER)
    assert "Prompt posted in 1 coalition space(s)" in prompt
    assert channel.messages[-1]["text"] == "💬 *Prompt from the organizers:* What is one thing to try this month?"

    assert "You left *Curriculum reform*" in await world.say("/coalition leave Curriculum reform")
    assert PARTICIPANT not in channel.members
    assert [c.args["user"] for c in fake.calls_to("conversations.kick")] == [PARTICIPANT]
    assert "not in" in await world.say("/coalition leave Curriculum reform")
    assert "You joined" in await world.say("/coalition join Curriculum reform")  # back in, same channel
    assert world.created() == ["coalition-curriculum-reform"]
    assert PARTICIPANT in channel.members


async def test_a_coalition_whose_channel_name_is_taken_uses_that_channel(world):
    fake = world.fake
    existing = fake.add_channel("coalition-residency-culture", members=(GROUP_ORGANIZER,), bot=False)
    joined = await world.say("/coalition join Residency culture")
    assert "You joined *Residency culture*" in joined
    await world.slack.app.idle()
    creates = fake.calls_to("conversations.create", ok_only=False)
    assert [(c.args["name"], c.error) for c in creates] == [("coalition-residency-culture", "name_taken")]
    channel = fake.channels[existing]
    assert {PARTICIPANT, GROUP_ORGANIZER, FakeSlack.BOT_USER} <= channel.members  # the bot joined to invite
    assert channel.messages[-1]["text"].startswith("👋 Welcome, Ana Participant")
    row = await world.slack.app.db.fetchone("SELECT channel_id FROM coalition_places")
    assert row["channel_id"] == existing


async def test_a_failed_coalition_join_can_be_tried_again(world):
    fake = world.fake
    hidden = fake.add_channel("coalition-residency-culture", private=True, members=(GROUP_ORGANIZER,), bot=False)
    failed = await world.say("/coalition join Residency culture")
    assert "Sorry, that didn't work" in failed
    fake.channels[hidden].members.add(FakeSlack.BOT_USER)  # an organizer invites the bot
    again = await world.say("/coalition join Residency culture")
    assert "You joined" in again and PARTICIPANT in fake.channels[hidden].members


async def test_propose_approve_and_decline_coalitions_with_emoji_names(world):
    fake = world.fake
    organizers = world.channel("organizers")
    # Slack sends emoji typed into a slash command as shortcodes (":seedling:"), and what people typed
    # as characters escaped; both make valid Slack channel names.
    proposed = await world.say('/coalition propose ":seedling: Green Med Ed" Climate &amp; health equity')
    assert "*:seedling: Green Med Ed* is with the organizers" in proposed
    (notice,) = organizers.messages
    assert notice["text"] == (
        "*Coalition proposed* by Ana Participant (slack): *:seedling: Green Med Ed*: Climate &amp; health equity"
    )
    buttons = buttons_in(notice)
    assert list(buttons) == ["Approve", "Decline"]
    assert "only organizers" in await world.press(buttons["Approve"], user=PARTICIPANT, channel="organizers")
    approved = await world.press(buttons["Approve"], user=ORGANIZER, channel="organizers")
    assert "*:seedling: Green Med Ed* is open" in approved
    assert "already decided (active)" in await world.press(buttons["Decline"], user=ORGANIZER, channel="organizers")
    (verdict,) = fake.dm_channel(PARTICIPANT).messages
    assert "was approved: /coalition join :seedling: Green Med Ed" in verdict["text"]

    fake.add_user(OTHER, "Ben Other")
    joined = await world.say("/coalition join :seedling: green med ed", user=OTHER)
    assert "You joined" in joined
    channel = world.channel("coalition-seedling-green-med-ed")
    assert OTHER in channel.members and channel.topic == "Climate &amp; health equity"

    unicode = await world.say('/coalition propose "🌱 Équité en santé" Health equity across borders')
    assert "is with the organizers" in unicode
    assert "already exists (proposed)" in await world.say('/coalition propose "equite en sante" again', user=OTHER)
    second = buttons_in(organizers.messages[-1])
    assert "is declined" in await world.press(second["Decline"], user=ORGANIZER, channel="organizers")
    assert "decided not to open *🌱 Équité en santé*" in fake.dm_channel(PARTICIPANT).messages[-1]["text"]
    emoji_only = await world.say("/coalition propose 🌱🌍 Planet")
    assert "needs some letters or digits" in emoji_only

    await world.say("/coalition join Curriculum reform", user=OTHER)
    assert world.created() == ["coalition-seedling-green-med-ed", "coalition-curriculum-reform"]
    summary = await world.say("/event summary", user=ORGANIZER)
    assert ":seedling: Green Med Ed: 1" in summary and "Curriculum reform: 1" in summary


async def test_a_scheduled_prompt_reaches_every_coalition_channel_once(world):
    await world.say("/coalition join Curriculum reform")
    await world.say("/coalition join Residency culture")
    planned = await world.say(
        "/coalition prompt at=2023-10-14T16:30-04:00 What is one thing to try this month?", user=ORGANIZER
    )
    assert planned.startswith("Prompt #1 will be posted in every coalition's space at ")
    assert "*#1*" in await world.say("/coalition prompts", user=ORGANIZER)
    assert "only organizers" in await world.say("/coalition prompts")
    assert "only organizers" in await world.say("/coalition prompt-cancel 1")
    assert "has passed" in await world.say("/coalition prompt at=2023-10-01T09:00 Too late", user=ORGANIZER)

    def prompts(name: str) -> list[str]:
        return [m["text"] for m in world.channel(name).messages if m["text"].startswith("💬")]

    await world.at(dt.datetime(2023, 10, 14, 20, 29, tzinfo=dt.UTC))  # 16:29 in New York: not yet
    assert prompts("coalition-curriculum-reform") == []
    await world.at(dt.datetime(2023, 10, 14, 20, 31, tzinfo=dt.UTC))  # 16:31 in New York
    await world.restart()
    await world.at(dt.datetime(2023, 10, 14, 20, 40, tzinfo=dt.UTC))
    expected = ["💬 *Prompt from the organizers:* What is one thing to try this month?"]
    assert prompts("coalition-curriculum-reform") == prompts("coalition-residency-culture") == expected
    assert "No coalition prompts are scheduled" in await world.say("/coalition prompts", user=ORGANIZER)
    assert "already posted" in await world.say("/coalition prompt-cancel 1", user=ORGANIZER)


async def test_the_summary_counts_who_talked_in_area_channels_and_coalitions(world):
    await world.say("/event setup", user=ORGANIZER)
    await world.say("/coalition join Curriculum reform")
    world.fake.add_user(OTHER, "Ben Other")
    ume = world.channel("undergraduate-medical-education").id
    coalition = world.channel("coalition-curriculum-reform").id

    async def message(user: str, channel: str, ts: str, thread_ts: str = "") -> None:
        event = {"type": "message", "channel": channel, "user": user, "ts": ts, "text": "Thanks, all!"}
        await world.slack.event({**event, **({"thread_ts": thread_ts} if thread_ts else {})}, f"Ev{ts}")

    await message(PARTICIPANT, ume, "20.000001")
    await message(OTHER, ume, "20.000002")
    await message(OTHER, ume, "20.000003", thread_ts="20.000001")  # in a thread of the channel
    await message(PARTICIPANT, coalition, "20.000004")
    await message(OTHER, world.channel("general").id, "20.000005")  # not an event channel
    await world.slack.idle()
    summary = await world.say("/event summary", user=ORGANIZER)
    assert "• Undergraduate medical education: 2 people, 3 messages, 0 questions" in summary
    assert "• Curriculum reform: 1 member, 1 message from 1 person" in summary
    assert "• Residency culture: 0 members, 0 messages from 0 people" in summary
