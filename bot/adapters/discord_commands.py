"""The registry as Discord application commands.

Each registry command becomes a slash command whose callback hands the typed options to the bot;
a command named "proposals mine" becomes subcommand "mine" of group "proposals". Options keep
their types (text, integer with its range, user, channel), choices and autocomplete; a datetime is
typed as text and read by the core in the reader's zone. Organizer commands carry default member
permissions so Discord hides them from people who lack them; the dispatcher still refuses anyone
who is not an organizer, because server admins can grant any command to anyone.

Commands synced to the guild exist only in the guild. The groups in `DM_GROUPS` are also built
as global commands allowed only in a DM with the bot (`build_dm_commands`), so a member can send
a report privately and answer the organizers where their answers arrive.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import discord
from discord import app_commands

from bot.core.dispatch import ChannelRef, UserRef
from bot.core.model import Choice, Command, Option, OptionKind, Permission
from bot.core.registry import Registry

# Who sees organizer commands by default: members with Manage Events (organizers' role should
# have it; admins can also grant each command in Server Settings → Integrations).
ORGANIZER_PERMISSIONS = discord.Permissions(manage_events=True)
MAX_CHOICE_TEXT = 100
# Top-level commands or groups also offered in a DM with the bot.
DM_GROUPS = ("report",)
DM_ONLY = app_commands.AppCommandContext(guild=False, dm_channel=True, private_channel=False)
GUILD_INSTALL = app_commands.AppInstallationType(guild=True, user=False)


class CommandHost(Protocol):
    """What the generated callbacks call: the bot."""

    async def on_app_command(self, interaction: discord.Interaction, name: str, raw: dict[str, Any]) -> None: ...

    async def on_autocomplete(
        self, interaction: discord.Interaction, name: str, option: str, partial: str
    ) -> list[Choice]: ...


def build_commands(registry: Registry, host: CommandHost) -> list[app_commands.Command | app_commands.Group]:
    """Top-level commands and groups, in registry order."""
    built: list[app_commands.Command | app_commands.Group] = []
    for top in registry.top_level():
        command = registry.get(top)
        if command is not None:
            built.append(_command(command, host, organizer_only=command.permission >= Permission.ORGANIZER))
            continue
        subcommands = registry.subcommands(top)
        organizer_only = all(c.permission >= Permission.ORGANIZER for c in subcommands)
        group = app_commands.Group(
            name=top,
            description=_group_description(top, subcommands),
            # Discord applies default permissions to a whole group only: a group that mixes
            # participant and organizer subcommands stays visible, and the dispatcher refuses.
            default_permissions=ORGANIZER_PERMISSIONS if organizer_only else None,
        )
        for sub in subcommands:
            group.add_command(_command(sub, host, organizer_only=False))
        built.append(group)
    return built


def build_dm_commands(registry: Registry, host: CommandHost) -> list[app_commands.Command | app_commands.Group]:
    """The `DM_GROUPS` the registry has, as commands usable only in a DM with the bot (global
    commands: Discord offers guild commands in their guild only). Default member permissions do
    not apply in DMs; the dispatcher checks organizers there as everywhere."""
    built = [c for c in build_commands(registry, host) if c.name in DM_GROUPS]
    for command in built:
        command.allowed_contexts = DM_ONLY
        command.allowed_installs = GUILD_INSTALL
    return built


def _group_description(top: str, subcommands: list[Command]) -> str:
    text = f"/{top}: " + ", ".join(c.path[-1] for c in subcommands)
    return text if len(text) <= 100 else text[:99] + "…"


def _command(command: Command, host: CommandHost, *, organizer_only: bool) -> app_commands.Command:
    # Option names may contain '-', which Python parameters cannot: parameters are o0, o1, …
    # renamed to the option names Discord shows.
    names = {f"o{i}": option.name for i, option in enumerate(command.options)}

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        raw = {names[key]: _raw(value) for key, value in values.items() if value is not None}
        await host.on_app_command(interaction, command.name, raw)

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for key, option in zip(names, command.options, strict=True):
        parameters.append(
            inspect.Parameter(
                key,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(option),
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # read by discord.py's parameter parser
    callback.__qualname__ = callback.__name__ = f"slash_{command.name.replace(' ', '_').replace('-', '_')}"
    app_commands.rename(**names)(callback)
    app_commands.describe(**{key: o.description for key, o in zip(names, command.options, strict=True)})(callback)
    choices = {
        key: [app_commands.Choice(name=c.label[:MAX_CHOICE_TEXT], value=c.value) for c in option.choices]
        for key, option in zip(names, command.options, strict=True)
        if option.kind is OptionKind.CHOICE and option.autocomplete is None
    }
    if choices:
        app_commands.choices(**choices)(callback)
    completers = {
        key: _completer(host, command.name, option.name)
        for key, option in zip(names, command.options, strict=True)
        if option.autocomplete is not None
    }
    if completers:
        app_commands.autocomplete(**completers)(callback)
    built = app_commands.Command(name=command.path[-1], description=command.description, callback=callback)
    if organizer_only:
        built.default_permissions = ORGANIZER_PERMISSIONS
    return built


def _annotation(option: Option) -> Any:
    if option.kind is OptionKind.INTEGER:
        if option.min_value is None and option.max_value is None:
            return int
        return app_commands.Range[int, option.min_value, option.max_value]
    if option.kind is OptionKind.USER:
        return discord.User  # a Member when used in the guild
    if option.kind is OptionKind.CHANNEL:
        # The raw resolved channel: no cache needed, and threads can be chosen too.
        return app_commands.AppCommandChannel | app_commands.AppCommandThread
    if option.kind is OptionKind.TEXT and option.max_length:
        return app_commands.Range[str, None, min(option.max_length, 6000)]
    return str  # text, choice, datetime (the core parses dates in the reader's zone)


def _raw(value: Any) -> Any:
    """A discord.py value as a raw option the core converts (see `convert_options`)."""
    if isinstance(value, discord.abc.User):
        return UserRef(str(value.id), value.display_name)
    if isinstance(value, app_commands.AppCommandChannel | app_commands.AppCommandThread):
        return ChannelRef(str(value.id), value.name)
    return value


def _completer(
    host: CommandHost, name: str, option: str
) -> Callable[[discord.Interaction, str], Awaitable[list[app_commands.Choice[str]]]]:
    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await host.on_autocomplete(interaction, name, option, current)
        return [
            app_commands.Choice(name=c.label[:MAX_CHOICE_TEXT] or c.value, value=c.value)
            for c in found
            if 0 < len(c.value) <= MAX_CHOICE_TEXT
        ][:25]

    return complete
