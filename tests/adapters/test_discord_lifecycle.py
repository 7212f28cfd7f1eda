"""Start-up, restarts and reconnects: commands synced only when they change, buttons and forms
that outlive the process, the gateway handshake, and `python -m bot run` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import discord
import pytest

from bot.adapters.discord import REQUIRED_PERMISSIONS, DiscordBot, serve
from bot.app import App
from bot.core.model import Platform
from cogs.general import GeneralCog
from tests.adapters.conftest import ROOT, TOKEN, ProbeCog, conference_guild
from tests.fakes.discord_server import PRIVILEGED_INTENTS

pytestmark = pytest.mark.asyncio(loop_scope="module")
DISCORD_COGS = [GeneralCog, ProbeCog]


def command_syncs(fake) -> int:
    return len([c for c in fake.calls if c.method == "PUT" and c.path.endswith("/commands")])


async def test_the_gateway_handshake_asks_for_no_privileged_intent(discord_env):
    identify = discord_env.fake.identifies[-1]
    assert identify["token"] == TOKEN
    assert identify["intents"] & PRIVILEGED_INTENTS == 0
    assert discord_env.fake.command_syncs == 1


async def test_a_restart_does_not_sync_unchanged_commands_and_old_buttons_still_work(
    discord_strict,
):
    world = discord_strict
    fake = world.fake
    posted = await fake.slash(world.organizer, "probe buttons")
    syncs = command_syncs(fake)

    await world.stop_bot()
    await world.start_bot()

    assert command_syncs(fake) == syncs
    clicked = await fake.click("dana", posted.message_with("Keynote"), "Keynote")
    assert clicked.text == "You picked keynote, dana."


async def test_a_form_opened_before_a_restart_submits_after_it(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    opened = await fake.slash(ana, "probe form")
    await world.stop_bot()
    await world.start_bot()
    done = await fake.submit_modal(
        ana,
        opened,
        {
            "Your name": "Ana",
            "Email": "ana@example.org",
            "Working title of your proposal (a few words)": "Listening first",
            "Summary": "Twenty characters at the very least.",
            "Type": "poster",
        },
    )
    assert done.text.startswith("Thanks Ana: “Listening first” (poster)")


async def test_fix_it_after_a_restart_still_has_what_was_typed(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    opened = await fake.slash(ana, "probe form")
    refused = await fake.submit_modal(
        ana,
        opened,
        {
            "Your name": "Ana",
            "Email": "ana@",
            "Working title of your proposal (a few words)": "Listening first",
            "Summary": "Twenty characters at the very least.",
            "Type": "poster",
        },
    )
    await world.stop_bot()
    await world.start_bot()
    reopened = await fake.click(ana, refused.message_with("Fix it"), "Fix it")
    assert reopened.modal_input("Summary")["value"] == "Twenty characters at the very least."
    done = await fake.submit_modal(ana, reopened, {"Email": "ana@example.org"})
    assert done.text.startswith("Thanks Ana:")


async def test_changed_commands_are_synced_at_the_next_start(discord_strict):
    world = discord_strict
    fake = world.fake
    original = world.app
    syncs = command_syncs(fake)
    await world.stop_bot()
    world.app = App(original.config, original.db, original.clock, [GeneralCog])  # the probe cog removed
    try:
        await world.start_bot()
        assert command_syncs(fake) == syncs + 1
        assert sorted(c["name"] for c in fake.commands.values()) == ["about", "help", "timezone"]
    finally:
        await world.stop_bot()
        world.app = original
        await world.start_bot()
    assert command_syncs(fake) == syncs + 2
    assert "probe" in {c["name"] for c in fake.commands.values()}


async def test_a_dropped_connection_is_resumed(discord_strict):
    world = discord_strict
    fake = world.fake
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    world.bot.add_listener(on_resumed)
    identifies = len(fake.identifies)
    await fake.drop_connections()
    await asyncio.wait_for(resumed.wait(), 10)
    assert len(fake.identifies) == identifies
    assert (await fake.slash(world.participant, "about")).text.startswith("**Challenging Norms")


async def test_a_new_session_fires_on_ready_again_without_a_sync(discord_strict):
    world = discord_strict
    fake = world.fake
    syncs, identifies = command_syncs(fake), len(fake.identifies)
    ready_again = asyncio.Event()

    async def on_ready() -> None:
        ready_again.set()

    world.bot.add_listener(on_ready)

    await fake.drop_connections(resumable=False)  # discord.py waits 5 s before identifying again
    await asyncio.wait_for(ready_again.wait(), 10)

    assert len(fake.identifies) == identifies + 1
    assert command_syncs(fake) == syncs
    assert (await fake.slash(world.participant, "about")).text.startswith("**Challenging Norms")


async def test_a_wrong_token_fails_to_log_in(tmp_path, monkeypatch):
    fake = await conference_guild().start()
    try:
        app = await _app(fake, tmp_path)
        monkeypatch.setenv("DISCORD_TOKEN", "not-the-token")
        monkeypatch.setenv("DISCORD_API_URL", fake.api_url)
        monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket,
            "DEFAULT_GATEWAY",
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        with pytest.raises(discord.LoginFailure):
            await serve(app)
        await app.close()
    finally:
        await fake.close()


async def test_the_port_is_ready_as_soon_as_the_server_is_available(tmp_path, monkeypatch):
    # discord.py holds on_ready back (guild_ready_timeout, 2 s) for servers this bot is never in;
    # the bot's own server is in the cache before that, and that is all the port needs.
    fake = await conference_guild().start()
    app = await _app(fake, tmp_path)
    monkeypatch.setenv("DISCORD_API_URL", fake.api_url)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    bot = DiscordBot(app, guild_ready_timeout=5, max_messages=None)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        async with asyncio.timeout(10):
            while Platform.DISCORD not in app.platforms:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)
        assert app.platforms[Platform.DISCORD] is bot.port
        assert not bot.is_ready()
        seen = await fake.slash("ana", "about")
        assert seen.text.startswith("**Challenging Norms")
    finally:
        await bot.close()
        await task
        await app.close()
        await fake.close()
    assert Platform.DISCORD not in app.platforms
    # Closed before discord.py's ready wait ended: that wait must not outlive the client (it would
    # dispatch "ready" into the closed client seconds later: an error and a never-awaited coroutine).
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if not t.done() and "_delay_ready" in repr(t.get_coro())]
    assert not left


async def test_serve_refuses_to_start_without_a_server_id(tmp_path, monkeypatch):
    from bot.config import load_config
    from bot.core.clock import Clock
    from storage.db import Database

    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    app = App(load_config(ROOT / "config.toml"), await Database.open(tmp_path / "x.sqlite3"), Clock())
    try:
        with pytest.raises(RuntimeError, match="guild_id is 0"):
            await serve(app)
    finally:
        await app.close()


async def test_python_m_bot_run_logs_in_from_a_subprocess(tmp_path):
    fake = await conference_guild().start()
    config_text = (ROOT / "config.toml").read_text()
    config = tmp_path / "config.toml"
    # The copy's relative paths (the FAQ file) would be read next to it: point them at the repo.
    config_text = config_text.replace('path = "faq.toml"', f'path = "{ROOT / "faq.toml"}"')
    config.write_text(config_text.replace("guild_id = 0", f"guild_id = {fake.guild_id}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "BOT_"))}
    env.update(
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        BOT_CONFIG=str(config),
        BOT_DB=str(tmp_path / "bot.sqlite3"),
    )
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
    early: list[bytes] = []
    try:
        while b"connected to Discord" not in (early[-1] if early else b""):
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert line, b"".join(early).decode()  # the bot exited before connecting
            early.append(line)
        assert fake.connected
        seen = await fake.slash("ana", "about")
        assert seen.text.startswith("**Challenging Norms")
        assert fake.command_syncs == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # as Ctrl-C: the bot closes its connections
        out, err = await asyncio.wait_for(process.communicate(), 40)  # the bot bounds its own stop at 20 s
        await fake.close()
    log = (b"".join(early) + out + err).decode()
    assert process.returncode in (0, 130), log
    assert "connected to Discord" in log, log
    assert TOKEN not in log  # secrets are redacted from every log line


async def _app(fake, tmp_path) -> App:
    from bot.config import load_config
    from bot.core.clock import Clock
    from storage.db import Database

    config = load_config(ROOT / "config.toml")
    config = config.model_copy(update={"discord": config.discord.model_copy(update={"guild_id": fake.guild_id})})
    return App(config, await Database.open(tmp_path / "bot.sqlite3"), Clock(), [GeneralCog])


async def test_the_documented_invite_link_grants_exactly_what_the_bot_uses():
    # The fake server gives the bot exactly these permissions, so every test above would fail
    # with 50013 if the bot needed one more than the docs tell admins to grant.
    docs = (ROOT / "docs" / "discord.md").read_text()
    assert f"scope=bot+applications.commands&permissions={REQUIRED_PERMISSIONS.value}" in docs
