"""The Discord adapter: a discord.py `commands.Bot` that turns interactions into dispatcher calls.

- Slash commands are generated from the registry (`discord_commands`) and synced to the
  configured guild from `setup_hook`, only when the command set changed since the last sync
  (Discord allows 200 command creates a day; `on_ready` fires again after every reconnect).
- Every interaction is answered within Discord's 3 seconds: the dispatcher's work starts at
  once, and if it has not finished after `defer_after` seconds the bot defers ("thinking…") and
  sends the reply as a followup. When other interactions are being answered too (a rush) and the
  answer cannot be a modal (which must be the first response), the bot defers at once: the work
  would queue behind the others', and the acknowledgement should not.
- Replies are messages (private → ephemeral), forms are modals, buttons are persistent dynamic
  items, files are attachments; nothing pings anyone unless a message opts in
  (`AllowedMentions.none()`). Rendering lives in `discord_ui`, side effects in `discord_port`.
- Organizer status: the member has the role named `config.roles.organizer`.

Environment: `DISCORD_TOKEN` (required), and optionally `DISCORD_API_URL` (REST base, e.g. a proxy;
default https://discord.com/api/v10) and `DISCORD_GATEWAY_URL` (default wss://gateway.discord.gg/).

Intents: guilds, guild messages and direct messages, none of them privileged. Slash commands,
buttons and modals need no intent at all; message events let listeners answer mentions and DMs
(Discord delivers those messages' text without the privileged message-content intent).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.adapters import discord_ui as ui
from bot.adapters.discord_commands import build_commands, build_dm_commands
from bot.adapters.discord_port import DiscordPort, pace_requests, place_for
from bot.core.model import (
    Actor,
    Choice,
    Form,
    FormErrors,
    Outcome,
    Place,
    Platform,
    Reply,
)
from bot.core.registry import may_return_form
from bot.secrets import secret
from storage import meta

log = logging.getLogger(__name__)

INTENTS = discord.Intents.none()
INTENTS.guilds = True  # channels, threads and roles in the cache
INTENTS.guild_messages = True  # mentions of the bot, for listeners
INTENTS.dm_messages = True  # direct messages, for listeners

# What the bot needs on the server (docs/discord.md builds the invite link from this value).
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    create_private_threads=True,
    manage_threads=True,
    manage_channels=True,
    manage_roles=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    manage_events=True,
    create_events=True,
)

DEFER_AFTER = 0.25  # seconds of work before the bot defers (Discord's window is 3 s)
# Interactions being answered at once (this one included) from which one whose answer cannot be a
# modal is deferred before its work starts.
BUSY_AT = 2
SYNC_KEY = "discord.commands.{guild_id}"
GLOBAL_SYNC_KEY = "discord.commands.global"


def credentials_present() -> bool:
    return bool(secret("DISCORD_TOKEN"))


def configure_endpoints() -> None:
    """Point discord.py at `DISCORD_API_URL` / `DISCORD_GATEWAY_URL` when they are set.

    discord.py keeps both as class attributes (REST routes, webhooks and interaction callbacks
    share `Route.BASE`; a non-sharded client connects straight to `DEFAULT_GATEWAY`), so this is
    process-wide, like the environment it reads.
    """
    api = secret("DISCORD_API_URL")
    gateway = secret("DISCORD_GATEWAY_URL")
    if api:
        if not api.startswith(("https://", "http://")):
            raise ValueError(f"DISCORD_API_URL must be an http(s) address, not {api!r}")
        discord.http.Route.BASE = api.rstrip("/")
    if gateway:
        if not gateway.startswith(("wss://", "ws://")):
            raise ValueError(f"DISCORD_GATEWAY_URL must be a ws(s) address, not {gateway!r}")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


class AdapterTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        # Reached only when discord.py itself cannot run a command (a stale command, an option
        # Discord sent in an unexpected shape): the dispatcher handles everything else.
        log.error("Discord could not run a command: %s", error, exc_info=error)
        text = "Sorry, I couldn't run that command. Please try again in a moment."
        if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            text = "That command has changed since Discord last saw it. Please try again in a minute."
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)


class DiscordBot(commands.Bot):
    def __init__(self, app: Any, **options: Any):
        configure_endpoints()
        options.setdefault("chunk_guilds_at_startup", False)  # needs the members intent; not used
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=INTENTS,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=AdapterTree,
            **options,
        )
        self.app = app
        pace_requests(self.http, app.rate_limits[Platform.DISCORD])  # shared with the delivery ledger
        self.guild_id: int = app.config.discord.guild_id
        self.organizer_role: str = app.config.roles.organizer
        self.port = DiscordPort(self)
        self.drafts = ui.Drafts(app.db)
        self.defer_after = DEFER_AFTER
        self.busy_at = BUSY_AT
        self._answering = 0  # interactions being answered now

    @property
    def dispatcher(self):
        return self.app.dispatcher

    # -- start-up -----------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        reserved = [prefix for prefix in self.app.registry.buttons if prefix.startswith(ui.RESERVED)]
        if reserved:
            raise RuntimeError(f"button prefixes may not start with {ui.RESERVED!r}: {reserved}")
        # Registered once for the whole run: every button ever sent keeps working.
        self.add_dynamic_items(ui.RegistryButton, ui.DraftButton)
        guild = discord.Object(self.guild_id)
        for command in build_commands(self.app.registry, self):
            self.tree.add_command(command, guild=guild)
        for command in build_dm_commands(self.app.registry, self):
            self.tree.add_command(command)  # global, allowed only in a DM with the bot
        await self.sync_commands()

    async def sync_commands(self) -> bool:
        """Sync the guild's commands, and the global (DM) ones, where they changed since the last
        sync; True if anything was synced."""
        guild = discord.Object(self.guild_id)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        # The registry's fingerprint plus the payload built from it: a change in either (a new
        # option, or how the adapter maps one) means Discord must hear about it.
        shape = json.dumps([self.app.registry.fingerprint(), payload], sort_keys=True)
        key = SYNC_KEY.format(guild_id=self.guild_id)
        synced = await self._sync(key, shape, guild, f"{len(payload)} Discord commands to server {self.guild_id}")
        dm_payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        if dm_payload or await meta.get(self.app.db, GLOBAL_SYNC_KEY) is not None:
            shape = json.dumps(dm_payload, sort_keys=True)
            synced |= await self._sync(GLOBAL_SYNC_KEY, shape, None, f"{len(dm_payload)} Discord DM commands")
        return synced

    async def _sync(self, key: str, shape: str, guild: discord.Object | None, what: str) -> bool:
        digest = hashlib.sha256(shape.encode()).hexdigest()
        if await meta.get(self.app.db, key) == digest:
            log.info("%s unchanged since the last sync; not syncing", what)
            return False
        try:
            await self.tree.sync(guild=guild)
        except discord.Forbidden as exc:
            raise RuntimeError(
                "Discord refused the command sync: invite the bot with the applications.commands "
                f"scope to server {self.guild_id} (see docs/discord.md)"
            ) from exc
        await meta.put(self.app.db, key, digest)
        log.info("synced %s", what)
        return True

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # The configured server is in the cache: the port can work. discord.py holds `on_ready` back
        # 2 s (guild_ready_timeout) waiting for servers this bot is never in.
        if guild.id == self.guild_id:
            self._register_port(f"server {guild.id} available")

    async def on_ready(self) -> None:
        # on_ready fires again after reconnects: only idempotent work here (never a sync).
        if self.get_guild(self.guild_id) is None:
            log.error(
                "the bot is not a member of server %s (config.discord.guild_id); invite it first",
                self.guild_id,
            )
        self._register_port("ready")

    def _register_port(self, why: str) -> None:
        if self.app.platforms.get(Platform.DISCORD) is not self.port:
            self.app.platforms[Platform.DISCORD] = self.port
            log.info("connected to Discord as %s (%s)", self.user, why)

    async def close(self) -> None:
        if self.app.platforms.get(Platform.DISCORD) is self.port:
            del self.app.platforms[Platform.DISCORD]
        # discord.py waits 2 s after connecting before "ready" and leaves that wait running when closed
        # sooner: it would then dispatch into a closed client (an error, and a never-awaited coroutine).
        ready = getattr(self._connection, "_ready_task", None)
        if ready is not None:
            ready.cancel()
        await super().close()

    # -- who and where ------------------------------------------------------------------------
    async def actor_for(self, user: discord.abc.User) -> Actor:
        member = user if isinstance(user, discord.Member) else await self._guild_member(user.id)
        roles = member.roles if member is not None else []
        is_organizer = any(role.name == self.organizer_role for role in roles)
        return Actor(Platform.DISCORD, str(user.id), user.display_name, is_organizer, timezone=None)

    async def _guild_member(self, user_id: int) -> discord.Member | None:
        """The server member behind a DM user, so organizers keep their role in DMs."""
        guild = self.get_guild(self.guild_id)
        if guild is None:
            return None
        member = guild.get_member(user_id)
        if member is None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                return None
        return member

    @staticmethod
    def _place(interaction: discord.Interaction) -> Place:
        channel = interaction.channel
        if channel is None:
            return Place(Platform.DISCORD, str(interaction.channel_id or ""))
        return place_for(channel)

    # -- interactions -------------------------------------------------------------------------
    async def on_app_command(self, interaction: discord.Interaction, name: str, raw: dict[str, Any]) -> None:
        async def work(actor: Actor, place: Place) -> Outcome:
            return await self.dispatcher.run_command(name, raw, actor, place, self.port)

        command = self.app.registry.get(name)
        await self._answer(interaction, work, may_open_modal=may_return_form(command.handler if command else None))

    async def on_autocomplete(
        self, interaction: discord.Interaction, name: str, option: str, partial: str
    ) -> list[Choice]:
        actor = await self.actor_for(interaction.user)
        return await self.dispatcher.autocomplete(name, option, partial, actor, self._place(interaction))

    async def on_registry_button(self, interaction: discord.Interaction, button_id: str) -> None:
        async def work(actor: Actor, place: Place) -> Outcome:
            return await self.dispatcher.click(button_id, actor, place, self.port)

        route = self.app.registry.buttons.get(button_id.partition(":")[0])
        await self._answer(interaction, work, may_open_modal=may_return_form(route.handler if route else None))

    async def on_open_draft(self, interaction: discord.Interaction, token: str) -> None:
        draft = await self.drafts.load(token)
        form = self.dispatcher.form_for(draft.form_id, draft.state) if draft else None
        if draft is None or form is None or draft.user_id != str(interaction.user.id):
            await interaction.response.send_message(
                "That form was already submitted or has expired. Please start again.", ephemeral=True
            )
            return
        await self._open_modal(interaction, form.prefilled(draft.values), token, draft.page)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Modal submits are read here rather than by a stored Modal object, so a modal opened
        # before a restart still submits after it.
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = interaction.data or {}
        ref = ui.parse_modal_id(str(data.get("custom_id", "")))
        if ref is None:
            return
        values = ui.submitted_values(list(data.get("components", [])))

        async def work(actor: Actor, place: Place) -> Outcome:
            return await self._submit(ref, values, actor, place)

        await self._answer(interaction, work, may_open_modal=False)  # a modal never answers a modal

    async def _submit(self, ref: ui.ModalRef, values: dict[str, str], actor: Actor, place: Place) -> Outcome:
        draft = await self.drafts.load(ref.token)
        form_id, state = ref.form_id, ref.state
        if form_id is None:  # a long form id or state travelled in the draft
            if draft is None:
                return Reply("That form has expired. Please start again.")
            form_id, state = draft.form_id, draft.state
        form = self.dispatcher.form_for(form_id, state or "")
        if form is None:
            return Reply("That form has expired. Please start again.")
        typed = {**(draft.values if draft else {}), **ui.typed_values(form, values)}
        page_count = len(ui.pages(form))
        if not (draft and draft.complete) and ref.page < page_count - 1:
            # More pages to fill: keep what was typed and offer the next page.
            await self.drafts.save(ref.token, ui.Draft(form_id, state or "", actor.user_id, typed, ref.page + 1))
            return Reply(
                f"Step {ref.page + 1} of {page_count} saved. Press **Continue** for the rest.",
                buttons=(ui.draft_button(ref.token, "Continue"),),
            )
        outcome = await self.dispatcher.submit(form_id, state or "", typed, actor, place, self.port)
        if isinstance(outcome, FormErrors):
            first = min((ui.page_of(form, name) for name in outcome.errors), default=0)
            await self.drafts.save(ref.token, ui.Draft(form_id, state or "", actor.user_id, typed, first, True))
            lines = ["Please fix this, and everything else you typed is kept:"]
            lines += [f"- {message}" for message in outcome.errors.values()]
            return Reply("\n".join(lines), buttons=(ui.draft_button(ref.token, "Fix it"),))
        if isinstance(outcome, Reply) and outcome.incident:
            return await self._keep_after_crash(
                ref.token, ui.Draft(form_id, state or "", actor.user_id, typed, 0, True), outcome
            )
        if draft is not None:
            await self.drafts.finish(ref.token)
        return outcome

    async def _keep_after_crash(self, token: str, draft: ui.Draft, apology: Reply) -> Reply:
        """A handler crashed on a submission: keep what was typed behind a "Try again" button, as the
        apology promises (the modal itself is gone)."""
        try:
            await self.drafts.save(token, draft)
        except Exception:  # the database may be what failed
            log.exception("could not keep a draft after a failed submission")
            return apology
        return dataclasses.replace(apology, buttons=(ui.draft_button(token, "Try again"),))

    async def _answer(
        self,
        interaction: discord.Interaction,
        work: Callable[[Actor, Place], Awaitable[Outcome]],
        *,
        may_open_modal: bool = True,
    ) -> None:
        """Run `work` and show its outcome, deferring first if it takes longer than a moment, or at
        once in a rush when the outcome cannot be a modal."""

        async def run() -> Outcome:
            return await work(await self.actor_for(interaction.user), self._place(interaction))

        task: asyncio.Future[Outcome] | None = None
        self._answering += 1
        try:
            if not may_open_modal and self._answering >= self.busy_at:
                deferred = True
                await interaction.response.defer(ephemeral=True, thinking=True)
                task = asyncio.ensure_future(run())
            else:
                task = asyncio.ensure_future(run())
                done, _ = await asyncio.wait({task}, timeout=self.defer_after)
                deferred = not done
                if deferred:
                    await interaction.response.defer(ephemeral=True, thinking=True)
            outcome = await task
            await self._show(interaction, outcome, deferred)
        except Exception:
            log.exception("could not answer a Discord interaction")
            if task is None:  # deferring failed: the work is still done
                task = asyncio.ensure_future(run())
            await asyncio.gather(task, return_exceptions=True)  # the work itself (a saved submission, say) finishes
            await self._apologise(interaction)
        finally:
            self._answering -= 1

    async def _show(self, interaction: discord.Interaction, outcome: Outcome, deferred: bool) -> None:
        if isinstance(outcome, Form):
            can_open = not deferred and interaction.type is not discord.InteractionType.modal_submit
            if can_open:
                token = ui.new_token()
                if len(ui.pages(outcome)) > 1 and outcome.values:
                    # Later pages open from the draft: it must carry what they are pre-filled with.
                    await self.drafts.save(
                        token,
                        ui.Draft(outcome.id, outcome.state, str(interaction.user.id), dict(outcome.values)),
                    )
                await self._open_modal(interaction, outcome, token, 0)
                return
            # A modal must be the first answer to a fresh click or command: offer a button.
            token = ui.new_token()
            await self.drafts.save(
                token, ui.Draft(outcome.id, outcome.state, str(interaction.user.id), dict(outcome.values))
            )
            outcome = Reply(
                f"**{outcome.title}**: press the button to fill it in.",
                buttons=(ui.draft_button(token, "Open the form"),),
            )
        elif isinstance(outcome, FormErrors):  # only a form handler returns these; shown as text
            outcome = Reply("\n".join(f"- {m}" for m in outcome.errors.values()))
        await self._send_reply(interaction, outcome, deferred)

    async def _open_modal(self, interaction: discord.Interaction, form: Form, token: str, page: int) -> None:
        custom_id = ui.modal_id(token, page, form)
        if custom_id is None:
            await self.drafts.save(
                token, ui.Draft(form.id, form.state, str(interaction.user.id), dict(form.values), page)
            )
            custom_id = ui.draft_modal_id(token, page)
        await interaction.response.send_modal(ui.build_modal(form, page, custom_id))

    async def _send_reply(self, interaction: discord.Interaction, reply: Reply, deferred: bool) -> None:
        parts = ui.render(reply)
        first, rest = parts[0], parts[1:]
        if deferred and not reply.private:
            # The "thinking…" message was ephemeral; a public reply replaces it as a new message.
            await interaction.delete_original_response()
            rest = parts
        elif deferred:
            await interaction.followup.send(**first.kwargs(), ephemeral=True, wait=True)
        else:
            await interaction.response.send_message(**first.kwargs(), ephemeral=reply.private)
        for part in rest:
            await interaction.followup.send(**part.kwargs(), ephemeral=reply.private, wait=True)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        text = "Sorry, something went wrong showing that. Please try again in a moment."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure either")

    # -- plain messages -----------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        # Replaces commands.Bot's prefix-command handling: this bot has slash commands only.
        if message.author.bot:
            return
        # Without the message-content intent, text arrives only for mentions and DMs; other messages
        # still reach the listeners with empty text (the event summary counts them).
        actor = await self.actor_for(message.author)
        place = place_for(message.channel)
        text = message.content
        mentioned = isinstance(message.channel, discord.DMChannel)
        if self.user is not None and self.user in message.mentions:
            mentioned = True
            text = text.replace(self.user.mention, "").replace(f"<@!{self.user.id}>", "").strip()
        replies = await self.dispatcher.message(text, actor, place, self.port, mentioned=mentioned)
        for reply in replies:
            # Outside an interaction nothing can be ephemeral: answer as a reply to the message.
            for part in ui.render(reply):
                await message.reply(**part.kwargs(), mention_author=False)


async def serve(app: Any) -> None:
    """Run the Discord bot until cancelled (see bot.runtime)."""
    token = secret("DISCORD_TOKEN")
    if not token:
        raise RuntimeError("DISCORD_TOKEN is not set")
    if not app.config.discord.guild_id:
        raise RuntimeError("config.toml [discord] guild_id is 0: set it to your server's id (see docs/discord.md)")
    bot = DiscordBot(app)
    try:
        await bot.start(token)
    finally:
        await bot.close()
