"""A real feature end to end on Slack: the FAQ's answers, its forwarding to organizers, and their
private reply, all through the served app and the fake Web API."""

from __future__ import annotations

from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import ORGANIZER, PARTICIPANT, visible_text

# Fixtures, bound by name so pytest finds them here.
fake_slack, slack = slack_fixtures.fake_slack, slack_fixtures.slack


async def test_an_unanswered_question_reaches_the_organizers_and_their_answer_comes_back(slack):
    fake = slack.fake
    asked = await slack.command("/faq can I bring my pet iguana to the zoom call")
    await slack.idle()
    buttons = (await slack.reply_to(asked)).args["blocks"][-1]["elements"]
    forward = next(b for b in buttons if b["action_id"].startswith("faq-forward:"))

    clicked = await slack.click(forward, user=PARTICIPANT)
    await slack.idle()

    assert "Sent to the organizers as question #1" in visible_text(await slack.reply_to(clicked))
    organizers = fake.channel_named("organizers")
    notice = fake.messages(organizers.id)[0]
    assert "Question #1" in notice["text"] and "iguana" in notice["text"]
    assert notice["metadata"]["event_payload"]["key"] == "faq-forward-1#0"  # marked for dedupe

    replied = await slack.command("/faq reply 1 Please leave the iguana at home.", user=ORGANIZER)
    await slack.idle()

    assert "Sent your answer to Ana Participant privately." in visible_text(await slack.reply_to(replied))
    direct = fake.dm_channel(PARTICIPANT)
    assert "Please leave the iguana at home." in fake.messages(direct.id)[0]["text"]


async def test_questions_in_the_help_channel_are_answered_in_thread(slack):
    help_room = slack.channels["help"]
    event = {
        "type": "message",
        "channel": help_room,
        "user": PARTICIPANT,
        "ts": "11.000001",
        "text": "When is the conference?",
        "channel_type": "channel",
    }
    await slack.event(event, "EvFaq1")
    await slack.event({**event, "channel": slack.channels["general"], "ts": "12.0"}, "EvFaq2")
    await slack.idle()
    posts = slack.fake.calls_to("chat.postMessage")
    assert len(posts) == 1  # only where invited: #help, not #general
    assert posts[0].args["channel"] == help_room and posts[0].args["thread_ts"] == "11.000001"
    assert "The conference runs on" in visible_text(posts[0])
