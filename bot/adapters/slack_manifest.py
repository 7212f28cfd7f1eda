"""The Slack app manifest, generated from the command registry.

An organizer pastes it into https://api.slack.com/apps → Create New App → From a manifest, and gets
every slash command, scope and event subscription the adapter relies on in one step. Without a
public URL the manifest turns Socket Mode on (no URL needed); with one, HTTP mode request URLs.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.slack_text import plain
from bot.config import Config
from bot.core.dispatch import usage
from bot.core.registry import Registry

EVENTS_PATH = "/slack/events"
MAX_COMMANDS = 50  # Slack's cap on slash commands per app

# Slack's built-in commands: an app cannot register them, and a manifest naming one is rejected
# whole. (Slack help: "Use built-in slash commands".)
RESERVED_COMMANDS = frozenset(
    {
        "active",
        "apps",
        "archive",
        "away",
        "call",
        "collapse",
        "dm",
        "dnd",
        "expand",
        "feed",
        "feedback",
        "invite",
        "invite_people",
        "join",
        "keys",
        "kick",
        "leave",
        "me",
        "msg",
        "mute",
        "open",
        "prefs",
        "pro",
        "remind",
        "remove",
        "rename",
        "search",
        "shortcuts",
        "shrug",
        "star",
        "status",
        "topic",
        "who",
    }
)

# Why each scope: a scope nobody can justify should not be requested.
BOT_SCOPES = {
    "commands": "slash commands",
    "chat:write": "replies, announcements, thread posts",
    "channels:join": "join a public channel before posting in it",
    "channels:read": "find channels by name",
    "groups:read": "find private channels the bot is in",
    "channels:manage": "create, invite to, remove from and archive public channels",
    "groups:write": "the same for private channels",
    "channels:history": "messages in public channels (listeners) and delivery checks",
    "groups:history": "messages in private channels the bot is in",
    "im:history": "direct messages to the bot",
    "im:write": "open direct messages",
    "mpim:write": "open group DMs for circles",
    "mpim:history": "check a circle's group DM before repeating a delivery",
    "users:read": "people's display names and time zones",
    "usergroups:read": "members of the organizers' user group",
    "files:write": "share files",
}
# Plain messages only: subscribing to app_mention as well would deliver every mention twice.
BOT_EVENTS = ["message.channels", "message.groups", "message.im"]


class ManifestError(ValueError):
    pass


def build_manifest(config: Config, registry: Registry, public_url: str = "") -> dict[str, Any]:
    names = registry.top_level()
    reserved = sorted(n for n in names if n in RESERVED_COMMANDS)
    if reserved:
        raise ManifestError(
            "Slack reserves these command names for itself: "
            + ", ".join(f"/{n}" for n in reserved)
            + ". Rename them in their cog."
        )
    if len(names) > MAX_COMMANDS:
        raise ManifestError(f"Slack allows {MAX_COMMANDS} slash commands per app; there are {len(names)}")
    request_url = public_url.rstrip("/") + EVENTS_PATH if public_url else ""
    short = config.conference.short_name
    commands = [_slash_command(registry, name, request_url) for name in names]
    settings: dict[str, Any] = {
        "interactivity": {"is_enabled": True},
        "event_subscriptions": {"bot_events": BOT_EVENTS},
        "org_deploy_enabled": False,
        "socket_mode_enabled": not request_url,
        "token_rotation_enabled": False,
    }
    if request_url:
        settings["interactivity"]["request_url"] = request_url
        settings["event_subscriptions"]["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": plain(short, 35),
            "description": plain(f"The {short} community bot: answers, proposals, reminders, rooms.", 140),
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": plain(short, 80), "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": sorted(BOT_SCOPES)}},
        "settings": settings,
    }


def _slash_command(registry: Registry, name: str, request_url: str) -> dict[str, Any]:
    command = registry.get(name)
    if command is not None:
        description = command.description
        hint = usage(command).removeprefix(f"/{name}").strip()
    else:
        subs = registry.subcommands(name)
        words = [c.path[-1] for c in subs]
        description = f"{name.capitalize()}: {', '.join(words)}"
        hint = " | ".join(usage(c).removeprefix(f"/{name} ") for c in subs)
    entry: dict[str, Any] = {
        "command": f"/{name}",
        "description": plain(description, 100),
        # Mentions typed in the text arrive as <@U…|name> and <#C…|name>: ids, not guesses.
        "should_escape": True,
    }
    if hint:
        entry["usage_hint"] = plain(hint, 100)
    if request_url:
        entry["url"] = request_url
    return entry
