"""Community safety and circles on Discord, with the real discord.py client against the fake server:
a circles round from the join form to private group threads (once, across restarts and a crash
mid-send) and the follow-up; reports relayed both ways, from a DM with the bot, without the reported
member ever seeing anything; privacy export and delete; and user-supplied text that never pings.

Each test gets its own fake server and bot, with the cogs under test only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import AsyncIterator

import pytest

from bot.core.model import Message
from bot.core.port import PlatformError
from cogs.circles import CirclesCog
from cogs.event import CoalitionsCog, EventCog
from cogs.general import GeneralCog
from cogs.proposals import ProposalsCog
from cogs.safety import SafetyCog
from tests.adapters.conftest import DiscordWorld, discord_world
from tests.adapters.test_discord_proposals import propose
from tests.fakes.discord_server import DM, PRIVATE_THREAD, FakeDiscord, StoredMessage

COGS = [GeneralCog, ProposalsCog, EventCog, CoalitionsCog, CirclesCog, SafetyCog]
NO_PINGS = {"parse": []}  # AllowedMentions.none(), as discord.py sends it
CIRCLE = {  # member name -> (role as the form shows it, institution)
    "ana": ("Medical student", "Sinai"),
    "dana": ("Faculty", "Columbia"),
    "olu": ("Dean or director", "Sinai"),
    "bea": ("House staff", "NYU"),
    "cy": ("Community member", ""),
    "eli": ("Faculty", "Howard"),
}


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[DiscordWorld]:
    async with discord_world(tmp_path, COGS) as world:
        yield world


def strict(fake: FakeDiscord, allowed: int = 0) -> None:
    assert len(fake.errors) == allowed, [(c.method, c.path, c.error) for c in fake.errors]


def advance_to(world: DiscordWorld, when: dt.datetime) -> None:
    world.app.clock.advance(when - world.app.clock.now())


def dms(fake: FakeDiscord, member: dict | str) -> list[StoredMessage]:
    member = fake.member(member) if isinstance(member, str) else member
    try:
        return [m for m in fake.messages_in(fake.channel_dm(member)) if int(m.payload["author"]["id"]) == fake.app_id]
    except KeyError:  # the bot never opened a DM with them
        return []


def group_threads(fake: FakeDiscord) -> list[dict]:
    return [c for c in fake.channels.values() if c["type"] == PRIVATE_THREAD]


# -- circles --------------------------------------------------------------------------------------
async def join_circles(world: DiscordWorld, name: str) -> None:
    fake = world.fake
    role, institution = CIRCLE[name]
    opened = await fake.slash(name, "circles join")
    assert opened.modal["title"] == "Join coalition circles"
    assert [o["label"] for o in opened.modal_input("Your role")["options"]][:3] == [
        "Medical student",
        "House staff",
        "Faculty",
    ]
    done = await fake.submit_modal(name, opened, {"Your role": role, "Institution (optional)": institution})
    assert done.text.startswith("You're in!") and done.ephemeral


async def test_a_circles_round_from_the_form_to_private_threads_and_the_follow_up(world):
    fake, olu = world.fake, world.organizer
    for name in ("bea", "cy", "eli"):
        fake.add_member(name)
    circles = await world.add_channel("circles")
    for name in CIRCLE:
        await join_circles(world, name)
    ids = {fake.member(n)["user"]["id"]: n for n in CIRCLE}

    dry = await fake.slash(olu, "circles match", {"dry-run": "yes"})
    assert dry.ephemeral and dry.text.startswith("**Dry run** (seed ") and "Discord: 2 circle(s)" in dry.text
    planned = sorted(frozenset(line[2:].split(", ")) for line in dry.text.splitlines() if line.startswith("- "))
    assert sorted(u for g in planned for u in g) == sorted(ids)
    assert group_threads(fake) == [] and all(dms(fake, n) == [] for n in CIRCLE)

    announced = await fake.slash(olu, "circles match", {"size": "3"})
    assert re.match(r"Round #1 is announced for <t:\d+:F>; 6 member\(s\) were told", announced.text)
    for name in CIRCLE:
        [warning] = dms(fake, name)
        assert warning.content.startswith("🔄 A coalition circles round starts <t:") and warning.payload["nonce"]
    again = await fake.slash(olu, "circles match")
    assert "A round is already announced" in again.text
    status = await fake.slash("ana", "circles status")
    assert status.text.startswith("You are in circles. Next round: <t:")

    await world.restart()  # between the announcement and the round: nothing is sent again
    assert (await world.app.deliveries.run_due()).sent == 0
    advance_to(world, world.app.clock.now() + dt.timedelta(hours=24))
    report = await world.app.deliveries.run_due()
    assert (report.sent, report.failed) == (2, 0), report.details

    threads = group_threads(fake)
    assert len(threads) == 2
    made = sorted(frozenset(fake.thread_member_ids(t) - {str(fake.app_id)}) for t in threads)
    assert made == planned  # exactly the groups the dry run showed
    for thread in threads:
        assert thread["parent_id"] == circles["id"] and thread["name"].startswith("Circle ")
        assert thread["thread_metadata"]["invitable"] is False  # members cannot bring others in
        [intro] = fake.messages_in(thread)
        assert intro.content.startswith("👋 **Your coalition circle** (round #1): meet each other!")
        assert intro.payload["nonce"] and intro.allowed_mentions == NO_PINGS and not intro.pinged
        members = fake.thread_member_ids(thread) - {str(fake.app_id)}
        for user_id, name in ids.items():
            role, _ = CIRCLE[name]
            assert (f"- {name}: {role.lower()}" in intro.content) == (user_id in members)
            assert fake.can_view(name, thread) == (user_id in members), name  # only its members see it
    assert [m for m in fake.messages_in(circles)] == []  # nothing in the channel itself

    await world.restart()  # after the round: nothing is created again
    assert (await world.app.deliveries.run_due()).sent == 0
    # A crash in the middle of opening the threads: the ledger rows are left mid-send.
    await world.app.db.execute("UPDATE deliveries SET status = 'sending' WHERE what = 'circle-round'")
    await world.restart()
    assert (await world.app.deliveries.run_due()).sent == 2  # sent again: the same threads, unchanged
    assert group_threads(fake) == threads and all(len(fake.messages_in(t)) == 1 for t in threads)

    advance_to(world, world.app.clock.now() + dt.timedelta(days=7))
    await world.app.deliveries.run_due()
    for name in CIRCLE:
        followup = dms(fake, name)[-1]
        assert followup.content.startswith("Did your coalition circle (round #1) get to meet?")
        assert [c["label"] for c in followup.components()] == ["Yes, we met", "Not yet"]
    met = await fake.click("ana", dms(fake, "ana")[-1], "Yes, we met")
    assert met.text == "Thanks for telling us! 💛"
    not_yet = await fake.click("bea", dms(fake, "bea")[-1], "Not yet")
    assert not_yet.text.startswith("Thanks. There's still time")
    stats = await fake.slash(olu, "circles stats")
    assert "6 active members; 1 round(s), 2 circle(s)" in stats.text and "met: 50 % of 2 who answered" in stats.text
    strict(fake)


async def test_group_threads_on_the_port_fall_back_to_help_and_survive_a_retry(world, caplog):
    fake, port = world.fake, world.bot.port
    ana, dana = (fake.member(n)["user"]["id"] for n in ("ana", "dana"))
    gone = fake.add_member("gone")["user"]["id"]
    del fake.members[int(gone)]  # joined circles, then left the server

    # No #circles: the help channel. The first try fails adding someone (as a send can fail half
    # done); the delivery tries again with the same message, which reuses the thread.
    fake.inject("PUT", r"^/channels/\d+/thread-members/\d+$", status=403, times=1)
    message = Message("👋 Your circle", dedupe_key="circle-round:9:group:1")
    with pytest.raises(PlatformError):
        await port.create_group([ana, dana], "Circle 1", message)
    with caplog.at_level(logging.WARNING, logger="bot.adapters.discord_port"):
        place = await port.create_group([ana, dana, gone], "Circle 1", message)
    assert f"could not add member {gone}" in caplog.text
    [thread] = group_threads(fake)
    assert place.thread_id == thread["id"] and place.channel_id == fake.channel("help")["id"]
    assert fake.thread_member_ids(thread) == {ana, dana, str(fake.app_id)}
    assert [m.content for m in fake.messages_in(thread)] == ["👋 Your circle"]
    strict(fake, allowed=1)  # the member who left: 10007 Unknown Member

    fake.channel("help")["name"] = "questions"
    await fake.dispatch("CHANNEL_UPDATE", fake.channel("questions"))
    await fake._until(lambda: world.bot.get_channel(int(fake.channel("questions")["id"])).name == "questions", 5, "")
    with pytest.raises(PlatformError, match="create #circles"):
        await port.create_group([ana], "Circle 2", Message("Hi", dedupe_key="circle-round:9:group:2"))


async def test_private_threads_need_the_permission_to_create_them(world):
    fake, port = world.fake, world.bot.port
    role = fake.roles[int(fake.role("Conference Bot")["id"])]
    role["permissions"] = str(int(role["permissions"]) & ~(1 << 36))  # Create Private Threads
    with pytest.raises(PlatformError, match="lacks a permission"):
        await port.create_group([fake.member("ana")["user"]["id"]], "Circle 1", Message("Hi", dedupe_key="k"))
    assert group_threads(fake) == []
    fake.errors.clear()  # expected


# -- reports --------------------------------------------------------------------------------------
async def test_a_report_from_a_dm_is_relayed_both_ways_and_the_reported_member_sees_nothing(world):
    fake, olu = world.fake, world.organizer
    ana, dana = fake.member("ana"), fake.member("dana")
    dana_id = dana["user"]["id"]
    moderation = await world.add_channel("moderation", private=True, roles=("Organizer",))
    assert not fake.can_view(ana, moderation) and not fake.can_view(dana, moderation)
    assert fake.can_view(olu, moderation)
    assert {c["name"]: c["contexts"] for c in fake.global_commands.values()} == {"report": [1]}

    dm = fake.open_dm(ana)  # ana writes to the bot privately
    with pytest.raises(KeyError, match="not offered in a DM"):
        await fake.slash(ana, "privacy export", channel=dm)
    text = "dana keeps sending me messages after I asked her to stop"
    done = await fake.slash(ana, "report new", {"text": text, "about": f"<@{dana_id}>"}, channel=dm)
    assert done.text.startswith("Thank you. Your report is #1 and only the organizers can see it.")
    [notice] = fake.messages_in(moderation)
    assert notice.content == (
        f"🛡️ **Report #1** from ana (discord)\n**About:** <@{dana_id}>\n> {text}\n"
        "Reply privately with `/report reply 1 TEXT`; close with `/report close 1`."
    )
    assert notice.allowed_mentions == NO_PINGS and not notice.pinged  # dana is named, never notified

    answer = await fake.slash(olu, "report reply", {"id": 1, "text": "Thank you, we're on it."}, channel=moderation)
    assert answer.text == "Sent privately to the reporter of #1." and answer.ephemeral
    assert dms(fake, ana)[-1].content.startswith("🛡️ The organizers answered your report #1:\n> Thank you, we're on it.")
    more = await fake.slash(ana, "report reply", {"id": 1, "text": "It happened again tonight."}, channel=dm)
    assert more.text == "Added to report #1; the organizers have it."
    assert (
        fake.messages_in(moderation)[-1].content == "🛡️ **Report #1**, the reporter adds:\n> It happened again tonight."
    )

    refused = await fake.slash(dana, "report reply", {"id": 1, "text": "What report?"})
    assert refused.text == "You have no report #1." and refused.ephemeral
    not_theirs = await fake.slash(ana, "report close", {"id": 1}, channel=dm)
    assert not_theirs.text.startswith("Sorry, only organizers can use /report close.")
    olu_dm = fake.open_dm(olu)  # organizers keep their role in a DM with the bot
    closed = await fake.slash(olu, "report close", {"id": 1}, channel=olu_dm)
    assert closed.text == "Report #1 is closed; the reporter was told."
    assert dms(fake, ana)[-1].content.startswith("🛡️ Your report #1 is closed.")

    # dana saw nothing of it: no DM, nothing where she can read, no mention that notified her.
    assert dms(fake, dana) == []
    for message in fake.visible_messages(dana):
        assert "Report #1" not in message.content and text not in message.content, message.content
        assert "again tonight" not in message.content
    assert not any(dana_id in {u["id"] for u in m.payload["mentions"]} for m in fake.messages.values())
    strict(fake)


# -- privacy --------------------------------------------------------------------------------------
async def test_privacy_export_is_a_file_only_the_member_sees_and_delete_asks_first(world):
    fake = world.fake
    ana, dana = fake.member("ana"), fake.member("dana")
    await join_circles(world, "ana")
    await fake.slash(ana, "coalition join", {"name": "Residency culture"})

    exported = await fake.slash(ana, "privacy export")
    assert exported.text.startswith("Here is everything I hold about you.") and exported.ephemeral
    [(name, content, _)] = exported.files
    assert name == "my-data.json"
    data = json.loads(content)
    assert data["circle_people"][0]["user_id"] == ana["user"]["id"]
    assert data["coalition_members"][0]["display_name"] == "ana"
    [message] = exported.messages
    assert message.visible_to == int(ana["user"]["id"])
    assert message not in fake.visible_messages(dana) and message in fake.visible_messages(ana)

    confirm = await fake.slash(ana, "privacy delete")
    assert confirm.ephemeral and [b["label"] for b in confirm.buttons()] == ["Erase my data", "Keep it"]
    with pytest.raises(PermissionError):  # dana cannot press ana's buttons: she does not see them
        await fake.click(dana, confirm.message_with("Erase my data"), "Erase my data")
    kept = await fake.click(ana, confirm.message_with("Keep it"), "Keep it")
    assert kept.text == "Nothing was erased."
    assert await world.app.db.fetchone("SELECT 1 FROM circle_people") is not None
    erased = await fake.click(ana, confirm.message_with("Erase my data"), "Erase my data")
    assert re.fullmatch(r"Done: \d+ record\(s\) about you were erased or anonymised\.", erased.text)
    again = json.loads((await fake.slash(ana, "privacy export")).files[0][1])
    assert again["circle_people"] == [] and again["coalition_members"] == []
    strict(fake)


# -- mentions -------------------------------------------------------------------------------------
async def test_user_supplied_text_never_pings(world):
    """@everyone, @here, a role and a member in a proposal title, an /ask question, a coalition
    name and a report are shown as typed and notify nobody, wherever the bot repeats them."""
    fake, olu, ana = world.fake, world.organizer, world.participant
    announcements = fake.role("Announcements")
    announcements["mentionable"] = True  # a role anyone may ping: only allowed_mentions stops it
    await fake.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(fake.guild_id), "role": announcements})
    dana_id = fake.member("dana")["user"]["id"]
    loud = f"@everyone @here <@&{announcements['id']}>"
    await fake.slash(olu, "event setup")  # coalitions become forum posts
    first = len(fake.messages)

    await propose(world, ana, **{"Working title": f"Care {loud} <@{dana_id}>"})
    note = fake.messages_in("organizers")[-1]
    assert f"**Care {loud} <@{dana_id}>**" in note.content

    await world.add_channel("moderation", private=True, roles=("Organizer",))
    await fake.slash(ana, "report new", {"text": f"Spam {loud} <@{dana_id}>"})
    assert loud in fake.messages_in("moderation")[-1].content

    await fake.slash(ana, "coalition propose", {"name": f"Allies {loud}", "description": f"For {loud}"})
    notice = fake.messages_in("organizers")[-1]
    assert f"**Allies {loud}**" in notice.content
    approved = await fake.click(olu, notice, "Approve")
    assert not approved.ephemeral and loud in approved.text  # a public answer in #organizers
    await fake.slash(ana, "coalition join", {"name": f"Allies {loud}"})
    assert loud in dms(fake, ana)[-1].content
    post = fake.channel(f"Allies {loud}")  # a thread name never pings
    assert [m.content.count(loud) for m in fake.messages_in(post)] == [3, 2]  # name, description, prompt

    advance_to(world, dt.datetime(2023, 10, 13, 12, 52, tzinfo=dt.UTC))  # the opening's thread is open
    await world.app.deliveries.run_due()
    await fake.slash(ana, "ask", {"session": "opening", "question": f"Why {loud} <@{dana_id}>?"})
    hidden = await fake.slash(ana, "ask", {"session": "opening", "question": f"And {loud}?", "anonymous": "yes"})
    await fake.click(ana, hidden.message_with("Post anonymously"), "Post anonymously")
    thread = fake.channel("Q&A: Opening keynote: Challenging norms together")
    assert [m.content.count(loud) for m in fake.messages_in(thread)[-2:]] == [1, 1]

    sent = [m for m in list(fake.messages.values())[first:] if int(m.payload["author"]["id"]) == fake.app_id]
    repeating = [m for m in sent if loud in m.content]
    assert len(repeating) >= 8
    for message in sent:
        kind = "DM" if fake.channels[message.channel_id]["type"] == DM else "channel"
        assert message.allowed_mentions == NO_PINGS, (kind, message.content)
        assert not message.pinged, (kind, message.content)
    strict(fake)


async def test_an_organizer_learns_when_the_reporter_cannot_get_the_answer(world):
    """A member who accepts no DMs from server members cannot get the organizers' answer: the
    organizer is told so, in the adapter's words, rather than "something went wrong"."""
    fake, olu = world.fake, world.organizer
    await fake.slash("ana", "report new", {"text": "Someone is following me around the sessions"})
    fake.refuse_dms("ana")
    answer = await fake.slash(olu, "report reply", {"id": 1, "text": "Can we talk?"})
    assert "Something went wrong" not in answer.text and answer.ephemeral
    assert "I can't send ana a direct message: they don't accept messages from server members." in answer.text
    strict(fake, allowed=1)  # the refused DM: 50007
