"""Scheduled and organizer-sent messages on Discord, with the real discord.py client against the
fake server: deadline reminders and nudges through the ledger (once each, across restarts), the
/announce flow from modal to report, opt-in pings and the Announcements role, and a nudge fan-out
through a storm of 429s.

Each test gets its own fake server and bot (the clock only moves forward, and the ledger remembers
everything), with the cogs under test only, so other features' timelines stay out of the way.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.core.clock import Clock
from bot.core.model import Message, Place, Platform
from cogs.announcements import AnnouncementsCog
from cogs.general import GeneralCog
from cogs.proposals import ProposalsCog
from cogs.reminders import RemindersCog
from storage import deliveries as ledger
from storage import people
from storage import proposals as proposal_store
from tests.adapters.conftest import DiscordWorld, discord_world
from tests.fakes.discord_server import StoredMessage

COGS = [GeneralCog, ProposalsCog, RemindersCog, AnnouncementsCog]
MAY_1 = dt.datetime(2023, 5, 1, 12, 0, tzinfo=dt.UTC)  # a month before the first reminder
NO_PINGS = {"parse": []}  # AllowedMentions.none(), as discord.py sends it


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[DiscordWorld]:
    async with discord_world(tmp_path, COGS) as world:
        world.app.clock = Clock.frozen(MAY_1)
        await set_mentionable(world, "Announcements", True)
        yield world


async def set_mentionable(world: DiscordWorld, name: str, mentionable: bool) -> None:
    """An admin ticks 'Allow anyone to @mention this role' (or not); the bot hears of it."""
    fake = world.fake
    role = fake.role(name)
    role["mentionable"] = mentionable
    await fake.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(fake.guild_id), "role": role})
    await fake._until(
        lambda: world.bot.get_guild(fake.guild_id).get_role(int(role["id"])).mentionable is mentionable,
        5,
        "role",
    )


async def restart(world: DiscordWorld) -> None:
    """A new process: a fresh client and app on the same database and clock."""
    old = world.app
    await world.stop_bot()
    world.app = App(old.config, old.db, old.clock, COGS)
    await world.start_bot()


def advance_to(world: DiscordWorld, when: dt.datetime) -> None:
    world.app.clock.advance(when - world.app.clock.now())


async def give_intent(world: DiscordWorld, member: dict, title: str) -> None:
    values = {
        "type": "poster",
        "area": "ume",
        "title": title,
        "description": "How residents and neighbours co-designed a curriculum together.",
        "email": f"{member['user']['username']}@example.org",
    }
    app = world.app
    user = member["user"]
    await proposal_store.create(app.db, "discord", user["id"], user["username"], values, app.clock.now(), 10)


def dms(world: DiscordWorld, member: dict) -> list[StoredMessage]:
    try:
        return world.fake.messages_in(world.fake.channel_dm(member))
    except KeyError:  # the bot never opened a DM with them
        return []


async def statuses(world: DiscordWorld, what: str) -> dict[tuple[str, str], str]:
    rows = await world.app.db.fetchall(
        "SELECT occurrence, target, status FROM deliveries WHERE what = ? AND platform = 'discord'", (what,)
    )
    return {(r["occurrence"], r["target"]): r["status"] for r in rows}


# -- (a) deadline reminders and nudges, once each, across restarts ------------------------------
async def test_every_reminder_and_nudge_goes_out_once_across_restarts(world):
    fake = world.fake
    ana, dana = fake.member("ana"), fake.member("dana")
    await give_intent(world, ana, "Listening to patients first")
    await give_intent(world, dana, "Curriculum as care")
    opted_out = await fake.slash(dana, "reminders", {"state": "off"})
    assert "no more private deadline reminders" in opted_out.text

    planned = [o for o in await world.app.deliveries.occurrences() if o.what in ("deadline", "nudge")]
    offsets = world.app.config.reminders
    assert len(planned) == len(offsets.deadline_offsets) + 1 + len(offsets.nudge_offsets)  # + passed
    instants = sorted({o.due_at for o in planned})
    for due in instants:
        expected_posts = len([o for o in planned if o.due_at == due and o.what == "deadline"])
        expected_dms = len([o for o in planned if o.due_at == due and o.what == "nudge"])
        posts, nudges = len(fake.messages_in("announcements")), len(dms(world, ana))

        advance_to(world, due - dt.timedelta(seconds=1))
        assert (await world.app.deliveries.run_due()).sent == 0, f"early at {due}"
        advance_to(world, due)
        report = await world.app.deliveries.run_due()
        assert (report.sent, report.failed, report.skipped) == (expected_posts + expected_dms, 0, 0)
        assert len(fake.messages_in("announcements")) == posts + expected_posts
        assert len(dms(world, ana)) == nudges + expected_dms
        assert (await world.app.deliveries.run_due()).sent == 0  # running again sends nothing

        await restart(world)
        assert (await world.app.deliveries.reconcile()) == 0
        assert (await world.app.deliveries.run_due()).sent == 0, f"repeated after a restart at {due}"
        assert len(fake.messages_in("announcements")) == posts + expected_posts

    posted = fake.messages_in("announcements")
    texts = [m.content for m in posted]
    assert len(texts) == len(offsets.deadline_offsets) + 1
    assert texts[0].startswith("📣 **Proposals for Challenging Norms are open** until <t:1688183999:F>")
    assert texts[2].startswith("⏳ **7 days left**")
    assert texts[-1].startswith("The proposal deadline for Challenging Norms has passed")
    assert not any("late" in t for t in texts)
    for message in posted:
        assert message.payload["nonce"] and message.allowed_mentions == NO_PINGS and not message.pinged

    nudged = [m.content for m in dms(world, ana)]
    assert len(nudged) == len(offsets.nudge_offsets)
    assert all("#1 “Listening to patients first”" in t and "Type /reminders off" in t for t in nudged)
    assert dms(world, dana) == []  # she opted out on Discord

    ana_id = ana["user"]["id"]
    assert set((await statuses(world, "deadline")).values()) == {"sent"}
    assert set((await statuses(world, "nudge")).values()) == {"sent"}
    assert {o for o, _ in await statuses(world, "nudge")} == {"7d", "2d", "12h"}
    assert {t for _, t in await statuses(world, "nudge")} == {f"user:{ana_id}"}


# -- (b) /announce: modal, preview, send, report; scheduled and cancelled; pings ----------------
async def announce(world: DiscordWorld, **answers: str):
    """/announce new as olu, filled in with `answers` (by input label): the preview."""
    fake, olu = world.fake, world.organizer
    opened = await fake.slash(olu, "announce new")
    assert opened.modal["title"] == "New announcement"
    return await fake.submit_modal(olu, opened, answers)


async def test_an_announcement_from_the_form_to_the_channel_with_a_report(world):
    fake, olu = world.fake, world.organizer
    text = "Registration is open! Tell @everyone you know."
    preview = await announce(world, Announcement=text)
    assert preview.ephemeral
    assert preview.text.startswith("**Preview** (only you can see this):")
    assert "**To:** Discord #announcements" in preview.text and "**Ping:** nobody" in preview.text
    assert [b["label"] for b in preview.buttons()] == ["Send", "Cancel"]
    assert fake.messages_in("announcements") == []  # nothing goes out before Send

    report = await fake.click(olu, preview.message_with("Send"), "Send")
    [posted] = fake.messages_in("announcements")
    assert posted.content == text
    assert posted.allowed_mentions == NO_PINGS  # the @everyone in the text pings nobody
    assert not posted.pinged and posted.payload["mention_everyone"] is False
    link = f"https://discord.com/channels/{fake.guild_id}/{posted.channel_id}/{posted.id}"
    assert report.ephemeral
    assert report.text.splitlines() == ["Announcement #1:", f"- ✅ Discord #announcements: [view]({link})"]

    again = await fake.click(olu, preview.message_with("Send"), "Send")
    assert "already sent" in again.text
    await world.app.deliveries.run_due()
    assert len(fake.messages_in("announcements")) == 1


async def test_a_scheduled_announcement_is_listed_and_a_cancelled_one_never_posts(world):
    fake, olu = world.fake, world.organizer
    when = "Send at (empty: right away)"
    first = await announce(world, Announcement="Never mind this one", **{when: "2023-05-02 09:00"})
    assert "**When:** <t:1683032400:F>" in first.text  # 09:00 in New York, the conference's zone
    scheduled = await fake.click(olu, first.message_with("Schedule"), "Schedule")
    assert scheduled.text == ("Announcement #1 is scheduled for <t:1683032400:F>. /announce cancel 1 stops it.")
    second = await announce(world, Announcement="Sessions start tomorrow", **{when: "2023-05-03 09:00"})
    await fake.click(olu, second.message_with("Schedule"), "Schedule")

    listing = await fake.slash(olu, "announce scheduled")
    assert listing.ephemeral
    assert "- **#1** <t:1683032400:F> to Discord #announcements: “Never mind this one”" in listing.text
    assert "- **#2** <t:1683118800:F> to Discord #announcements: “Sessions start tomorrow”" in listing.text

    cancelled = await fake.slash(olu, "announce cancel", {"id": 1})
    assert cancelled.text == "Announcement #1 is cancelled; nothing more of it will be sent."
    assert "**#1**" not in (await fake.slash(olu, "announce scheduled")).text

    advance_to(world, dt.datetime(2023, 5, 2, 13, 0, 30, tzinfo=dt.UTC))  # past #1's time
    await world.app.deliveries.run_due()
    assert fake.messages_in("announcements") == []
    advance_to(world, dt.datetime(2023, 5, 3, 13, 0, 30, tzinfo=dt.UTC))  # past #2's time
    await world.app.deliveries.run_due()
    await world.app.deliveries.run_due()
    assert [m.content for m in fake.messages_in("announcements")] == ["Sessions start tomorrow"]
    assert "No announcements are scheduled" in (await fake.slash(olu, "announce scheduled")).text
    assert await statuses(world, "announcement") == {("2", f"channel:{fake.channel('announcements')['id']}"): "sent"}


async def test_a_ping_mentions_the_announcements_role_and_nothing_else(world):
    fake, olu = world.fake, world.organizer
    role_id = fake.role("Announcements")["id"]
    preview = await announce(world, Announcement="Doors open @everyone", Ping="yes")
    assert "**Ping:** people who opted in" in preview.text
    await fake.click(olu, preview.message_with("Send"), "Send")
    [posted] = fake.messages_in("announcements")
    assert posted.content == f"<@&{role_id}>\nDoors open @everyone"
    assert posted.allowed_mentions == {"parse": [], "roles": [int(role_id)]}
    assert posted.payload["mention_roles"] == [role_id]
    assert posted.payload["mention_everyone"] is False and posted.payload["mentions"] == []


async def test_opt_in_pings_on_the_port(world, caplog):
    """A role that is missing or not mentionable is a warning; `mention_users` pings those users."""
    fake, port = world.fake, world.bot.port
    place = Place(Platform.DISCORD, fake.channel("help")["id"], name="help")
    ana, dana = fake.member("ana")["user"]["id"], fake.member("dana")["user"]["id"]

    with caplog.at_level(logging.WARNING, logger="bot.adapters.discord_port"):
        await port.post(place, Message("Speakers, to the green room", notify_role="Speakers"))
    landed = fake.messages_in("help")[-1]
    assert landed.content == "Speakers, to the green room" and not landed.pinged
    assert "no role 'Speakers'" in caplog.text

    await set_mentionable(world, "Announcements", False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.adapters.discord_port"):
        await port.post(place, Message("Quiet ping", notify_role="Announcements"))
    assert "is not mentionable" in caplog.text
    assert not fake.messages_in("help")[-1].pinged  # as on Discord: the role is shown, nobody notified

    await port.post(place, Message("Your session is next <@&1> @here", mention_users=(ana, dana, ana)))
    landed = fake.messages_in("help")[-1]
    assert landed.content == f"<@{ana}> <@{dana}>\nYour session is next <@&1> @here"
    assert landed.allowed_mentions == {"parse": [], "users": [int(ana), int(dana)]}
    assert {u["id"] for u in landed.payload["mentions"]} == {ana, dana}
    assert landed.payload["mention_roles"] == [] and landed.payload["mention_everyone"] is False

    link = await port.message_link(place.channel_id, str(landed.id))
    assert link == f"https://discord.com/channels/{fake.guild_id}/{place.channel_id}/{landed.id}"


# -- (c) /notify gives and takes the Announcements role ----------------------------------------
async def test_notify_on_and_off_change_the_announcements_role(world):
    fake, ana = world.fake, world.participant
    role_id, ana_id = fake.role("Announcements")["id"], ana["user"]["id"]
    path = f"/guilds/{fake.guild_id}/members/{ana_id}/roles/{role_id}"

    on = await fake.slash(ana, "notify", {"state": "on"})
    assert on.text == "Done: announcements that ping will ping you. /notify off stops it." and on.ephemeral
    assert role_id in fake.member("ana")["roles"]
    assert [(c.method, c.status) for c in fake.calls if c.path == path] == [("PUT", 204)]
    assert await people.notified(world.app.db, "discord") == [ana_id]

    off = await fake.slash(ana, "notify", {"state": "off"})
    assert off.text.startswith("Done: announcements will no longer ping you")
    assert role_id not in fake.member("ana")["roles"]
    assert [(c.method, c.status) for c in fake.calls if c.path == path] == [("PUT", 204), ("DELETE", 204)]
    assert await people.notified(world.app.db, "discord") == []
    assert not fake.errors


# -- (d) a nudge fan-out through a 429 storm ---------------------------------------------------
async def test_a_nudge_fan_out_through_a_429_storm_reaches_everyone_once(world):
    fake, app = world.fake, world.app
    members = [fake.add_member(f"member{n:02d}") for n in range(30)]
    for n, member in enumerate(members):
        await give_intent(world, member, f"Fan-out proposal {n:02d}")
    seven_days = app.config.deadline - dt.timedelta(days=7)
    advance_to(world, seven_days)
    # Every channel (each DM, and #announcements for the reminders due now) is rate limited
    # once, as is opening a few of the DMs; discord.py waits and retries each.
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.2, times=100, per_path=1)
    fake.inject("POST", r"^/users/@me/channels$", status=429, retry_after=0.2, times=4)
    calls_before = len(fake.calls)

    started = time.monotonic()
    report = await app.deliveries.run_due()
    elapsed = time.monotonic() - started

    assert report.failed == 0, report.details
    limited = [c for c in fake.calls[calls_before:] if c.status == 429]
    assert len(limited) >= 30 + 1 + 4 and elapsed >= 0.2  # the storm happened, and slowed it down
    for n, member in enumerate(members):
        [nudge] = [m.content for m in dms(world, member)]
        assert f"“Fan-out proposal {n:02d}”" in nudge
    nudges = await statuses(world, "nudge")
    assert len(nudges) == 30 and set(nudges.values()) == {"sent"}
    rows = await ledger.for_occurrence(app.db, "nudge", "7d")
    assert all(r.attempts == 1 and r.message_id for r in rows)  # discord.py absorbed the 429s


# -- failures outside the adapter's control -------------------------------------------------------------
async def test_a_send_that_outlasted_a_rate_limit_is_retried(world):
    fake, app = world.fake, world.app
    ana = fake.member("ana")
    await give_intent(world, ana, "Listening to patients first")
    advance_to(world, app.config.deadline - dt.timedelta(days=7))
    # Only the nudge: the announcements channel is not found, so the reminders have no target.
    fake.channel("announcements")["name"] = "news"
    await fake.dispatch("CHANNEL_UPDATE", fake.channel("news"))
    fake.inject("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.02, times=5)
    first = await app.deliveries.run_due()  # discord.py gives up after 5 tries; the ledger tries again
    assert first.sent == 1 and first.failed == 0
    await app.deliveries.run_due()
    assert len(dms(world, ana)) == 1


async def test_notify_says_so_when_the_server_has_no_announcements_role(world):
    fake = world.fake
    role = fake.role("Announcements")
    del fake.roles[int(role["id"])]
    await fake.dispatch("GUILD_ROLE_DELETE", {"guild_id": str(fake.guild_id), "role_id": role["id"]})
    guild = world.bot.get_guild(fake.guild_id)
    await fake._until(lambda: guild.get_role(int(role["id"])) is None, 5, "the role to be gone")
    seen = await fake.slash(world.participant, "notify", {"state": "on"})
    assert "Something went wrong" not in seen.text
    assert "Announcements" in seen.text
