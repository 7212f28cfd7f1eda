"""Running on Slack: Socket Mode, `python -m bot run` in HTTP mode, the manifest, the environment."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
import urllib.parse
from types import SimpleNamespace

import aiohttp
import pytest

from bot.adapters import slack as slack_adapter
from bot.adapters.slack_manifest import ManifestError, build_manifest
from bot.app import App
from bot.core.model import Command, Permission, Platform, Reply
from bot.core.registry import Registry
from cogs.general import GeneralCog
from storage.db import Database
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import (
    ACK_LIMIT,
    PARTICIPANT,
    SIGNING_SECRET,
    ProbeCog,
    command_payload,
    event_payload,
    signed_headers,
    slack_config,
    submission_payload,
    visible_text,
)
from tests.conftest import CONFIG_PATH, ROOT
from tests.fakes.slack_server import FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack


# -- Socket Mode -------------------------------------------------------------------------------------------
async def test_socket_mode_serves_commands_forms_and_events(fake_slack, config, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", FakeSlack.APP_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_CLIENT_ID", "1.2")  # must not switch bolt to OAuth
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "not-used")
    db = await Database.open(tmp_path / "socket.sqlite3")
    app = App(slack_config(config), db, clock, [GeneralCog, ProbeCog])
    general = fake_slack.channel_named("general").id
    serving = asyncio.create_task(slack_adapter.serve(app))
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 5)
        assert fake_slack.calls_to("apps.connections.open")  # with the app-level token

        command = command_payload(fake_slack, "/probe-form", PARTICIPANT, general, "general")
        started = time.monotonic()
        ack = await fake_slack.socket_send("slash_commands", command)
        assert time.monotonic() - started < ACK_LIMIT and "payload" not in ack
        assert app.platforms[Platform.SLACK] is not None  # the port is offered once connected
        opened = await fake_slack.wait_for("views.open")
        assert opened.args["trigger_id"] == command["trigger_id"]

        typed = {"title": "Socket title", "email": "nope", "seats": "1", "track": "a"}
        rejected = await fake_slack.socket_send(
            "interactive", submission_payload(fake_slack, opened.response["view"], typed, PARTICIPANT)
        )
        assert rejected["payload"]["response_action"] == "errors" and "email" in rejected["payload"]["errors"]

        event = {
            "type": "message",
            "channel": general,
            "user": PARTICIPANT,
            "text": "probe? hi",
            "ts": "9.000001",
            "channel_type": "channel",
        }
        await fake_slack.socket_send("events_api", event_payload(event, "EvSock1"))
        await fake_slack.socket_send("events_api", event_payload(event, "EvSock1"), retry_attempt=1)
        answer = await fake_slack.wait_for("chat.postMessage")
        assert answer.args["thread_ts"] == "9.000001" and "Heard you" in visible_text(answer)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await app.close()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # the redelivery changed nothing
    assert Platform.SLACK not in app.platforms


# -- python -m bot run ---------------------------------------------------------------------------------------
async def test_python_m_bot_run_serves_signed_requests(fake_slack, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "BOT_"))}
    env.update(
        SLACK_BOT_TOKEN=FakeSlack.BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        SLACK_HOST="127.0.0.1",
        SLACK_PORT="0",
        BOT_CONFIG=str(CONFIG_PATH),
        BOT_DB=str(tmp_path / "run.sqlite3"),
        BOT_LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log: list[str] = []
    try:
        port = await asyncio.wait_for(_listening_port(process, log), 30)
        drain = asyncio.create_task(_collect(process, log))
        url = f"http://127.0.0.1:{port}/slack/events"
        general = fake_slack.channel_named("general").id
        form = command_payload(fake_slack, "/about", PARTICIPANT, general, "general")
        body = urllib.parse.urlencode(form)
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            async with session.post(url, data=body, headers=signed_headers(body, _FORM)) as response:
                assert response.status == 200 and time.monotonic() - started < ACK_LIMIT
            forged = signed_headers(body, _FORM, secret="wrong")
            async with session.post(url, data=body, headers=forged) as response:
                assert response.status == 401
        token = form["response_url"].rsplit("/", 1)[-1]
        answer = await fake_slack.wait_for("response_url", lambda c: c.target == token, within=10)
        assert "Challenging Norms" in visible_text(answer)
        assert len(fake_slack.calls_to("response_url")) == 1  # the forged request did nothing
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)  # as systemd or Docker stop it: tidily too
        code = await asyncio.wait_for(process.wait(), 40)  # the bot bounds its own stop at 20 s
    await drain
    assert code == 128 + signal.SIGTERM, "\n".join(log)
    assert any("SIGTERM: stopping" in line for line in log), "\n".join(log)
    assert not any("Traceback" in line or "ERROR" in line for line in log), "\n".join(log)


_FORM = "application/x-www-form-urlencoded"


async def _listening_port(process, log: list[str]) -> int:
    while True:
        line = (await process.stderr.readline()).decode()
        if not line:
            raise AssertionError("the bot exited before listening:\n" + "\n".join(log))
        log.append(line.rstrip())
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/slack/events", line)
        if match:
            return int(match.group(1))


async def _collect(process, log: list[str]) -> None:
    while line := await process.stderr.readline():
        log.append(line.decode().rstrip())


# -- the manifest --------------------------------------------------------------------------------------------
def test_the_manifest_declares_every_command_scope_and_event(config):
    registry = App.registry_for(config)
    manifest = build_manifest(config, registry)

    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {f"/{name}" for name in registry.top_level()}
    assert all(c["should_escape"] and "url" not in c for c in commands.values())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "message.im",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "commands",
        "chat:write",
        "channels:join",
        "im:write",
        "users:read",
        "usergroups:read",
        "files:write",
        "channels:manage",
        "groups:write",
        "channels:history",
        "im:history",
    }
    assert needed <= scopes
    assert manifest["display_information"]["name"] == "Challenging Norms"


def test_the_manifest_for_http_mode_and_groups(config):
    registry = Registry()
    for cog in (GeneralCog, ProbeCog):
        registry.add_cog(cog(SimpleNamespace(config=config)))
    manifest = build_manifest(config, registry, public_url="https://bot.example.org/")

    url = "https://bot.example.org/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert all(c["url"] == url for c in commands.values())
    assert commands["/probe-group"]["description"] == "Probe-group: one, two"
    assert commands["/probe-group"]["usage_hint"] == "one | two <n>"
    assert commands["/help"]["usage_hint"] == "[command]"


def test_slack_reserved_command_names_are_refused(config):
    registry = Registry()

    async def handler(ctx) -> Reply:
        return Reply("")

    registry.add_command(Command("remind", "Remind me", handler, permission=Permission.PARTICIPANT))
    with pytest.raises(ManifestError, match="/remind"):
        build_manifest(config, registry)


def test_python_m_bot_slack_manifest_prints_it(config, monkeypatch):
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env.update(BOT_CONFIG=str(CONFIG_PATH), SLACK_PUBLIC_URL="https://bot.example.org")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "slack-manifest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    expected = build_manifest(config, App.registry_for(config), public_url="https://bot.example.org")
    assert printed == expected


# -- the environment -----------------------------------------------------------------------------------------
def test_credentials_and_settings_come_from_the_environment(config, monkeypatch):
    assert not slack_adapter.credentials_present()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert not slack_adapter.credentials_present()  # a bot token alone serves nothing
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert slack_adapter.credentials_present()
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert slack_adapter.credentials_present()

    assert slack_adapter.http_port(config) == config.slack.port
    monkeypatch.setenv("SLACK_PORT", "8123")
    assert slack_adapter.http_port(config) == 8123
    monkeypatch.setenv("SLACK_PORT", "eighty")
    with pytest.raises(ValueError, match="SLACK_PORT"):
        slack_adapter.http_port(config)

    assert slack_adapter.api_url() == "https://slack.com/api/"
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert slack_adapter.api_url() == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize("wrong", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"])
async def test_a_refused_token_stops_the_start_with_a_reason(fake_slack, config, clock, tmp_path, monkeypatch, wrong):
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", FakeSlack.APP_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv(wrong, "xoxb-revoked" if wrong == "SLACK_BOT_TOKEN" else "xapp-revoked")
    db = await Database.open(tmp_path / "refused.sqlite3")
    app = App(config, db, clock, [GeneralCog])
    try:
        with pytest.raises(RuntimeError, match=f"Slack refused {wrong} \\(invalid_auth\\)"):
            await asyncio.wait_for(slack_adapter.serve(app), 5)
    finally:
        await app.close()
    assert not fake_slack.socket_connected.is_set()


async def test_http_mode_refuses_to_start_without_a_signing_secret(config, clock, tmp_path):
    db = await Database.open(tmp_path / "nosecret.sqlite3")
    app = App(config, db, clock, [GeneralCog])
    adapter = slack_adapter.SlackAdapter(app, token="xoxb-1", signing_secret="", api_url="http://127.0.0.1:9/api/")
    try:
        with pytest.raises(RuntimeError, match="SLACK_SIGNING_SECRET"):
            await adapter.start_http("127.0.0.1", 0)
    finally:
        await adapter.close()
        await app.close()
