"""Circles, reports, privacy and pings on Slack, through the served app and the fake Web API.

Circles: members join through the modal, an organizer previews and announces a round (warning DMs),
the round opens one group DM per circle exactly once (across a restart and a crash), follow-up
buttons, stats; the port's group DM and its private-channel fallback above eight people.
Reports: the full relay, also from a direct message, and the reported person never hears of it.
Privacy: the export is a file only the member gets; delete asks first. Pings: nothing people type
(a proposal title, a question, a coalition name, a report) can become @everyone, @here, @channel or
an @-mention in what the bot posts.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bot.core.clock import Clock
from bot.core.model import Message
from bot.core.port import PlatformError
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import GROUP_ORGANIZER, ORGANIZER, PARTICIPANT, stop_harness, visible_text
from tests.adapters.test_slack_event import LEAD, World, buttons_in, marker, sessions
from tests.adapters.test_slack_proposals import GOOD, buttons_of, opened_modal
from tests.conftest import BEFORE_DEADLINE
from tests.fakes.slack_server import FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack

BEN = "UBEN00001"  # the person a report is about
SAM = "USAM00001"  # a stranger to the report
ROLES = ["medical student", "house staff", "faculty"]


@pytest.fixture
async def world(fake_slack, config, tmp_path):
    fake_slack.channel_rate = None
    fake_slack.add_channel("moderation", private=True, members=(ORGANIZER, GROUP_ORGANIZER))
    fake_slack.add_user(BEN, "Ben Other")
    fake_slack.add_user(SAM, "Sam Stranger")
    fast = config.model_copy(update={"delivery": config.delivery.model_copy(update={"slack_rate": 100})})
    w = World(fake_slack, fast, Clock.frozen(BEFORE_DEADLINE), tmp_path / "slack.sqlite3")
    await w.start()
    yield w
    await stop_harness(w.slack)


def dm_of(user: str) -> str:
    return "D" + user[1:]


# -- circles ---------------------------------------------------------------------------------------------
async def join_circles(world: World, user: str, role: str, areas: str = "all", institution: str = "") -> str:
    sent = await world.slack.command("/circles join", user=user)
    view = await opened_modal(world.slack, sent)
    assert view["title"]["text"] == "Join coalition circles" and view["submit"]["text"] == "Join"
    values = {"role": role, "areas": areas, "institution": institution, "timezone": ""}
    accepted = await world.slack.submit(view, values, user=user)
    assert accepted.status == 200
    await world.slack.idle()
    if accepted.text:  # validation errors come back in the acknowledgement
        return json.dumps(accepted.json())
    return visible_text(await world.slack.reply_to(sent))


def group_lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith("• "))


async def test_a_circles_round_opens_one_group_dm_per_circle_once(world):
    fake = world.fake
    members = [fake.add_user(f"UCIRC000{i}", f"Circle Person {i}") for i in range(7)]
    for i, user in enumerate(members):
        joined = await join_circles(world, user, ROLES[i % 3], "ume, community" if i % 2 else "gme", f"School {i}")
        assert "You're in!" in joined
    refused = await join_circles(world, fake.add_user("UZED00001", "Zed"), "faculty", "dentistry")
    assert "Unknown area(s): dentistry" in refused  # the modal stays open with the error under the field
    assert "Paused until you /circles join again" in await world.say("/circles pause", user=members[6])

    dry = await world.say("/circles match dry-run=yes", user=ORGANIZER)
    assert "*Dry run*" in dry and "Slack: 2 circle(s)" in dry and members[6] not in dry
    planned = group_lines(dry)
    assert not fake.calls_to("chat.postMessage") and not fake.calls_to("conversations.open")

    announced = await world.say("/circles match", user=ORGANIZER)
    assert "Round #1 is announced" in announced and "6 member(s) were told" in announced
    for user in members[:6]:
        (warning,) = fake.messages(dm_of(user))
        assert "/circles pause skips it" in warning["text"] and marker(warning) == f"circle-warning:1:user:{user}#0"
    assert dm_of(members[6]) not in fake.channels  # paused: not told, not matched
    assert group_lines(await world.say("/circles match dry-run=yes", user=ORGANIZER)) == planned
    assert "Next round:" in await world.say("/circles status", user=members[0])

    match_at = world.clock.now() + dt.timedelta(hours=24)
    await world.at(match_at - dt.timedelta(seconds=1))
    assert fake.group_dms() == []
    await world.at(match_at)
    groups = fake.group_dms()
    assert len(groups) == 2
    opened = [c.args["users"] for c in fake.calls_to("conversations.open") if "," in c.args["users"]]
    assert len(opened) == 2
    rows = await world.slack.app.db.fetchall("SELECT id FROM circle_groups ORDER BY id")
    for channel in groups:
        people = sorted(channel.members - {FakeSlack.BOT_USER})
        assert f"• {', '.join(people)}" in planned  # exactly what the dry run showed
        (intro,) = channel.messages
        assert intro["text"].startswith("👋 *Your coalition circle* (round #1): meet each other!")
        assert all(fake.users[p]["real_name"] in intro["text"] for p in people)
        assert marker(intro).removesuffix("#0") in {f"circle-round:1:group:{r['id']}" for r in rows}
    assert all(len(fake.messages(dm_of(u))) == 1 for u in members[:6])  # no per-person fallback DMs

    # A restart repeats nothing; nor does a crash that left one group's delivery 'sending'.
    await world.restart()
    await world.slack.app.db.execute(
        "UPDATE deliveries SET status = 'sending' WHERE what = 'circle-round' AND id = "
        "(SELECT MIN(id) FROM deliveries WHERE what = 'circle-round')"
    )
    await world.restart()  # reconcile: "send again", and the port finds the marker in the group DM first
    await world.at(match_at + dt.timedelta(hours=1))
    assert len(fake.group_dms()) == 2 and all(len(c.messages) == 1 for c in fake.group_dms())
    statuses = await world.slack.app.db.fetchall("SELECT status FROM deliveries WHERE what = 'circle-round'")
    assert [r["status"] for r in statuses] == ["sent", "sent"]
    checked = {c.args["channel"] for c in fake.calls_to("conversations.history")}
    assert checked & {c.id for c in groups}  # the group DM was looked at before posting again

    await world.at(match_at + dt.timedelta(days=7))
    followups = {u: fake.messages(dm_of(u))[-1] for u in members[:6]}
    assert all(m["text"] == "Did your coalition circle (round #1) get to meet?" for m in followups.values())
    first = members[0]
    yes = buttons_in(followups[first])["Yes, we met"]
    assert "Thanks for telling us" in await world.press(yes, user=first, channel=dm_of(first))
    assert "someone else's circle" in await world.press(yes, user=members[6], channel=dm_of(members[6]))
    not_yet = buttons_in(followups[members[1]])["Not yet"]
    assert "There's still time" in await world.press(not_yet, user=members[1], channel=dm_of(members[1]))
    stats = await world.say("/circles stats", user=ORGANIZER)
    assert "6 active members; 1 round(s), 2 circle(s)" in stats and "met: 50 % of 2 who answered" in stats
    assert "only organizers" in await world.say("/circles stats", user=first)


async def test_create_group_is_a_group_dm_once_and_a_private_channel_above_eight(world):
    port, fake = world.slack.adapter.port, world.fake
    people = [fake.add_user(f"UGRP0000{i}", f"Grouped {i}") for i in range(9)]
    message = Message("Meet your circle", dedupe_key="circle-round:9:group:1")
    place = await port.create_group(people[:3], "Circle 1", message)
    again = await port.create_group(list(reversed(people[:3])), "Circle 1", message)  # a retry
    assert place.channel_id == again.channel_id and fake.channels[place.channel_id].is_mpim
    assert [marker(m) for m in fake.messages(place.channel_id)] == ["circle-round:9:group:1#0"]
    eight = await port.create_group(people[:8], "Circle 2", Message("Eight of us"))
    assert fake.channels[eight.channel_id].is_mpim and len(fake.channels[eight.channel_id].members) == 9

    fake.add_channel("circle-3", members=(PARTICIPANT,))  # someone's public channel has the name
    big = Message("Nine of us", dedupe_key="circle-round:9:group:3")
    nine = await port.create_group(people, "Circle 3", big)
    channel = fake.channels[nine.channel_id]
    assert (channel.name, channel.is_private, channel.is_mpim) == ("circle-3-2", True, False)
    assert channel.members == {*people, FakeSlack.BOT_USER}
    assert (await port.create_group(people, "Circle 3", big)).channel_id == nine.channel_id
    assert [m["text"] for m in channel.messages] == ["Nine of us"]
    assert fake.calls_to("conversations.open", ok_only=False)[-1].error == "too_many_users" or all(
        len(c.args["users"].split(",")) <= 8 for c in fake.calls_to("conversations.open", ok_only=False)
    )
    assert await port.find_posted("group", "3", "circle-round:9:group:3") is None  # create_group checks itself
    with pytest.raises(PlatformError, match="user_not_found"):
        await port.create_group(["UNOBODY01", people[0]], "Circle 4", Message("hi"))


# -- reports ---------------------------------------------------------------------------------------------
def everything_seen_by(fake: FakeSlack, user: str) -> list[str]:
    """Every message the bot left where `user` can read it (channels they are in, their DMs)."""
    return [json.dumps(m) for c in fake.channels.values() if user in c.members for m in c.messages if "bot_id" in m]


async def test_a_report_from_a_dm_is_relayed_both_ways_and_the_reported_person_hears_nothing(world):
    fake = world.fake
    moderation = world.channel("moderation")
    # Ana reports Ben from a direct message: the bot's own DM, so the command's channel is a D… id.
    _, answer = await world.run(
        f"/report Ben keeps messaging me after I asked him to stop about=<@{BEN}|ben.other>",
        channel=dm_of(PARTICIPANT),
    )
    assert answer.args["response_type"] == "ephemeral"
    assert "Your report is #1 and only the organizers can see it" in visible_text(answer)
    (notice,) = moderation.messages
    assert notice["text"].startswith(
        "🛡️ *Report #1* from Ana Participant (slack)\n*About:* &lt;@UBEN00001|ben.other&gt;"
    )
    assert "&gt; Ben keeps messaging me after I asked him to stop" in notice["text"]
    assert fake.dm_channel(PARTICIPANT).messages == []  # the answer came through response_url only

    # A second report typed in a DM between two people (not the bot's): still only the reporter sees it.
    people_dm = "DANABEN01"
    _, second = await world.run("/report He shared my address", channel=people_dm)
    assert second.args["response_type"] == "ephemeral" and "Your report is #2" in visible_text(second)
    assert people_dm not in fake.channels and "He shared my address" in moderation.messages[-1]["text"]

    replied = await world.say("/report reply 1 Thank you, we're on it.", user=ORGANIZER, channel="organizers")
    assert "Sent privately to the reporter of #1" in replied
    (dm,) = fake.messages(dm_of(PARTICIPANT))
    assert dm["text"].startswith("🛡️ The organizers answered your report #1:\n&gt; Thank you, we're on it.")
    assert marker(dm).startswith("report-msg-")
    more = await world.say("/report reply 1 It happened again this morning.", channel=dm_of(PARTICIPANT))
    assert "the organizers have it" in more
    assert moderation.messages[-1]["text"].startswith("🛡️ *Report #1*, the reporter adds:\n&gt; It happened again")
    assert (await world.say("/report reply 1 let me see", user=SAM)).startswith("You have no report #1.\n")
    assert "only organizers" in await world.say("/report close 1", channel=dm_of(PARTICIPANT))
    assert "is closed; the reporter was told" in await world.say("/report close 1", user=ORGANIZER)
    assert "is closed" in fake.messages(dm_of(PARTICIPANT))[-1]["text"]
    assert "Report #1 is closed" in await world.say("/report reply 1 one more", channel=dm_of(PARTICIPANT))

    assert everything_seen_by(fake, BEN) == [] and dm_of(BEN) not in fake.channels
    assert not any(BEN in str(c.args.get("users", "")) for c in fake.calls_to("conversations.open"))
    assert not any(c.args.get("user") == BEN for c in fake.calls_to("chat.postEphemeral", ok_only=False))
    assert everything_seen_by(fake, SAM) == []


# -- privacy ---------------------------------------------------------------------------------------------
async def test_privacy_export_is_a_file_only_the_member_gets_and_delete_asks_first(world):
    fake = world.fake
    await join_circles(world, PARTICIPANT, "faculty", institution="Quintero Institute")
    await join_circles(world, BEN, "house staff")
    _, answer = await world.run("/privacy export")
    assert answer.args["response_type"] == "ephemeral"
    assert "I sent you the file in a direct message" in visible_text(answer)
    (shared,) = [f for f in fake.files.values() if f.get("shares")]
    assert shared["name"] == "my-data.json" and shared["shares"]["channel"] == dm_of(PARTICIPANT)
    assert fake.channels[dm_of(PARTICIPANT)].members == {PARTICIPANT, FakeSlack.BOT_USER}
    data = json.loads(shared["content"])
    assert data["circle_people"][0]["institution"] == "Quintero Institute"
    assert PARTICIPANT in shared["content"].decode() and BEN not in shared["content"].decode()
    general = world.channel("general")
    assert not any("files" in m for m in general.messages)

    _, confirm = await world.run("/privacy delete")
    buttons = buttons_of(confirm)
    assert list(buttons) == ["Erase my data", "Keep it"] and buttons["Erase my data"]["style"] == "danger"
    assert "cannot be undone" in visible_text(confirm)
    assert "Nothing was erased" in await world.press(buttons["Keep it"])
    assert await world.slack.app.db.fetchone("SELECT 1 FROM circle_people WHERE user_id = ?", (PARTICIPANT,))
    assert "someone else's data" in await world.press(buttons["Erase my data"], user=BEN)
    assert "were erased or anonymised" in await world.press(buttons["Erase my data"])
    assert not await world.slack.app.db.fetchone("SELECT 1 FROM circle_people WHERE user_id = ?", (PARTICIPANT,))
    assert await world.slack.app.db.fetchone("SELECT 1 FROM circle_people WHERE user_id = ?", (BEN,))


# -- pings -----------------------------------------------------------------------------------------------
# What Slack sends for "@everyone @here @channel @Olu" typed into a slash command (escaping on), and the
# same characters typed literally (Slack escapes them as &lt; &gt;).
SLACK_MENTIONS = f"<!everyone> <!here> <!channel> <@{ORGANIZER}|olu.organizer>"
LITERAL = f"&lt;!everyone&gt; &lt;!here&gt; &lt;!channel&gt; &lt;@{ORGANIZER}&gt;"
PING = re.compile(r"<!(?:everyone|here|channel)\b|<@[UW]", re.IGNORECASE)
SENDS = ("chat.postMessage", "chat.postEphemeral", "response_url", "conversations.setTopic", "views.open")


def pings(fake: FakeSlack) -> list[str]:
    found = []
    for call in fake.calls:
        if call.method in SENDS and call.ok:
            shown = json.dumps(call.args, ensure_ascii=False)
            found += [f"{call.method}: {m.group(0)}" for m in PING.finditer(shown)]
            assert not call.args.get("link_names"), call  # link_names would turn "@channel" into a ping
    return found


async def test_nothing_people_type_can_ping(world):
    fake = world.fake
    organizers = world.channel("organizers")
    typed_title = "Pilot <!everyone> <!here> <!channel> <@UORG00001>"  # a modal gives the characters as typed
    sent = await world.slack.command("/propose")
    view = await opened_modal(world.slack, sent)
    await world.slack.submit(view, GOOD | {"title": typed_title})
    await world.slack.idle()
    assert "Intent #1 recorded" in visible_text(await world.slack.reply_to(sent))
    assert (
        "Pilot &lt;!everyone&gt; &lt;!here&gt; &lt;!channel&gt; &lt;@UORG00001&gt;" in organizers.messages[-1]["text"]
    )

    await world.say(f'/coalition propose "Llamas {SLACK_MENTIONS}" Llama care {LITERAL}')
    notice = organizers.messages[-1]
    assert "@everyone @here @channel &lt;@UORG00001|olu.organizer&gt;" in notice["text"]
    await world.press(buttons_in(notice)["Approve"], user=ORGANIZER, channel="organizers")
    await world.say(f"/coalition join Llamas {SLACK_MENTIONS}", user=BEN)
    channel = world.channel("coalition-llamas-everyone-here-channel-uorg00001-olu-organizer")
    assert channel.topic == "Llama care &lt;!everyone&gt; &lt;!here&gt; &lt;!channel&gt; &lt;@UORG00001&gt;"

    await world.say(f"/report Someone wrote {LITERAL} and {SLACK_MENTIONS} in #general")

    await world.at(dt.datetime(2023, 10, 12, 16, tzinfo=dt.UTC))
    await world.say("/event setup", user=ORGANIZER)
    await world.at(sessions(world)[0].start - LEAD)
    assert "Posted" in await world.say(f"/ask opening Is this ok {SLACK_MENTIONS} {LITERAL}?")
    asked = world.channel("lobby").messages[-1]
    assert asked["thread_ts"] and "&lt;!everyone&gt;" in asked["text"] and "@here" in asked["text"]

    assert pings(fake) == []
    everything = " ".join(json.dumps(c.args) for c in fake.calls_to("chat.postMessage"))
    assert everything.count("&lt;!everyone&gt;") >= 4  # the text got through, escaped
