"""The Platform port on Discord, against the fake server: what lands where, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.core.model import Button, File, Message, Place, PlaceKind, Platform
from bot.core.port import PlatformError
from tests.fakes.discord_server import ARCHIVE_DURATIONS, SEND_MESSAGES, VIEW_CHANNEL

pytestmark = pytest.mark.asyncio(loop_scope="module")


def place(fake, name: str) -> Place:
    return Place(Platform.DISCORD, fake.channel(name)["id"], name=name)


async def test_the_port_is_offered_to_features_once_connected(discord_env):
    assert discord_env.app.platforms[Platform.DISCORD] is discord_env.bot.port


async def test_post_lands_in_the_channel_with_buttons_and_no_pings(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    message = Message("Doors open @everyone", buttons=(Button("probe-pick:door", "Door"),))
    posted = await port.post(place(fake, "announcements"), message)
    [landed] = [m for m in fake.messages_in("announcements") if m.content.startswith("Doors open")]
    assert posted.message_id == str(landed.id)
    assert [c["custom_id"] for c in landed.components()] == ["probe-pick:door"]
    assert not landed.pinged


async def test_a_long_post_is_split(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    text = "\n".join(f"Session {n}: " + "x" * 80 for n in range(60))
    await port.post(place(fake, "general"), Message(text))
    parts = [m.content for m in fake.messages_in("general") if m.content.startswith("Session")]
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text


async def test_a_rate_limited_send_is_retried_and_arrives_once(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.2)
    calls_before = len(fake.calls)
    await port.post(place(fake, "help"), Message("Reminder: proposals close Friday."))
    sends = [c for c in fake.calls[calls_before:] if c.path.endswith("/messages")]
    assert [c.status for c in sends] == [429, 200]
    assert [m.content for m in fake.messages_in("help")].count("Reminder: proposals close Friday.") == 1


async def test_a_send_whose_answer_was_lost_is_not_duplicated(discord_strict):
    """Discord acted, but the answer was a 502: discord.py retries with the same nonce, and
    Discord answers with the message it already has."""
    fake, port = discord_strict.fake, discord_strict.bot.port
    fake.inject("POST", r"^/channels/\d+/messages$", status=502, after=True)
    message = Message("Keynote starts in 10 minutes.", dedupe_key="reminder:keynote:10m:help")
    await port.post(place(fake, "help"), message)
    assert [m.content for m in fake.messages_in("help")].count("Keynote starts in 10 minutes.") == 1
    # Posting again with the same key (a restart replaying the delivery) is still one message.
    await port.post(place(fake, "help"), message)
    assert [m.content for m in fake.messages_in("help")].count("Keynote starts in 10 minutes.") == 1


async def test_dm_and_upload(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    dana = fake.member("dana")
    sent = await port.dm(dana["user"]["id"], Message("Your proposal was received."))
    assert sent.place.kind is PlaceKind.DM
    assert fake.messages_in(fake.channel_dm(dana))[-1].content == "Your proposal was received."

    await port.upload(place(fake, "general"), File("program.txt", b"9:00 Welcome\n"), "The program")
    last = fake.messages_in("general")[-1]
    assert last.content == "The program"
    assert last.files == [("program.txt", b"9:00 Welcome\n", "application/octet-stream")]


async def test_find_channel_by_configured_name(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    found = await port.find_channel("#help")
    assert found == Place(Platform.DISCORD, fake.channel("help")["id"], PlaceKind.CHANNEL, name="help")
    assert await port.find_channel("no-such-channel") is None


async def test_create_category_and_private_channel(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    category_id = await port.create_category("Coalitions")
    created = await port.create_channel("circle-1", category_id=category_id, private=True, topic="A circle")
    channel = fake.channel("circle-1")
    assert created.channel_id == channel["id"] and channel["parent_id"] == category_id
    assert channel["topic"] == "A circle"
    overwrites = {o["id"]: o for o in channel["permission_overwrites"]}
    assert int(overwrites[str(fake.guild_id)]["deny"]) & VIEW_CHANNEL  # hidden from @everyone
    assert int(overwrites[str(fake.app_id)]["allow"]) & VIEW_CHANNEL
    assert int(overwrites[fake.role("Organizer")["id"]]["allow"]) & VIEW_CHANNEL
    # The gateway event updated the bot's cache: it can find what it just made.
    assert (await port.find_channel("circle-1")).channel_id == channel["id"]

    dana = fake.member("dana")["user"]["id"]
    await port.add_member(created, dana)
    assert int({o["id"]: o for o in channel["permission_overwrites"]}[dana]["allow"]) & VIEW_CHANNEL
    await port.remove_member(created, dana)
    assert dana not in {o["id"] for o in channel["permission_overwrites"]}

    # Archiving a channel makes it read-only and keeps it hidden.
    await port.archive(created)
    everyone = {o["id"]: o for o in channel["permission_overwrites"]}[str(fake.guild_id)]
    assert int(everyone["deny"]) & SEND_MESSAGES and int(everyone["deny"]) & VIEW_CHANNEL


async def test_a_full_category_is_refused_with_a_clear_message(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    category_id = await port.create_category("Rooms")
    for n in range(50):
        fake.add_channel(f"room-{n}", parent="Rooms")
    with pytest.raises(PlatformError, match="Maximum number of channels in category reached"):
        await port.create_channel("room-50", category_id=category_id)
    fake.errors.clear()  # expected


async def test_threads_in_text_channels_and_forums(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    session = await port.create_thread(place(fake, "general"), "Q&A: Keynote", Message("Ask here."))
    thread = fake.channel("Q&A: Keynote")
    assert session.kind is PlaceKind.THREAD and session.thread_id == thread["id"]
    assert thread["thread_metadata"]["auto_archive_duration"] == max(ARCHIVE_DURATIONS)
    assert [m.content for m in fake.messages_in(thread)] == ["Ask here."]

    ana = fake.member("ana")["user"]["id"]
    await port.add_member(session, ana)
    assert int(ana) in fake.thread_members[int(thread["id"])]
    await port.remove_member(session, ana)
    assert int(ana) not in fake.thread_members[int(thread["id"])]

    forum = await port.create_forum("session-feedback", tags=("keynote", "workshop"))
    assert [t["name"] for t in fake.channel("session-feedback")["available_tags"]] == ["keynote", "workshop"]
    post = await port.create_thread(forum, "Keynote feedback", Message("How was it?"))
    assert fake.channel(post.thread_id)["parent_id"] == forum.channel_id
    assert [m.content for m in fake.messages_in(post.thread_id)] == ["How was it?"]

    await port.post(post, Message("Loved it."))
    assert [m.content for m in fake.messages_in(post.thread_id)] == ["How was it?", "Loved it."]
    await port.archive(post)
    assert fake.channel(post.thread_id)["thread_metadata"]["archived"]


async def test_posting_in_a_forum_itself_is_refused(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    with pytest.raises(PlatformError, match="create a thread instead"):
        await port.post(place(fake, "feedback"), Message("Hello"))


async def test_roles_by_name(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    dana = fake.member("dana")
    role_id = fake.role("Announcements")["id"]
    await port.add_role(dana["user"]["id"], "Announcements")
    assert role_id in dana["roles"]
    await port.remove_role(dana["user"]["id"], role_id)
    assert role_id not in dana["roles"]
    with pytest.raises(PlatformError, match="no role 'Speakers'"):
        await port.add_role(dana["user"]["id"], "Speakers")


async def test_a_role_above_the_bot_is_refused_with_a_clear_message(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    fake.add_role("Admins", position=50)
    await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(fake.guild_id), "role": fake.role("Admins")})
    with pytest.raises(PlatformError, match="the bot lacks a permission"):
        await port.add_role(fake.member("dana")["user"]["id"], "Admins")
    fake.errors.clear()


async def test_guild_scheduled_event(discord_strict):
    fake, port = discord_strict.fake, discord_strict.bot.port
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    event_id = await port.create_scheduled_event(
        "Challenging Norms, day 1",
        start,
        start + dt.timedelta(hours=8),
        location="https://example.org/live",
        description="Opening day",
    )
    event = fake.scheduled_events[int(event_id)]
    assert event["entity_type"] == 3  # external
    assert event["entity_metadata"] == {"location": "https://example.org/live"}
    assert event["privacy_level"] == 2
