"""The Platform port on Slack's Web API, against the fake: side effects, pacing and resilience."""

from __future__ import annotations

import asyncio
import time
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.adapters import slack_port
from bot.adapters.slack_port import Pacer, SlackPort, web_client
from bot.adapters.slack_text import to_mrkdwn
from bot.core.model import File, Message, Place, PlaceKind, Platform
from bot.core.port import PlatformError
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import PARTICIPANT
from tests.fakes.slack_server import FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def make_port(fake: FakeSlack, session, pacer: Pacer | None = None) -> SlackPort:
    client = web_client(FakeSlack.BOT_TOKEN, fake.api_url, session)
    return SlackPort(client, lambda text: to_mrkdwn(text, ZoneInfo("America/New_York")), pacer)


@pytest.fixture
def port(fake_slack, session) -> SlackPort:
    return make_port(fake_slack, session)


def place(fake: FakeSlack, name: str) -> Place:
    return Place(Platform.SLACK, fake.channel_named(name).id, name=name)


def texts(fake: FakeSlack, channel: str) -> list[str]:
    return [m.get("text", "") for m in fake.messages(channel)]


async def test_posts_join_public_channels_and_refuse_private_ones(fake_slack, port):
    general, random, backstage = (place(fake_slack, n) for n in ("general", "random", "backstage"))

    posted = await port.post(general, Message("**Welcome** to <!channel> day one"))
    joined = await port.post(random, Message("hello random"))

    stored = fake_slack.messages(general.channel_id)[0]
    assert posted.message_id == stored["ts"]
    assert stored["text"] == "*Welcome* to &lt;!channel&gt; day one"
    assert texts(fake_slack, random.channel_id) == ["hello random"] and joined.message_id
    assert [c.args["channel"] for c in fake_slack.calls_to("conversations.join")] == [random.channel_id]
    with pytest.raises(PlatformError, match="channel_not_found"):
        await port.post(backstage, Message("psst"))


async def test_direct_messages_open_the_conversation_once(fake_slack, port):
    first = await port.dm(PARTICIPANT, Message("Your proposal is in."))
    await port.dm(PARTICIPANT, Message("Reminder."))
    assert first.place.kind is PlaceKind.DM
    assert len(fake_slack.calls_to("conversations.open")) == 1
    assert texts(fake_slack, first.place.channel_id) == ["Your proposal is in.", "Reminder."]


async def test_channels_are_created_once_with_slack_names(fake_slack, port):
    created = await port.create_channel("Coalition Circle #3!", private=True, topic="Circle three")
    again = await port.create_channel("coalition-circle-3")

    channel = fake_slack.channels[created.channel_id]
    assert (channel.name, channel.is_private, channel.topic) == ("coalition-circle-3", True, "Circle three")
    assert again.channel_id == created.channel_id
    assert fake_slack.calls_to("conversations.create", ok_only=False)[-1].error == "name_taken"
    assert await port.create_category("Day one") == ""

    fake_slack.channels[created.channel_id].archived = True
    with pytest.raises(PlatformError, match="archived"):
        await port.create_channel("coalition-circle-3")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Bad Name", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("--", "invalid_name_punctuation"),
        ("", "invalid_name_required"),
        ("general", "name_taken"),
    ],
)
async def test_the_fake_enforces_slack_channel_name_rules(port, name, error):
    with pytest.raises(SlackApiError) as refused:
        await port.client.conversations_create(name=name)
    assert refused.value.response["error"] == error


async def test_threads_membership_and_archiving(fake_slack, port):
    general, random = place(fake_slack, "general"), place(fake_slack, "random")
    thread = await port.create_thread(general, "Session 1 Q&A", Message("Ask your questions here."))
    await port.post(thread, Message("First question"))

    parent, reply = fake_slack.messages(general.channel_id)
    assert thread.kind is PlaceKind.THREAD and thread.thread_id == parent["ts"]
    assert parent["text"] == "*Session 1 Q&amp;A*\nAsk your questions here."
    assert reply["thread_ts"] == parent["ts"]

    circle = await port.create_channel("circle-one")
    await port.add_member(circle, PARTICIPANT)
    await port.add_member(circle, PARTICIPANT)  # already_in_channel is what was asked
    newcomer = fake_slack.add_user("UNEW00001", "Nia Newcomer")
    await port.add_member(random, newcomer)  # joins first: Slack says not_in_channel
    await port.remove_member(circle, PARTICIPANT)
    await port.remove_member(circle, PARTICIPANT)
    assert PARTICIPANT not in fake_slack.channels[circle.channel_id].members
    assert [c.error for c in fake_slack.calls_to("conversations.invite", ok_only=False)] == [
        "",
        "already_in_channel",
        "not_in_channel",
        "",
    ]

    await port.archive(thread)  # Slack threads cannot be archived: nothing to do
    await port.archive(circle)
    await port.archive(circle)
    assert fake_slack.channels[circle.channel_id].archived
    assert len(fake_slack.calls_to("conversations.archive")) == 1


async def test_uploads_use_the_v2_api_in_threads(fake_slack, port):
    general = place(fake_slack, "general")
    thread = Place(Platform.SLACK, general.channel_id, PlaceKind.THREAD, "1.000001")
    posted = await port.upload(thread, File("slides.pdf", b"%PDF-1.4 slides", "application/pdf"), "**Slides**")
    complete = fake_slack.calls_to("files.completeUploadExternal")[0].args
    assert (complete["thread_ts"], complete["initial_comment"]) == ("1.000001", "*Slides*")
    assert fake_slack.files[posted.message_id]["content"] == b"%PDF-1.4 slides"


async def test_channels_are_found_by_name_across_pages(fake_slack, port):
    for number in range(250):
        fake_slack.add_channel(f"room-{number}")
    found = await port.find_channel("#room-249")
    assert found and found.channel_id == fake_slack.channel_named("room-249").id
    assert await port.find_channel("nowhere") is None
    assert (await port.find_channel("room-3")).channel_id == fake_slack.channel_named("room-3").id
    assert len(fake_slack.calls_to("conversations.list")) == 2  # 255 channels, 200 a page, listed once


class Ticking:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_rush_of_lookups_lists_the_channels_once(fake_slack, session):
    # Slack allows conversations.list about 20 times a minute: 20 organizers' notices at once
    # (each finding the channel, then posting) must not list 20 times.
    port = make_port(fake_slack, session, Pacer(interval=0.0))
    fake_slack.channel_rate = None
    organizers = fake_slack.channel_named("organizers").id

    async def notice(n: int) -> None:
        place = await port.find_channel("#organizers")
        await port.post(place, Message(f"New proposal intent #{n}"))

    await asyncio.gather(*(notice(n) for n in range(20)))
    assert len(fake_slack.calls_to("conversations.list")) == 1
    assert sorted(texts(fake_slack, organizers)) == sorted(f"New proposal intent #{n}" for n in range(20))
    for _ in range(5):
        await port.find_channel("organizers")
        assert await port.find_channel("nowhere") is None
    assert len(fake_slack.calls_to("conversations.list")) == 1


async def test_the_kept_listing_expires_and_follows_what_the_bot_does(fake_slack, session):
    clock = Ticking()
    port = SlackPort(
        web_client(FakeSlack.BOT_TOKEN, fake_slack.api_url, session), lambda text: text, Pacer(interval=0.0), clock
    )
    listings = lambda: len(fake_slack.calls_to("conversations.list"))  # noqa: E731
    assert await port.find_channel("lobby") is None and listings() == 1
    made_by_hand = fake_slack.add_channel("lobby")
    assert await port.find_channel("lobby") is None and listings() == 1  # "none" is trusted a little while
    clock.now += slack_port.MISS_TTL
    assert (await port.find_channel("lobby")).channel_id == made_by_hand and listings() == 2
    clock.now += slack_port.CHANNEL_TTL - 1
    assert (await port.find_channel("lobby")).channel_id == made_by_hand and listings() == 2
    clock.now += 1
    assert (await port.find_channel("lobby")).channel_id == made_by_hand and listings() == 3

    # What the bot creates is known at once; what it archives is gone at once.
    created = await port.create_channel("Circle one")
    assert (await port.find_channel("circle-one")) == created and listings() == 3
    await port.archive(created)
    assert await port.find_channel("circle-one") is None and listings() == 4
    # A name taken by a channel archived by hand is read afresh, not from the kept listing.
    fake_slack.channel_named("lobby").archived = True
    assert (await port.find_channel("lobby")).channel_id == made_by_hand  # kept: the bot cannot know yet
    with pytest.raises(PlatformError, match="archived"):
        await port.create_channel("lobby")
    assert await port.find_channel_now("lobby") is None


@pytest.mark.parametrize("change", ["deleted", "archived"])
async def test_a_post_to_a_channel_gone_by_hand_drops_it_from_the_kept_listing(fake_slack, port, change):
    first = await port.find_channel("help")
    assert first is not None
    if change == "deleted":
        fake_slack.delete_channel("help")
    else:
        fake_slack.channel_named("help").archived = True
    with pytest.raises(PlatformError, match="channel_not_found" if change == "deleted" else "is_archived"):
        await port.post(first, Message("Anyone there?"))
    assert await port.find_channel("help") is None
    assert len(fake_slack.calls_to("conversations.list")) == 2  # looked up again, once


# -- pacing and resilience ------------------------------------------------------------------------------
async def test_a_429_storm_on_a_channel_delays_messages_but_delivers_each_once(fake_slack, port):
    general, help_room = place(fake_slack, "general"), place(fake_slack, "help")
    fake_slack.fail(
        "chat.postMessage",
        status=429,
        retry_after=1,
        times=2,
        when=lambda a: a["channel"] == general.channel_id,
    )
    started = time.monotonic()

    async def timed(target: Place, text: str) -> float:
        await port.post(target, Message(text))
        return time.monotonic() - started

    results = await asyncio.gather(*(timed(general, f"announcement {i}") for i in range(5)), timed(help_room, "help"))

    assert texts(fake_slack, general.channel_id) == [f"announcement {i}" for i in range(5)]  # once each, in order
    assert len(fake_slack.calls_to("chat.postMessage", ok_only=False)) == 6 + 2
    assert min(results[:5]) >= 2.0  # the storm held the channel back…
    assert results[5] < 1.0  # …but not the other channel


async def test_sends_are_paced_per_channel(fake_slack, session):
    fake_slack.channel_rate = None  # measure the port's pacing alone
    paced = make_port(fake_slack, session, Pacer(interval=0.2, burst=2))
    general, help_room = place(fake_slack, "general"), place(fake_slack, "help")
    started = time.monotonic()
    await asyncio.gather(*(paced.post(general, Message(f"m{n}")) for n in range(5)))
    paced_for = time.monotonic() - started
    await asyncio.gather(*(paced.post(help_room, Message(f"m{n}")) for n in range(2)))
    assert 0.55 <= paced_for < 1.5  # two at once, then one per 0.2 s
    assert time.monotonic() - started - paced_for < 0.3  # another channel has its own budget


async def test_the_fake_rate_limits_unpaced_bursts_like_slack(fake_slack, session):
    unpaced = make_port(fake_slack, session, Pacer(interval=0.0, burst=100))
    general = place(fake_slack, "general")
    await asyncio.gather(*(unpaced.post(general, Message(f"m{n}")) for n in range(5)))
    limited = [c for c in fake_slack.calls_to("chat.postMessage", ok_only=False) if c.status == 429]
    assert limited and sorted(texts(fake_slack, general.channel_id)) == [f"m{n}" for n in range(5)]


async def test_a_server_error_after_posting_does_not_post_twice(fake_slack, port):
    general = place(fake_slack, "general")
    thread = Place(
        Platform.SLACK,
        general.channel_id,
        PlaceKind.THREAD,
        (await port.post(general, Message("p"))).message_id,
    )
    fake_slack.fail("chat.postMessage", status=500, after_commit=True, times=2)

    in_channel = await port.post(general, Message("Deadline tomorrow", dedupe_key="reminder:1:general"))
    in_thread = await port.post(thread, Message("Starting soon", dedupe_key="session:1:thread"))

    assert texts(fake_slack, general.channel_id) == ["p", "Deadline tomorrow", "Starting soon"]
    stored = fake_slack.messages(general.channel_id)
    assert (in_channel.message_id, in_thread.message_id) == (stored[1]["ts"], stored[2]["ts"])
    assert stored[1]["metadata"]["event_payload"] == {"key": "reminder:1:general#0"}
    assert fake_slack.calls_to("conversations.history") and fake_slack.calls_to("conversations.replies")


async def test_a_server_error_before_posting_is_retried(fake_slack, port):
    general = place(fake_slack, "general")
    fake_slack.fail("chat.postMessage", status=503)
    fake_slack.fail("conversations.invite", status=503)
    await port.post(general, Message("Doors open", dedupe_key="doors"))
    await port.add_member(await port.create_channel("circle-two"), PARTICIPANT)
    assert texts(fake_slack, general.channel_id) == ["Doors open"]
    assert len(fake_slack.calls_to("conversations.invite", ok_only=False)) == 2
