"""The bare baselines for `python -m bench burst`: the smallest apps the two SDKs allow, whose one
command only replies, so the burst can be compared with what the SDK alone costs.

    python -m bench.bare discord   # discord.py: one guild slash command /ping, answered at once
    python -m bench.bare slack     # slack-bolt (HTTP mode): /ping acknowledged, then answered
                                   # through its response_url, the same two steps as the bot

Both read their endpoints from the same environment variables as the bot (DISCORD_API_URL,
DISCORD_GATEWAY_URL, DISCORD_TOKEN; SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET) plus
BENCH_GUILD_ID, listen on 127.0.0.1 only, and print one line when ready:
`BARE READY` (Discord) or `BARE LISTENING <url>` (Slack).
"""

from __future__ import annotations

import asyncio
import os
import sys

READY = "BARE READY"
LISTENING = "BARE LISTENING"


async def discord_main() -> None:
    import discord
    import yarl
    from discord import app_commands

    discord.http.Route.BASE = os.environ["DISCORD_API_URL"].rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    guild = discord.Object(int(os.environ["BENCH_GUILD_ID"]))

    class Bare(discord.Client):
        def __init__(self) -> None:
            super().__init__(intents=discord.Intents.none())
            self.tree = app_commands.CommandTree(self)

        async def setup_hook(self) -> None:
            await self.tree.sync(guild=guild)

        async def on_ready(self) -> None:
            print(READY, flush=True)

    client = Bare()

    @client.tree.command(name="ping", description="Reply at once", guild=guild)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    async with client:
        await client.start(os.environ["DISCORD_TOKEN"])


async def slack_main() -> None:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    token = os.environ["SLACK_BOT_TOKEN"]
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=os.environ["SLACK_API_URL"]),
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    )

    @app.command("/ping")
    async def ping(ack, respond) -> None:
        await ack()
        await respond("pong")

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    print(f"{LISTENING} http://127.0.0.1:{port}/slack/events", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str]) -> int:
    if argv not in (["discord"], ["slack"]):
        sys.exit("usage: python -m bench.bare discord|slack")
    try:
        asyncio.run(discord_main() if argv == ["discord"] else slack_main())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
