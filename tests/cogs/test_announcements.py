"""Announcements: form → preview → send → per-target report; scheduled → cancel; opt-in pings."""

import dataclasses
import datetime as dt

from bot.core.model import Form, FormErrors, Platform
from storage import people
from tests.cogs.test_reminders import world  # noqa: F401  (fixture)
from tests.conftest import console_actor

OLU = dataclasses.replace(console_actor("olu", organizer=True))
VALUES = {
    "text": "Registration is open!",
    "channels": "announcements",
    "platforms": "all",
    "send_at": "",
    "ping": "no",
}


async def preview(app, lobby, **changes):
    form = await app.dispatcher.run_command("announce new", {}, OLU, lobby)
    assert isinstance(form, Form) and form.title == "New announcement"
    return await app.dispatcher.submit(form.id, form.state, VALUES | changes, OLU, lobby)


async def test_preview_then_send_to_every_platform_with_a_report(world, lobby):  # noqa: F811
    app = world.app
    shown = await preview(app, lobby, channels="announcements, #nowhere")
    assert "**Preview** (only you can see this):" in shown.text
    assert "**To:** Discord #announcements, Slack #announcements" in shown.text
    assert "Not found, skipped: Discord #nowhere, Slack #nowhere" in shown.text
    assert [b.label for b in shown.buttons] == ["Send", "Cancel"]
    assert world.discord.sent == []  # nothing goes out before Send
    report = await app.dispatcher.click(shown.buttons[0].id, OLU, lobby)
    assert report.text.splitlines() == [
        "Announcement #1:",
        "- ✅ Discord #announcements",
        "- ✅ Slack #announcements",
    ]
    assert world.discord.texts("D1") == ["Registration is open!"] and world.slack.texts("S1") == [
        "Registration is open!"
    ]
    again = await app.dispatcher.click(shown.buttons[0].id, OLU, lobby)
    assert "already sent" in again.text
    await app.deliveries.run_due()
    assert len(world.discord.sent) == 1  # the ledger keeps it at one


async def test_failures_are_reported_with_their_reason(world, lobby):  # noqa: F811
    world.slack.fail_for["S1"] = "not_in_channel"
    shown = await preview(world.app, lobby)
    report = await world.app.dispatcher.click(shown.buttons[0].id, OLU, lobby)
    assert "- ❌ Slack #announcements: not_in_channel" in report.text
    assert "- ✅ Discord #announcements" in report.text


async def test_scheduled_announcements_wait_and_can_be_cancelled(world, lobby):  # noqa: F811
    app = world.app
    first = await preview(app, lobby, send_at="2023-05-02T09:00")
    assert "**When:** <t:1683032400:F>" in first.text and first.buttons[0].label == "Schedule"
    scheduled = await app.dispatcher.click(first.buttons[0].id, OLU, lobby)
    assert "is scheduled for <t:1683032400:F>" in scheduled.text
    second = await preview(app, lobby, text="Never mind", send_at="2023-05-03T09:00")
    await app.dispatcher.click(second.buttons[0].id, OLU, lobby)
    listing = await app.dispatcher.run_command("announce scheduled", {}, OLU, lobby)
    assert "**#1** <t:1683032400:F> to Discord #announcements, Slack #announcements: “Registration is open!”" in (
        listing.text
    )
    cancelled = await app.dispatcher.run_command("announce cancel", {"id": "2"}, OLU, lobby)
    assert "is cancelled" in cancelled.text
    await world.at(dt.datetime(2023, 5, 2, 13, 0, 30, tzinfo=dt.UTC))  # 09:00:30 in New York
    await world.at(dt.datetime(2023, 5, 4, tzinfo=dt.UTC))
    assert world.discord.texts() == ["Registration is open!"]
    assert "already sent" in (await app.dispatcher.run_command("announce cancel", {"id": "1"}, OLU, lobby)).text
    assert (
        "No announcements are scheduled"
        in (await app.dispatcher.run_command("announce scheduled", {}, OLU, lobby)).text
    )


async def test_bad_input_is_refused_per_field(world, lobby):  # noqa: F811
    past = await preview(world.app, lobby, send_at="2023-04-01T09:00")
    assert past == FormErrors({"send_at": "That time has passed; leave it empty to send right away."})
    nowhere = await preview(world.app, lobby, channels="nope")
    assert nowhere.errors == {"channels": "None of these channels exist on the chosen platforms: nope."}
    garbled = await preview(world.app, lobby, send_at="next tuesday")
    assert garbled.errors == {"send_at": "Send at (empty: right away): write a date and time like 2023-06-23 09:00."}


async def test_pings_only_reach_people_who_opted_in(world, lobby):  # noqa: F811
    app = world.app
    now = app.clock.now()
    await people.set_notify(app.db, "slack", "U1", "ana", True, now)
    await people.set_notify(app.db, "slack", "U2", "ben", False, now)
    shown = await preview(app, lobby, ping="yes", text="@everyone <!channel> doors open")
    await app.dispatcher.click(shown.buttons[0].id, OLU, lobby)
    (discord_message,) = [m for _, _, m in world.discord.sent]
    (slack_message,) = [m for _, _, m in world.slack.sent]
    assert discord_message.notify_role == "Announcements" and discord_message.mention_users == ()
    assert slack_message.mention_users == ("U1",) and slack_message.notify_role == ""
    assert discord_message.text == "@everyone <!channel> doors open"  # adapters keep user text from pinging


async def test_only_organizers_announce(world, lobby):  # noqa: F811
    ana = console_actor("ana")
    for name, options in [("announce new", {}), ("announce scheduled", {}), ("announce cancel", {"id": "1"})]:
        assert "only organizers" in (await world.app.dispatcher.run_command(name, options, ana, lobby)).text
    assert "only organizers" in (await world.app.dispatcher.click("ann-send:1", ana, lobby)).text
    assert "only organizers" in (await world.app.dispatcher.submit("announce", "", VALUES, ana, lobby)).text


async def test_notify_adds_the_discord_role(world, lobby):  # noqa: F811
    calls = []

    async def add_role(user_id, role):
        calls.append(("add", user_id, role))

    async def remove_role(user_id, role):
        calls.append(("remove", user_id, role))

    world.discord.add_role, world.discord.remove_role = add_role, remove_role
    member = dataclasses.replace(console_actor("ana"), platform=Platform.DISCORD, user_id="42")
    await world.app.dispatcher.run_command("notify", {"state": "on"}, member, lobby, world.discord)
    await world.app.dispatcher.run_command("notify", {"state": "off"}, member, lobby, world.discord)
    assert calls == [("add", "42", "Announcements"), ("remove", "42", "Announcements")]
