"""Tokens never reach a log line, a reply or the terminal.

The real Discord and Slack adapters are started the way `python -m bot run` starts them (`serve(app)`,
reading DISCORD_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN from the environment)
against the fakes, with distinctive token values. Then errors are provoked: a crash in a handler, a
crash whose message echoes a credential, a 5xx, a token refused mid-run and at start. Every log record
(caplog at DEBUG, libraries included) and every reply is searched for the values:

- as the bot writes its log (`RedactingFormatter`, installed by `setup_logging`): never;
- as the raw record: never either, except for the one crash built to echo a credential (the
  formatter's redaction is what keeps that one out of the log).

`python -m bot check-config` on a broken config, and `run` with refused tokens, are run as
subprocesses with the variables set: their output never shows them either.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest

from bot.adapters import discord as discord_adapter
from bot.adapters import slack as slack_adapter
from bot.adapters.discord import DiscordBot
from bot.app import App
from bot.cli import check_config
from bot.config import load_config
from bot.core.clock import Clock
from bot.core.model import Option, Platform, Reply
from bot.core.port import PlatformError
from bot.core.registry import command
from bot.secrets import SECRET_VARIABLES, RedactingFormatter, secret
from cogs import ALL_COGS
from storage.db import Database
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import PARTICIPANT, command_payload, signed_headers, visible_text
from tests.conftest import BEFORE_DEADLINE, CONFIG_PATH, ROOT
from tests.fakes.slack_server import FakeSlack

# Distinctive values. The Discord token and the signing secret are deliberately not token-shaped, so
# only redaction by value (not by shape) can keep them out; the Slack tokens must keep their prefixes.
SECRETS = {
    "DISCORD_TOKEN": "discord-reliability-token-do-not-log-93c1e7",
    "SLACK_BOT_TOKEN": "xoxb-reliability-bot-token-do-not-log-51d2",
    "SLACK_APP_TOKEN": "xapp-1-reliability-app-token-do-not-log-8e4b",
    "SLACK_SIGNING_SECRET": "reliability-signing-secret-do-not-log-0c6d",
}
LIBRARIES = ("discord", "slack_bolt", "slack_sdk", "aiohttp", "asyncio", "bot", "cogs", "storage")


class EchoedSecret(RuntimeError):
    """A failure whose message carries credentials, as an HTTP library error echoing headers might."""


class CrashCog:
    def __init__(self, app):
        self.app = app

    @command("crash", "Fail the way a bug would", Option("why", "Anything", required=False))
    async def crash(self, ctx) -> Reply:
        return {}["a key that is not there"]

    @command("leak", "Fail with a message that quotes the credentials")
    async def leak(self, ctx) -> Reply:
        raise EchoedSecret("upstream said: " + " ".join(f"{n}={secret(n)}" for n in SECRETS))


def found_secrets(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def _raw(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    return text


def assert_logs_clean(records: list[logging.LogRecord]) -> None:
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for record in records:
        assert not found_secrets(formatter.format(record)), f"{record.name}: {record.getMessage()[:200]}"
        echoed = record.exc_info is not None and isinstance(record.exc_info[1], EchoedSecret)
        if not echoed:
            assert not found_secrets(_raw(record)), f"{record.name}: {_raw(record)[:300]}"


def assert_exception_clean(exc: BaseException) -> None:
    """What Python prints when this escapes `python -m bot run` (no formatter in between)."""
    printed = "".join(traceback.format_exception(exc))
    assert not found_secrets(printed), printed


@pytest.fixture
def secret_env(monkeypatch, caplog):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    for name in LIBRARIES:
        caplog.set_level(logging.DEBUG, logger=name)
    return monkeypatch


def test_the_distinctive_values_are_the_bots_secret_variables():
    assert set(SECRETS) <= set(SECRET_VARIABLES)
    assert not re.fullmatch(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}", SECRETS["DISCORD_TOKEN"])


# -- Discord ------------------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def discord_running(tmp_path: Path, monkeypatch, token: str) -> AsyncIterator:
    """The fake server accepting `token`, and `serve(app)` started with DISCORD_TOKEN from the env."""
    from tests.adapters.conftest import conference_guild

    fake = conference_guild()
    fake.token = token
    await fake.start()
    monkeypatch.setenv("DISCORD_API_URL", fake.api_url)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    # discord.py keeps its endpoints as class attributes: put them back afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    # The fake server has no members to chunk: do not wait discord.py's 2 s for them before on_ready.
    monkeypatch.setattr(discord_adapter, "DiscordBot", functools.partial(DiscordBot, guild_ready_timeout=0.05))
    config = load_config(CONFIG_PATH)
    config = config.model_copy(update={"discord": config.discord.model_copy(update={"guild_id": fake.guild_id})})
    app = App(
        config, await Database.open(tmp_path / "secrets.sqlite3"), Clock.frozen(BEFORE_DEADLINE), [*ALL_COGS, CrashCog]
    )
    serving = asyncio.create_task(discord_adapter.serve(app))
    try:
        yield fake, app, serving
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await app.close()
        await fake.close()


async def _until(predicate, within: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_discord_tokens_stay_out_of_logs_and_replies(secret_env, tmp_path, caplog):
    async with discord_running(tmp_path, secret_env, SECRETS["DISCORD_TOKEN"]) as (fake, app, serving):
        await _until(lambda: Platform.DISCORD in app.platforms or serving.done())
        assert not serving.done(), serving.exception()
        ana = fake.member("ana")
        shown = [
            await fake.slash(ana, "crash"),  # a bug: KeyError
            await fake.slash(ana, "leak"),  # a bug whose message quotes the credentials
        ]
        assert all("Something went wrong on our side" in s.text for s in shown)
        messages = r"/channels/\d+/messages"
        fake.inject("POST", messages, status=503)  # a 5xx discord.py does not retry
        shown.append(await fake.slash(ana, "report new", {"text": "Someone was rude in #help"}))
        fake.inject("POST", messages, status=401)  # the token refused in the middle of a run
        shown.append(await fake.slash(ana, "report new", {"text": "And again"}))
        fake.inject("POST", messages, status=500)  # retried once by discord.py after a second
        shown.append(await fake.slash(ana, "report new", {"text": "A third time"}))
        assert [s.text.startswith("Thank you.") for s in shown[2:]] == [True, True, True]

    replies = [s.text for s in shown] + [m.content for m in fake.messages.values()]
    assert not any(found_secrets(text) for text in replies)
    errors = [r for r in caplog.records if r.exc_info]
    echoes = [r for r in errors if isinstance(r.exc_info[1], EchoedSecret)]
    assert echoes and found_secrets(_raw(echoes[0]))  # the echo was logged, every value in it…
    assert any(isinstance(r.exc_info[1], PlatformError) for r in errors)  # …and so were the 5xx and the 401
    assert_logs_clean(caplog.records)  # …with every value redacted


async def test_a_refused_discord_token_is_not_repeated(secret_env, tmp_path, caplog):
    async with discord_running(tmp_path, secret_env, "the-token-discord-expects") as (_, _, serving):
        with pytest.raises(discord.LoginFailure) as refused:
            await asyncio.wait_for(serving, 10)
    assert_exception_clean(refused.value)
    assert_logs_clean(caplog.records)


# -- Slack --------------------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def slack_running(tmp_path: Path, monkeypatch, bot_token: str, app_token: str, socket: bool) -> AsyncIterator:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeSlack()
    fake.BOT_TOKEN, fake.APP_TOKEN = bot_token, app_token  # what this workspace accepts
    fake.channel_rate = None
    await fake.start()
    slack_fixtures.seed(fake)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_HOST", "127.0.0.1")
    monkeypatch.setenv("SLACK_PORT", "0")
    if not socket:
        monkeypatch.delenv("SLACK_APP_TOKEN")  # HTTP mode, verified with SLACK_SIGNING_SECRET
    config = slack_fixtures.slack_config(load_config(CONFIG_PATH))
    db = await Database.open(tmp_path / "slack-secrets.sqlite3")
    app = App(config, db, Clock.frozen(BEFORE_DEADLINE), [*ALL_COGS, CrashCog])
    serving = asyncio.create_task(slack_adapter.serve(app))
    try:
        yield fake, app, serving
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await app.close()
        await fake.close()


async def _socket_command(fake: FakeSlack, line: str) -> str:
    """Run a slash command over Socket Mode; the reply's visible text."""
    general = fake.channel_named("general").id
    payload = command_payload(fake, line, PARTICIPANT, general, "general")
    await fake.socket_send("slash_commands", payload)
    token = payload["response_url"].rsplit("/", 1)[-1]
    return visible_text(await fake.wait_for("response_url", lambda c: c.target == token, within=5))


async def test_slack_tokens_stay_out_of_logs_and_replies_in_socket_mode(secret_env, tmp_path, caplog):
    bot_token, app_token = SECRETS["SLACK_BOT_TOKEN"], SECRETS["SLACK_APP_TOKEN"]
    async with slack_running(tmp_path, secret_env, bot_token, app_token, socket=True) as (fake, _, _):
        await asyncio.wait_for(fake.socket_connected.wait(), 10)
        replies = [await _socket_command(fake, "/crash"), await _socket_command(fake, "/leak")]
        assert all("Something went wrong on our side" in r for r in replies)
        fake.fail("chat.postMessage", status=500)  # retried by the port after looking for its marker
        replies.append(await _socket_command(fake, "/report Someone was rude in #help"))
        fake.fail("chat.postMessage", status=200, error="invalid_auth")  # the token refused mid-run
        fake.fail("users.info", status=200, error="token_revoked")
        replies.append(await _socket_command(fake, "/report And again"))
        assert all(r.startswith("Thank you.") for r in replies[2:]), replies

    sent = [visible_text(c) for c in fake.calls if c.method.startswith(("chat.", "response_url", "views."))]
    assert not any(found_secrets(text) for text in replies + sent)
    echoes = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], EchoedSecret)]
    assert echoes and found_secrets(_raw(echoes[0]))
    assert any(r.exc_info and isinstance(r.exc_info[1], PlatformError) for r in caplog.records)
    assert_logs_clean(caplog.records)


async def test_slack_signing_secret_stays_out_of_logs_in_http_mode(secret_env, tmp_path, caplog):
    bot_token = SECRETS["SLACK_BOT_TOKEN"]
    async with slack_running(tmp_path, secret_env, bot_token, "xapp-unused", socket=False) as (fake, app, serving):
        await _until(lambda: Platform.SLACK in app.platforms or serving.done())
        listening = next(r for r in caplog.records if "listening on" in r.getMessage())
        url = re.search(r"http://\S+", listening.getMessage()).group(0)
        general = fake.channel_named("general").id
        body = "&".join(f"{k}={v}" for k, v in command_payload(fake, "/crash", PARTICIPANT, general).items())
        form = "application/x-www-form-urlencoded"
        statuses = []
        async with aiohttp.ClientSession() as session:
            for headers in (
                signed_headers(body, form, secret=SECRETS["SLACK_SIGNING_SECRET"]),  # accepted, then crashes
                signed_headers(body, form, secret="not-the-secret"),  # forged
                signed_headers(body, form, timestamp=1, secret=SECRETS["SLACK_SIGNING_SECRET"]),  # replayed
                {"Content-Type": form},  # unsigned
            ):
                async with session.post(url, data=body.encode(), headers=headers) as response:
                    statuses.append(response.status)
                    assert not found_secrets(await response.text())
        await fake.wait_for("response_url", within=5)
    assert statuses == [200, 401, 401, 401]
    assert not any(found_secrets(visible_text(c)) for c in fake.calls)
    assert_logs_clean(caplog.records)


@pytest.mark.parametrize("refused", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"])
async def test_a_refused_slack_token_is_not_repeated(secret_env, tmp_path, caplog, refused):
    expected = {"SLACK_BOT_TOKEN": "xoxb-the-token-slack-expects", "SLACK_APP_TOKEN": "xapp-the-token-slack-expects"}
    bot_token = expected["SLACK_BOT_TOKEN"] if refused == "SLACK_BOT_TOKEN" else SECRETS["SLACK_BOT_TOKEN"]
    app_token = expected["SLACK_APP_TOKEN"] if refused == "SLACK_APP_TOKEN" else SECRETS["SLACK_APP_TOKEN"]
    async with slack_running(tmp_path, secret_env, bot_token, app_token, socket=True) as (_, _, serving):
        with pytest.raises(RuntimeError, match=f"Slack refused {refused}") as stopped:
            await asyncio.wait_for(serving, 10)
    assert_exception_clean(stopped.value)
    assert_logs_clean(caplog.records)


# -- the command line ---------------------------------------------------------------------------------------
def _run_cli(args: list[str], tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env.update(SECRETS, BOT_DB=str(tmp_path / "cli.sqlite3"), **extra)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


BROKEN_CONFIG = f"""
[conference]
name = "Broken"
short_name = ""
host = "Somewhere"
dates = [2023-10-14, 2023-10-13]
timezone = "Mars/Olympus"

[proposals]
deadline = 2023-11-01
types = []

[discord]
guild_id = "not a number"
token = "{SECRETS["DISCORD_TOKEN"]}"

[slack]
bot_token = "{SECRETS["SLACK_BOT_TOKEN"]}"
signing_secret = "{SECRETS["SLACK_SIGNING_SECRET"]}"
"""


@pytest.mark.slow
def test_check_config_on_a_broken_file_never_prints_a_token(tmp_path):
    """Someone pasted the tokens into the file (where they do not belong) and broke it besides."""
    broken = tmp_path / "config.toml"
    broken.write_text(BROKEN_CONFIG, encoding="utf-8")

    checked = _run_cli(["check-config", str(broken), "--log-level", "DEBUG"], tmp_path)
    run = _run_cli(["run"], tmp_path, BOT_CONFIG=str(broken), BOT_LOG_LEVEL="DEBUG")

    for done in (checked, run):
        assert done.returncode == 2, done.stderr
        assert "problem(s)" in done.stderr and "discord.token: unknown key" in done.stderr, done.stderr
        assert not found_secrets(done.stdout + done.stderr), done.stdout + done.stderr


@pytest.mark.slow
async def test_python_m_bot_run_with_a_refused_discord_token_prints_no_token(tmp_path):
    """The traceback Python prints when the login fails goes to stderr without any formatter."""
    from tests.adapters.conftest import conference_guild

    fake = await conference_guild().start()  # it accepts its own token, not ours
    config = tmp_path / "config.toml"
    text = CONFIG_PATH.read_text().replace('path = "faq.toml"', f'path = "{ROOT / "faq.toml"}"')
    config.write_text(text.replace("guild_id = 0", f"guild_id = {fake.guild_id}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env.update(
        DISCORD_TOKEN=SECRETS["DISCORD_TOKEN"],
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        BOT_CONFIG=str(config),
        BOT_DB=str(tmp_path / "run.sqlite3"),
        BOT_LOG_LEVEL="DEBUG",
    )
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await fake.close()
    printed = (out + err).decode()
    assert process.returncode != 0 and "LoginFailure" in printed, printed
    assert not found_secrets(printed), printed


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("dates = [2023-10-13, 2023-10-14]", 'dates = ["{token}"]'),
        ('timezone = "America/New_York"', 'timezone = "{token}"'),
    ],
    ids=["date", "timezone"],
)
def test_check_config_does_not_echo_a_token_pasted_into_a_key(tmp_path, monkeypatch, capsys, old, new):
    """check-config printed the offending value of a date key verbatim (`got '…'`), without the log
    redaction; it names the key and what is expected instead."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    original = CONFIG_PATH.read_text()
    assert old in original
    broken = tmp_path / "config.toml"
    broken.write_text(original.replace(old, new.format(token=SECRETS["DISCORD_TOKEN"])), encoding="utf-8")

    assert check_config(str(broken)) == 2

    printed = capsys.readouterr()
    assert f"conference.{old.split()[0]}" in printed.err, printed.err
    assert not found_secrets(printed.out + printed.err), printed.err
