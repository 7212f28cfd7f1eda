"""A real feature end to end on Discord: the FAQ's answers, its forwarding to organizers, and their
private reply, through the real discord.py client logged in to the fake Discord.

(The Slack version is tests/adapters/test_slack_faq.py.) The module shares one fake and one bot,
so the first question forwarded here is #1 whatever order the tests run in: only one test forwards.
"""

from __future__ import annotations

import pytest

from tests.fakes.discord_server import StoredMessage

pytestmark = pytest.mark.asyncio(loop_scope="module")

IGUANA = "can I bring my pet iguana to the zoom call"
ANSWER = "Please leave the iguana at home."


def public_texts(fake, channel: str) -> list[str]:
    """What everyone in `channel` sees (ephemeral messages excluded)."""
    return [m.content for m in fake.messages_in(channel)]


async def test_an_unanswered_question_reaches_the_organizers_and_their_answer_comes_back(discord_strict):
    world = discord_strict
    fake, ana, olu = world.fake, world.participant, world.organizer
    organizers = world.app.config.channels.organizers

    asked = await fake.slash(ana, "faq ask", {"question": IGUANA})
    assert asked.ephemeral
    assert "Ask the organizers" in [b["label"] for b in asked.buttons()], asked.text

    forwarded = await fake.click(ana, asked.message_with("Ask the organizers"), "Ask the organizers")
    assert forwarded.ephemeral
    assert "Sent to the organizers as question #1." in forwarded.text, forwarded.text

    notice: StoredMessage = await fake.wait_for_message(organizers, lambda m: "Question #1" in m.content)
    assert int(notice.payload["author"]["id"]) == fake.app_id
    assert "iguana" in notice.content and "/faq reply 1" in notice.content
    assert notice.visible_to is None and not notice.pinged
    # The question went to the organizers only: nothing about it in the public channel.
    assert not any("iguana" in text for text in public_texts(fake, "general"))

    replied = await fake.slash(olu, "faq reply", {"id": 1, "answer": ANSWER})
    assert "Sent your answer to ana privately." in replied.text, replied.text
    assert replied.ephemeral
    assert "Add it to the FAQ" in [b["label"] for b in replied.buttons()]

    direct = fake.messages_in(fake.channel_dm(ana))
    assert len(direct) == 1
    assert int(direct[0].payload["author"]["id"]) == fake.app_id
    assert "The organizers answered your question #1" in direct[0].content
    assert IGUANA in direct[0].content and ANSWER in direct[0].content


async def test_a_confident_answer_is_private_until_shared_in_the_channel(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    public_before = public_texts(fake, "general")

    asked = await fake.slash(ana, "faq ask", {"question": "How much does it cost to attend?"})
    assert asked.ephemeral
    assert "the conference is free" in asked.text, asked.text
    assert "Ask the organizers" not in [b["label"] for b in asked.buttons()]
    assert public_texts(fake, "general") == public_before  # nobody else saw it

    shared = await fake.click(ana, asked.message_with("Share in channel"), "Share in channel")
    assert not shared.ephemeral
    assert "the conference is free" in shared.text
    assert "_Shared by ana from /faq._" in shared.text
    everyone_sees = public_texts(fake, "general")
    assert everyone_sees[len(public_before) :] == [shared.text]
    assert not shared.messages[0].pinged
