"""Proposal intents end to end on Slack: /propose and its modal, the confirmation and its buttons,
the deadline and late access, organizers' export and public button, and privacy between people,
all through signed requests to the served app and the fake Web API."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from bot.adapters.slack_port import Pacer
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import ACK_LIMIT, ORGANIZER, PARTICIPANT, Harness, Sent, visible_text

# Fixtures, bound by name so pytest finds them here.
fake_slack, slack = slack_fixtures.fake_slack, slack_fixtures.slack

OTHER = "UBEN00001"  # a second participant, added by the tests that need one
GOOD = {
    "type": "poster",
    "area": "ume",
    "title": "Our anti-racist curriculum pilot",
    "description": "We redesigned the first-year curriculum with community partners; early lessons.",
    "co_presenters": "",
    "email": "ana@example.org",
    "affiliation": "Medical student",
}
# What Slack sends for "@Ana Participant" typed into a command (escaping on, as the manifest asks).
ANA_MENTION = f"<@{PARTICIPANT}|ana.participant>"


def add_other(slack: Harness) -> str:
    slack.fake.add_user(OTHER, "Ben Other", tz="America/Los_Angeles")
    slack.fake.channel_named("general").members.add(OTHER)
    return OTHER


async def opened_modal(slack: Harness, sent: Sent) -> dict[str, Any]:
    """The view Slack stored for the modal opened with this request's trigger_id."""
    call = await slack.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == sent.trigger_id)
    return call.response["view"]


def buttons_of(call) -> dict[str, dict[str, Any]]:
    return {
        e["text"]["text"]: e
        for block in call.args.get("blocks") or []
        if block["type"] == "actions"
        for e in block["elements"]
    }


async def propose(slack: Harness, user: str = PARTICIPANT, **changes) -> Sent:
    """/propose, then a valid submission; returns the command (its response_url gets the answer)."""
    sent = await slack.command("/propose", user=user)
    view = await opened_modal(slack, sent)
    accepted = await slack.submit(view, GOOD | changes, user=user)
    assert accepted.status == 200 and accepted.text == "", accepted.text
    await slack.idle()
    return sent


async def intent_state(slack: Harness, intent_id: int = 1) -> str:
    row = await slack.app.db.fetchone("SELECT state FROM intents WHERE id = ?", (intent_id,))
    return row["state"]


async def test_the_whole_lifecycle_from_propose_to_late_access(slack):
    fake, config = slack.fake, slack.app.config

    # /propose opens the modal at once, with the seven fields as Slack inputs.
    sent = await slack.command("/propose")
    assert sent.status == 200 and sent.text == "" and sent.elapsed < ACK_LIMIT
    view = await opened_modal(slack, sent)
    assert view["title"]["text"] == "Proposal intent" and view["submit"]["text"] == "Save intent"
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == list(GOOD)
    assert [inputs[k]["type"] for k in ("type", "area", "email")] == [
        "static_select",
        "static_select",
        "email_text_input",
    ]
    assert [o["value"] for o in inputs["type"]["options"]] == ["poster", "narrative", "workshop", "fireside"]
    assert inputs["description"]["multiline"] and inputs["title"]["min_length"] == 5

    # A mistyped email: the modal stays open with everything typed, the error under the email.
    rejected = await slack.submit(view, GOOD | {"email": "ana@example"})
    assert rejected.status == 200 and rejected.elapsed < ACK_LIMIT
    assert rejected.json() == {
        "response_action": "errors",
        "errors": {"email": "Contact email must be an email address like name@example.org."},
    }
    await slack.idle()
    assert not fake.calls_to("views.update") and len(fake.calls_to("views.open")) == 1
    assert await slack.app.db.fetchall("SELECT id FROM intents") == []

    # The corrected submission closes the modal and records the intent.
    accepted = await slack.submit(view, GOOD)
    assert accepted.status == 200 and accepted.text == ""
    await slack.idle()
    confirmation = await slack.reply_to(sent)
    assert confirmation.args["response_type"] == "ephemeral"
    shown = visible_text(confirmation)
    assert "Intent #1 recorded" in shown and "This is not your submission yet" in shown
    buttons = buttons_of(confirmation)
    assert list(buttons) == ["Open the submission form", "I submitted it", "Edit"]
    assert buttons["Open the submission form"]["url"] == config.links.submission_form
    assert "value" not in buttons["Open the submission form"]  # a link, not a routed button
    assert buttons["I submitted it"]["value"] == "prop-submitted:1"
    # The organizers hear of it, without the contact email.
    (notice,) = fake.messages(fake.channel_named("organizers").id)
    assert "New proposal intent #1" in notice["text"] and "ana@example.org" not in notice["text"]

    # "Edit" reopens the modal filled in; "I submitted it" marks it.
    editing = await slack.click(buttons["Edit"])
    edit_view = await opened_modal(slack, editing)
    assert edit_view["title"]["text"] == "Edit intent #1"
    edit_inputs = {b["block_id"]: b["element"] for b in edit_view["blocks"] if b["type"] == "input"}
    assert edit_inputs["area"]["initial_option"]["value"] == "ume"
    assert edit_inputs["email"]["initial_value"] == "ana@example.org"
    clicked = await slack.click(buttons["I submitted it"])
    await slack.idle()
    assert "is marked submitted" in visible_text(await slack.reply_to(clicked))
    mine = await slack.command("/proposals mine")
    await slack.idle()
    assert "#1 Our anti-racist curriculum pilot" in (mine_text := visible_text(await slack.reply_to(mine)))
    assert "submitted" in mine_text

    # One second after the deadline /propose is refused, and no modal opens.
    slack.app.clock.advance(config.deadline - slack.app.clock.now() + dt.timedelta(seconds=1))
    closed = await slack.command("/propose")
    await slack.idle()
    closed_text = visible_text(await slack.reply_to(closed))
    assert "Proposal intake closed at the deadline" in closed_text
    assert f"<!date^{int(config.deadline.timestamp())}^" in closed_text
    assert config.links.contact_email in closed_text
    assert len(fake.calls_to("views.open")) == 2  # the first /propose and the Edit button only

    # An organizer grants late access by mention; the participant can start one again.
    granted = await slack.command(f"/proposals extend {ANA_MENTION} 2023-07-07T17:00", user=ORGANIZER)
    await slack.idle()
    assert "ana.participant can start and edit proposal intents until" in visible_text(await slack.reply_to(granted))
    again = await slack.command("/propose")
    assert (await opened_modal(slack, again))["title"]["text"] == "Proposal intent"


TRICKY = 'Équité, “quotes”, commas,\nnew lines and 中文 — "dq" <@U999> & co'


async def test_export_uploads_a_csv_to_the_organizer_privately(slack):
    first = await propose(slack, description=TRICKY, co_presenters='Dr. O\'Neil, "Sam"')
    assert "<@U999>" not in visible_text(await slack.reply_to(first))  # typed text never pings
    await propose(slack, title="A workshop on allyship", type="workshop")

    sent = await slack.command("/proposals export", user=ORGANIZER)
    await slack.idle()

    answer = visible_text(await slack.reply_to(sent))
    assert "2 intent(s), one row each." in answer and "I sent you the file in a direct message" in answer
    fake = slack.fake
    assert fake.methods()[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    completed = fake.calls_to("files.completeUploadExternal")[-1]
    assert completed.args["channel_id"] == fake.dm_channel(ORGANIZER).id  # contact emails stay private
    stored = fake.files[completed.args["files"][0]["id"]]
    assert stored["name"] == "proposal-intents-2023-06-09.csv"
    rows = list(csv.DictReader(io.StringIO(stored["content"].decode("utf-8"), newline="")))
    assert [r["title"] for r in rows] == [GOOD["title"], "A workshop on allyship"]
    assert rows[0]["description"] == TRICKY and rows[0]["co_presenters"] == 'Dr. O\'Neil, "Sam"'
    assert rows[0]["user_id"] == PARTICIPANT and rows[0]["platform"] == "slack"
    assert rows[0]["email"] == "ana@example.org" and rows[1]["type"] == "workshop"


async def test_nobody_else_can_withdraw_or_mark_an_intent(slack):
    sent = await propose(slack)
    buttons = buttons_of(await slack.reply_to(sent))
    other = add_other(slack)

    withdraw = await slack.command("/proposals withdraw 1", user=other)
    clicked = await slack.click(buttons["I submitted it"], user=other)  # a forged click
    editing = await slack.click(buttons["Edit"], user=other)
    await slack.idle()

    for attempt in (withdraw, clicked, editing):
        assert "You have no intent #1. See /proposals mine." in visible_text(await slack.reply_to(attempt))
    assert len(slack.fake.calls_to("views.open")) == 1  # only Ana's own /propose
    assert await intent_state(slack) == "intent"
    own = await slack.command("/proposals withdraw 1")
    await slack.idle()
    assert "is withdrawn" in visible_text(await slack.reply_to(own))
    assert await intent_state(slack) == "withdrawn"


async def test_the_public_button_opens_the_form_for_whoever_clicks(slack):
    other = add_other(slack)
    sent = await slack.command("/proposals button", user=ORGANIZER)
    await slack.idle()

    posted = await slack.reply_to(sent)
    assert posted.args["response_type"] == "in_channel"
    in_general = slack.fake.messages(slack.channels["general"])
    assert any("Share your work at" in m.get("text", "") for m in in_general)  # for everyone to see
    start = buttons_of(posted)["Start a proposal"]
    assert start["style"] == "primary"

    by_ana = await slack.click(start, user=PARTICIPANT)
    by_ben = await slack.click(start, user=other)
    ana_view, ben_view = await opened_modal(slack, by_ana), await opened_modal(slack, by_ben)
    assert ana_view["title"]["text"] == ben_view["title"]["text"] == "Proposal intent"

    saved = await slack.submit(ben_view, GOOD | {"email": "ben@example.org"}, user=other)
    assert saved.text == ""
    await slack.idle()
    confirmation = await slack.reply_to(by_ben)  # back to Ben, privately, where he clicked
    assert confirmation.args["response_type"] == "ephemeral"
    assert "Intent #1 recorded" in visible_text(confirmation)
    row = await slack.app.db.fetchone("SELECT user_id, display_name FROM intents WHERE id = 1")
    assert (row["user_id"], row["display_name"]) == (other, "Ben Other")


async def test_extend_reads_the_time_in_the_organizers_own_zone(slack):
    # Times people type are read in their own zone (Slack knows it), and the reply shows the
    # instant back as a Slack date, so the organizer can check it. This organizer is in London.
    granted = await slack.command(f"/proposals extend {ANA_MENTION} 2023-07-07T17:00", user=ORGANIZER)
    await slack.idle()
    london_time = dt.datetime(2023, 7, 7, 17, tzinfo=ZoneInfo("Europe/London"))
    assert f"<!date^{int(london_time.timestamp())}^" in visible_text(await slack.reply_to(granted))


async def test_200_concurrent_submissions_through_slack_all_land_exactly_once(slack):
    # Organizers' per-intent notices share one channel, which Slack paces to one message a second:
    # 200 of them take 200 s, so this test turns them off (they are tested above).
    proposals = slack.app.config.proposals.model_copy(update={"notify_organizers": False})
    slack.app.config = slack.app.config.model_copy(update={"proposals": proposals})
    people = [slack.fake.add_user(f"UCROWD{n:04d}", f"Person {n}") for n in range(200)]
    for user in people:
        slack.fake.channel_named("general").members.add(user)
    sent = await asyncio.gather(*(slack.command("/propose", user=user) for user in people))
    opened = await asyncio.gather(*(opened_modal(slack, s) for s in sent))
    await slack.idle()
    # Under this load some modals open as "Just a moment" first and are then updated to the form.
    views = [slack.fake.views[view["id"]] for view in opened]
    assert {v["callback_id"] for v in views} == {"form:proposal"}
    accepted = await asyncio.gather(
        *(
            slack.submit(view, GOOD | {"title": f"Project of {user}"}, user=user)
            for view, user in zip(views, people, strict=True)
        )
    )
    # Each is acknowledged within Slack's 3 s: at once, or with a "Saving…" view while the work finishes.
    slow = sorted((a.status, round(a.elapsed, 2)) for a in accepted if a.status != 200 or a.elapsed >= 3.0)
    assert not slow, slow
    assert all(a.text == "" or '"Saving"' in a.text for a in accepted)
    await slack.idle()
    rows = await slack.app.db.fetchall("SELECT user_id, COUNT(*) AS n FROM intents GROUP BY user_id")
    assert len(rows) == 200 and {r["n"] for r in rows} == {1}


async def test_a_rush_of_submissions_tells_the_organizers_of_each_with_one_channel_listing(slack):
    # Each new intent is announced in #organizers, found by name; Slack allows conversations.list
    # about 20 times a minute, so the rush must not list the channels once per notice.
    slack.adapter.port.pacer = Pacer(interval=0.0)
    slack.fake.channel_rate = None  # the per-channel pacing is tested in test_slack_port
    people = [slack.fake.add_user(f"URUSH{n:04d}", f"Person {n}") for n in range(20)]
    for user in people:
        slack.fake.channel_named("general").members.add(user)
    sent = await asyncio.gather(*(slack.command("/propose", user=user) for user in people))
    views = await asyncio.gather(*(opened_modal(slack, s) for s in sent))
    listings = len(slack.fake.calls_to("conversations.list"))

    accepted = await asyncio.gather(
        *(
            slack.submit(view, GOOD | {"title": f"Project of {user}"}, user=user)
            for view, user in zip(views, people, strict=True)
        )
    )
    assert all(a.status == 200 and (a.text == "" or '"Saving"' in a.text) for a in accepted)
    await slack.idle()
    await slack.app.idle()
    notices = slack.fake.messages(slack.fake.channel_named("organizers").id)
    assert len([m for m in notices if "New proposal intent" in m["text"]]) == 20
    assert len(slack.fake.calls_to("conversations.list")) - listings <= 1
