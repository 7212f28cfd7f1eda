"""The fake Slack refuses what real Slack refuses, so adapter bugs fail in tests, not in production."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import PARTICIPANT
from tests.fakes.slack_server import FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack


@pytest.fixture
async def client(fake_slack):
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=FakeSlack.BOT_TOKEN, base_url=fake_slack.api_url, session=session)


async def refused(call) -> str:
    with pytest.raises(SlackApiError) as error:
        await call
    return error.value.response["error"]


def modal(title: str = "Propose", **extra) -> dict:
    block = {
        "type": "input",
        "block_id": "t",
        "label": {"type": "plain_text", "text": "Title"},
        "element": {"type": "plain_text_input", "action_id": "v", "max_length": 10, **extra},
    }
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [block],
    }


async def test_tokens_are_checked(fake_slack, client):
    async with aiohttp.ClientSession() as session:
        wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake_slack.api_url, session=session)
        assert await refused(wrong.auth_test()) == "invalid_auth"
        # A token inside a JSON body is ignored by Slack: JSON calls authenticate with the header.
        async with session.post(f"{fake_slack.api_url}chat.postMessage", json={"token": FakeSlack.BOT_TOKEN}) as r:
            assert (await r.json())["error"] == "not_authed"
    assert await refused(client.apps_connections_open(app_token=FakeSlack.BOT_TOKEN)) == "not_allowed_token_type"


async def test_block_kit_limits(fake_slack, client):
    general = fake_slack.channel_named("general").id
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    button = {"type": "button", "text": {"type": "plain_text", "text": "b"}, "action_id": "same"}
    assert await refused(client.chat_postMessage(channel=general, text="t", blocks=[section])) == "invalid_blocks"
    twice = {"type": "actions", "elements": [button, button]}
    assert await refused(client.chat_postMessage(channel=general, text="t", blocks=[twice])) == "invalid_blocks"
    assert await refused(client.chat_postMessage(channel=general, text="x" * 40001)) == "msg_too_long"
    assert await refused(client.api_call("chat.postMessage", json={"channel": general})) == "no_text"


async def test_modals_need_a_fresh_trigger_and_valid_views(fake_slack, client):
    assert await refused(client.views_open(trigger_id=fake_slack.trigger(), view=modal("x" * 25))) == (
        "invalid_arguments"
    )
    too_long = modal(initial_value="eleven chars")
    assert await refused(client.views_open(trigger_id=fake_slack.trigger(), view=too_long)) == "invalid_arguments"
    trigger = fake_slack.trigger()
    await client.views_open(trigger_id=trigger, view=modal())
    assert await refused(client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert await refused(client.views_open(trigger_id="1.made-up", view=modal())) == "invalid_trigger_id"


async def test_response_urls_allow_five_uses(fake_slack):
    url = fake_slack.response_url(fake_slack.channel_named("general").id, PARTICIPANT)
    async with aiohttp.ClientSession() as session:
        webhook = AsyncWebhookClient(url, session=session)
        statuses = [(await webhook.send(text=f"reply {n}")).status_code for n in range(6)]
    assert statuses == [200] * 5 + [404]


async def test_membership_and_directory_errors(fake_slack, client):
    random, backstage = fake_slack.channel_named("random").id, fake_slack.channel_named("backstage").id
    assert await refused(client.chat_postMessage(channel=random, text="hi")) == "not_in_channel"
    assert await refused(client.chat_postMessage(channel=backstage, text="hi")) == "channel_not_found"
    assert await refused(client.conversations_join(channel=backstage)) == "channel_not_found"
    assert await refused(client.users_info(user="UNOBODY")) == "user_not_found"
    assert await refused(client.usergroups_users_list(usergroup="SNONE")) == "no_such_subteam"
