"""One path from a platform request to a feature's handler, shared by every adapter.

Adapters call `Dispatcher.run_command`, `click`, `submit` and `autocomplete` with what the
platform gave them; the dispatcher checks permissions, converts and validates options, calls the
handler, and turns refusals and crashes into replies a person can act on.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.core.clock import parse_instant, within_range
from bot.core.context import Context
from bot.core.forms import validate_form
from bot.core.ids import MAX_DIGITS, MAX_ID
from bot.core.model import (
    MAX_CHOICES,
    Actor,
    Choice,
    Command,
    Form,
    FormErrors,
    Option,
    OptionKind,
    Outcome,
    Permission,
    Place,
    Reply,
)
from bot.core.port import PlatformError
from storage import people

if TYPE_CHECKING:
    from bot.app import App
    from bot.core.port import PlatformPort

log = logging.getLogger(__name__)


class UsageError(Exception):
    """A request the user can fix; the message is shown to them as is."""


@dataclass(frozen=True)
class UserRef:
    """A person named in an option: a platform id when the platform gave one, else the typed name."""

    user_id: str
    name: str = ""


@dataclass(frozen=True)
class ChannelRef:
    channel_id: str
    name: str = ""


def refusal(action: str) -> Reply:
    return Reply(f"Sorry, only organizers can {action}. If you think you should be one, ask in the help channel.")


class Dispatcher:
    def __init__(self, app: App):
        self.app = app

    @property
    def registry(self):
        return self.app.registry

    # -- commands ----------------------------------------------------------------------------
    async def run_command(
        self,
        name: str,
        raw_options: dict[str, Any],
        actor: Actor,
        place: Place,
        platform: PlatformPort | None = None,
    ) -> Outcome:
        command = self.registry.get(name)
        if command is None:
            return Reply(f"I don't know /{name}. Type /help to see what I can do.")
        log.info("command /%s by %s:%s", name, actor.platform, actor.user_id)
        if command.permission > _level(actor):
            return refusal(f"use /{name}")
        ctx = await self._context(actor, place, platform)
        try:
            ctx.options = convert_options(command, raw_options, ctx.zone)
        except UsageError as exc:
            return Reply(f"{exc}\nUsage: {usage(command)}")
        return await self._guarded(f"/{name}", ctx, lambda: command.handler(ctx))

    async def click(self, button_id: str, actor: Actor, place: Place, platform: PlatformPort | None = None) -> Outcome:
        prefix, _, argument = button_id.partition(":")
        route = self.registry.buttons.get(prefix)
        if route is None:
            return Reply("That button no longer does anything. Try the command again.")
        log.info("button %s by %s:%s", prefix, actor.platform, actor.user_id)
        if route.permission > _level(actor):
            return refusal("use that button")
        ctx = await self._context(actor, place, platform)
        return await self._guarded(f"button {prefix}", ctx, lambda: route.handler(ctx, argument))

    async def submit(
        self,
        form_id: str,
        state: str,
        values: dict[str, str],
        actor: Actor,
        place: Place,
        platform: PlatformPort | None = None,
    ) -> Outcome:
        """Validate `values` against the form as its cog declares it now, then call its handler.

        Only the form's id and state travel through the platform, so a form opened before a
        restart still submits after it.
        """
        route = self.registry.forms.get(form_id)
        form = self.form_for(form_id, state)
        if route is None or form is None:
            return Reply("That form has expired. Please start again.")
        if route.permission > _level(actor):
            return refusal("submit that form")
        clean, errors = validate_form(form, values)
        if errors:
            return FormErrors(errors)
        ctx = await self._context(actor, place, platform)
        return await self._guarded(f"form {form_id}", ctx, lambda: route.handler(ctx, clean, state))

    async def message(
        self,
        text: str,
        actor: Actor,
        place: Place,
        platform: PlatformPort | None = None,
        mentioned: bool = False,
    ) -> list[Reply]:
        """Offer a plain message to every listener; collect the replies of those that answer.

        `mentioned` is True when the message addressed the bot (an @-mention or a DM)."""
        replies = []
        ctx = await self._context(actor, place, platform)
        ctx.mentioned = mentioned
        for name, route in self.registry.listeners.items():
            outcome = await self._guarded(f"listener {name}", ctx, lambda r=route: r.handler(ctx, text))
            if isinstance(outcome, Reply):
                replies.append(outcome)
        return replies

    async def autocomplete(self, name: str, option_name: str, partial: str, actor: Actor, place: Place) -> list[Choice]:
        command = self.registry.get(name)
        option = command.option(option_name) if command else None
        if not option or command.permission > _level(actor):
            return []
        if option.autocomplete is None:
            return _matching_choices(option, partial)
        ctx = Context(self.app, actor, place, None)
        try:
            found = await option.autocomplete(ctx, partial)
        except Exception:
            log.exception("autocomplete for /%s %s failed", name, option_name)
            return []
        return list(found)[:MAX_CHOICES]

    async def reader_zone(self, actor: Actor) -> ZoneInfo:
        """The zone to show this person times in: their /timezone choice, else what the platform
        knows, else the conference's."""
        chosen = await people.get_timezone(self.app.db, actor.platform, actor.user_id)
        return ZoneInfo(chosen) if chosen else actor.timezone or self.app.config.zone

    async def _context(self, actor: Actor, place: Place, platform: PlatformPort | None) -> Context:
        actor = replace(actor, timezone=await self.reader_zone(actor))
        return Context(self.app, actor, place, platform)

    async def _guarded(self, what: str, ctx: Context, call: Callable[[], Awaitable[Outcome]]) -> Outcome:
        try:
            return await call()
        except UsageError as exc:
            return Reply(str(exc))
        except PlatformError as exc:  # the platform's refusal, worded for people by the adapter
            log.warning("%s: the platform refused: %s", what, exc)
            return Reply(f"Sorry, that didn't work: {exc}")
        except Exception:
            incident = secrets.token_hex(4)
            log.exception("%s failed (incident %s)", what, incident)
            return Reply(
                f"Something went wrong on our side (reference {incident}). Nothing you typed was "
                "lost: please try again in a moment, or tell the organizers with that reference.",
                incident=incident,
            )

    def form_for(self, form_id: str, state: str = "") -> Form | None:
        builder = self.registry.form_builders.get(form_id)
        return builder(form_id, state) if builder else None


def _level(actor: Actor) -> Permission:
    return Permission.ORGANIZER if actor.is_organizer else Permission.PARTICIPANT


def _matching_choices(option: Option, partial: str) -> list[Choice]:
    needle = partial.lower().strip()
    return [c for c in option.choices if needle in c.label.lower() or needle in c.value.lower()][:MAX_CHOICES]


# -- options --------------------------------------------------------------------------------
def usage(command: Command) -> str:
    parts = [f"/{command.name}"]
    for option in command.options:
        parts.append(f"<{option.name}>" if option.required else f"[{option.name}]")
    return " ".join(parts)


def resolve_command(registry, text: str) -> tuple[str | None, str]:
    """Split '/proposals edit 3 title=x' into ('proposals edit', '3 title=x') using the registry."""
    words = text.strip().lstrip("/").split(None, 2)
    if not words:
        return None, ""
    first = words[0].lower()
    if len(words) > 1 and registry.get(f"{first} {words[1].lower()}"):
        return f"{first} {words[1].lower()}", words[2] if len(words) > 2 else ""
    after_first = text.strip().lstrip("/")[len(words[0]) :].strip()
    if registry.get(first):
        return first, after_first
    default = registry.group_default(first)
    if default and not (len(words) == 2 and words[1].lower() == "help"):
        return default.name, after_first
    if registry.subcommands(first):
        return first, after_first  # a group without a valid subcommand: the caller shows usage
    return None, ""


_KEY_VALUE = re.compile(r"^([a-z][a-z0-9_-]*)=(.*)$", re.DOTALL)
# A word as shlex.split() reads one (posix rules: quotes, backslash escapes; its whitespace is " \t\r\n").
_WORD = re.compile(r"""(?:[^ \t\r\n'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+""", re.DOTALL)
_AS_TYPED = re.compile(r"[^ \t\r\n]+")


@dataclass(frozen=True)
class Word:
    """A word of a typed line: its value as shlex.split() gives it, and where it stands in the line."""

    value: str
    start: int
    end: int


def split_words(text: str) -> list[Word]:
    """The words of a typed line, quotes and escapes undone as shlex.split() does, with their places
    in the line; with an unmatched quote or a trailing backslash, the words exactly as typed."""
    try:
        shlex.split(text)
    except ValueError:
        return [Word(m.group(), m.start(), m.end()) for m in _AS_TYPED.finditer(text)]
    return [Word(shlex.split(m.group())[0], m.start(), m.end()) for m in _WORD.finditer(text)]


def parse_option_text(command: Command, text: str, form_values: dict[str, str] | None = None) -> dict[str, str]:
    """Read `key=value` pairs and positional words, in option order. One text option takes the rest
    of the line exactly as typed (quotes, spacing and any `key=value` inside it kept), so
    '/faq where is the conference' needs no quotes; a rest that is one quoted word loses its quotes.

    With `form_values`, `key=value` words naming no option (the fields of a form the command may
    open) are collected there instead."""
    words = split_words(text)

    def option_of(word: Word) -> str | None:
        match = _KEY_VALUE.match(word.value)
        name = match.group(1).replace("_", "-") if match else ""
        return name if name and command.option(name) else None

    def field_of(word: Word) -> str | None:
        key, sep, _ = word.value.partition("=")
        if form_values is None or not sep or not key or option_of(word):
            return None
        return key if key.replace("_", "").replace("-", "").isalnum() else None

    def is_pair(word: Word) -> bool:
        return option_of(word) is not None or field_of(word) is not None

    # One text option takes the rest of the line: the last required one, else the last one. Options
    # after it can still be given as key=value words that end the line ('/ask opening Where do I
    # start? anonymous=yes'); a key=value word with more text after it belongs to the text.
    named = {option_of(w) for w in words} - {None}
    free = [o for o in command.options if o.name not in named]
    texts = [o for o in free if o.kind is OptionKind.TEXT]
    greedy = ([o for o in texts if o.required] or texts or [None])[-1]
    end = len(words)
    while end and is_pair(words[end - 1]):
        end -= 1
    raw: dict[str, str] = {}
    slots = iter(free)
    left: list[str] = []
    rest_from = None
    for index, word in enumerate(words[:end]):
        if is_pair(word):
            continue
        option = next(slots, None)
        if option is None:
            left.append(word.value)
        elif option is greedy:
            rest_from = index
            break
        else:
            raw[option.name] = word.value
    if left:
        raise UsageError(f"I didn't understand: {' '.join(left)}")
    for word in words if rest_from is None else words[:rest_from] + words[end:]:
        if name := option_of(word):
            raw[name] = word.value.partition("=")[2]
        elif (key := field_of(word)) and form_values is not None:
            form_values[key] = word.value.partition("=")[2]
    if rest_from is not None:
        first, last = words[rest_from], words[end - 1]
        quoted = first is last and text[first.start] in "'\"" and text[last.end - 1] == text[first.start]
        raw[greedy.name] = first.value if quoted else text[first.start : last.end]
    return raw


_USER = re.compile(r"^<@!?([A-Z0-9]+)(?:\|([^>]*))?>$", re.IGNORECASE)
_CHANNEL = re.compile(r"^<#([A-Z0-9]+)(?:\|([^>]*))?>$", re.IGNORECASE)


def convert_options(command: Command, raw: dict[str, Any], zone: dt.tzinfo) -> dict[str, Any]:
    """Typed values for every declared option; missing optional ones are None."""
    unknown = set(raw) - {o.name for o in command.options}
    if unknown:
        raise UsageError(f"/{command.name} has no option {', '.join(sorted(unknown))}.")
    values: dict[str, Any] = {}
    for option in command.options:
        value = raw.get(option.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if option.required:
                raise UsageError(f"Please give {option.name} ({option.description}).")
            values[option.name] = None
            continue
        values[option.name] = convert_value(option, value, zone)
    return values


def convert_value(option: Option, value: Any, zone: dt.tzinfo) -> Any:
    name = option.name
    if option.kind is OptionKind.INTEGER:
        if isinstance(value, float) and not value.is_integer():
            raise UsageError(f"{name} must be a whole number, not {value!r}.")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise UsageError(f"{name} must be a whole number, not {str(value)[:40]!r}.") from None
        if option.min_value is not None and number < option.min_value:
            raise UsageError(f"{name} must be at least {option.min_value}.")
        if option.max_value is not None and number > option.max_value:
            raise UsageError(f"{name} must be at most {option.max_value}.")
        # Without declared bounds (ids): no id is this long, and SQLite could not even compare it.
        if (option.max_value is None and number > MAX_ID) or (option.min_value is None and number < -MAX_ID):
            raise UsageError(f"{name} must be a whole number of at most {MAX_DIGITS} digits.")
        return number
    if option.kind is OptionKind.CHOICE:
        typed = str(value).strip().lower()
        for choice in option.choices:
            if typed in (choice.value.lower(), choice.label.lower()):
                return choice.value
        labels = ", ".join(c.value for c in option.choices)
        raise UsageError(f"{name} must be one of: {labels}.")
    if option.kind is OptionKind.DATETIME:
        try:
            if isinstance(value, dt.datetime):
                return within_range(value if value.tzinfo else value.replace(tzinfo=zone))
            return parse_instant(str(value), zone)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
    if option.kind is OptionKind.USER:
        if isinstance(value, UserRef):
            return value
        text = str(value).strip()
        match = _USER.match(text)
        if match:
            return UserRef(match.group(1), match.group(2) or "")
        return UserRef(text.lstrip("@"), text.lstrip("@"))
    if option.kind is OptionKind.CHANNEL:
        if isinstance(value, ChannelRef):
            return value
        text = str(value).strip()
        match = _CHANNEL.match(text)
        if match:
            return ChannelRef(match.group(1), match.group(2) or "")
        return ChannelRef(text.lstrip("#"), text.lstrip("#"))
    text = str(value)
    if option.max_length is not None and len(text) > option.max_length:
        raise UsageError(f"{name} can be at most {option.max_length} characters (you wrote {len(text)}).")
    return text
