"""The registry: every command, button handler and form handler of every cog, checked once.

Cogs are plain classes whose methods are marked with `@command`, `@button` and `@form_handler`;
`Registry.add_cog` collects them. Adapters read the registry to build their native commands.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.core.model import (
    MAX_CHOICES,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_OPTIONS,
    Command,
    Option,
    OptionKind,
    Permission,
)

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_MARK = "_bot_marks"

ButtonHandler = Callable[[Any, str], Awaitable[Any]]  # (context, argument) -> Outcome
FormHandler = Callable[[Any, dict[str, str], str], Awaitable[Any]]  # (context, values, state)


def _mark(kind: str, **data: Any) -> Callable:
    def decorate(func: Callable) -> Callable:
        marks = getattr(func, _MARK, [])
        marks.append((kind, data))
        setattr(func, _MARK, marks)
        return func

    return decorate


def command(
    name: str,
    description: str,
    *options: Option,
    permission: Permission = Permission.PARTICIPANT,
    group_default: bool = False,
) -> Callable:
    """Mark a cog method `async def handler(self, ctx) -> Reply | Form` as a command."""
    return _mark(
        "command",
        name=name,
        description=description,
        options=options,
        permission=permission,
        group_default=group_default,
    )


def button(prefix: str, permission: Permission = Permission.PARTICIPANT) -> Callable:
    """Mark `async def handler(self, ctx, argument)` as the handler of buttons with id `prefix:…`."""
    return _mark("button", prefix=prefix, permission=permission)


def form_handler(form_id: str, permission: Permission = Permission.PARTICIPANT) -> Callable:
    """Mark `async def handler(self, ctx, values, state)` as the handler of form `form_id`."""
    return _mark("form", form_id=form_id, permission=permission)


def listener(name: str) -> Callable:
    """Mark `async def on_message(self, ctx, text) -> Reply | None` to see plain messages.

    Cogs answer only where invited (a mention, a help channel); most messages are not for the bot."""
    return _mark("listener", name=name)


def may_return_form(handler: Callable[..., Any] | None) -> bool:
    """Whether a handler can return a Form, read from its return annotation (cogs write `-> Reply`,
    `-> Form`, `-> Reply | Form`). Without an annotation, assume it can. Adapters use it to answer at
    once in a rush when the answer cannot be a modal (which must be the first response)."""
    annotation = getattr(handler, "__annotations__", {}).get("return")
    if annotation is None:
        return True
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return re.search(r"\bForm\b", str(text)) is not None


def timeline(name: str) -> Callable:
    """Mark `async def plan(self) -> list[Occurrence]` as a source of scheduled messages (see
    bot.delivery): every occurrence, past and future, rebuilt from storage and config."""
    return _mark("timeline", name=name)


def form_builder(form_id: str) -> Callable:
    """Mark `def build(self, form_id, state) -> Form` as the definition of form `form_id`.

    Submissions are validated against it, so a form opened before a restart still works."""
    return _mark("builder", form_id=form_id)


@dataclass(frozen=True)
class Route:
    handler: Callable[..., Awaitable[Any]]
    permission: Permission


class RegistryError(Exception):
    pass


class Registry:
    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.buttons: dict[str, Route] = {}
        self.forms: dict[str, Route] = {}
        self.form_builders: dict[str, Callable[[str, str], Any]] = {}
        self.cogs: list[object] = []
        self.listeners: dict[str, Route] = {}
        self.timelines: dict[str, Callable[[], Awaitable[Any]]] = {}

    def add_cog(self, cog: object) -> None:
        self.cogs.append(cog)
        # Definition order (not dir()'s alphabetical order), so /help lists commands as declared.
        members = {name: f for klass in reversed(type(cog).__mro__) for name, f in vars(klass).items()}
        for attr, func in members.items():
            for kind, data in getattr(func, _MARK, []):
                bound = getattr(cog, attr)
                if kind == "command":
                    options = tuple(_bind_choices(o, cog) for o in data["options"])
                    self.add_command(Command(handler=bound, **(data | {"options": options})))
                elif kind == "button":
                    self._add_route(self.buttons, data["prefix"], bound, data["permission"])
                elif kind == "timeline":
                    if data["name"] in self.timelines:
                        raise RegistryError(f"timeline {data['name']!r} is declared twice")
                    self.timelines[data["name"]] = bound
                elif kind == "listener":
                    self._add_route(self.listeners, data["name"], bound, Permission.PARTICIPANT)
                elif kind == "form":
                    self._add_route(self.forms, data["form_id"], bound, data["permission"])
                else:
                    if data["form_id"] in self.form_builders:
                        raise RegistryError(f"form {data['form_id']!r} is defined twice")
                    self.form_builders[data["form_id"]] = bound
        missing = set(self.forms) ^ set(self.form_builders)
        if missing:
            raise RegistryError(f"forms need both a builder and a handler: {sorted(missing)}")

    def add_command(self, command: Command) -> None:
        _check_command(command)
        if command.name in self.commands:
            raise RegistryError(f"command /{command.name} is declared twice")
        parent, child = command.path[0], command.path[-1]
        if command.group and parent in self.commands:
            raise RegistryError(f"/{parent} is a command, so it cannot also be a group")
        if not command.group and any(c.group == parent for c in self.commands.values()):
            raise RegistryError(f"/{parent} is a group, so it cannot also be a command")
        if command.group_default and (not command.group or self.group_default(parent)):
            raise RegistryError(f"/{command.name}: only one subcommand of a group can be its default")
        if command.group and len(self.subcommands(parent)) >= MAX_OPTIONS:
            raise RegistryError(f"/{parent} has more than {MAX_OPTIONS} subcommands ({child})")
        self.commands[command.name] = command

    def _add_route(self, table: dict[str, Route], key: str, handler, permission) -> None:
        if not key or ":" in key:
            raise RegistryError(f"handler key {key!r} must be non-empty and contain no ':'")
        if key in table:
            raise RegistryError(f"two handlers for {key!r}")
        table[key] = Route(handler, permission)

    # -- lookups used by adapters ------------------------------------------------------------
    def get(self, name: str) -> Command | None:
        return self.commands.get(name)

    def top_level(self) -> list[str]:
        """Top-level names: plain commands and groups, in declaration order."""
        seen: dict[str, None] = {}
        for cmd in self.commands.values():
            seen.setdefault(cmd.path[0], None)
        return list(seen)

    def subcommands(self, group: str) -> list[Command]:
        return [c for c in self.commands.values() if c.group == group]

    def group_default(self, group: str) -> Command | None:
        return next((c for c in self.subcommands(group) if c.group_default), None)

    def visible_to(self, is_organizer: bool) -> list[Command]:
        level = Permission.ORGANIZER if is_organizer else Permission.PARTICIPANT
        return [c for c in self.commands.values() if c.permission <= level]

    def fingerprint(self) -> str:
        """A hash of everything a platform's command list depends on (to sync only on change)."""
        shape = [
            [c.name, c.description, int(c.permission), [_option_shape(o) for o in c.options]]
            for c in sorted(self.commands.values(), key=lambda c: c.name)
        ]
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def _bind_choices(option: Option, cog: object) -> Option:
    """Choices given as a function of the cog come from its config (submission types, areas)."""
    if callable(option.choices):
        return dataclasses.replace(option, choices=tuple(option.choices(cog)))
    return option


def _option_shape(option: Option) -> list:
    return [
        option.name,
        option.description,
        option.kind.value,
        option.required,
        [[c.value, c.label] for c in option.choices],
        option.min_value,
        option.max_value,
        option.max_length,
        option.autocomplete is not None,
    ]


def _check_command(command: Command) -> None:
    where = f"/{command.name}"
    if not 1 <= len(command.path) <= 2:
        raise RegistryError(f"{where}: at most one level of subcommands")
    for part in command.path:
        if not _NAME.match(part) or len(part) > MAX_NAME:
            raise RegistryError(f"{where}: {part!r} must be lowercase letters, digits and '-'")
    if not 1 <= len(command.description) <= MAX_DESCRIPTION:
        raise RegistryError(f"{where}: description must be 1–{MAX_DESCRIPTION} characters")
    if len(command.options) > MAX_OPTIONS:
        raise RegistryError(f"{where}: more than {MAX_OPTIONS} options")
    _check_options(where, command.options)


def _check_options(where: str, options: Iterable[Option]) -> None:
    seen_optional = False
    names: set[str] = set()
    for option in options:
        if not _NAME.match(option.name) or len(option.name) > MAX_NAME:
            raise RegistryError(f"{where}: option {option.name!r} needs a lowercase name")
        if option.name in names:
            raise RegistryError(f"{where}: option {option.name!r} declared twice")
        names.add(option.name)
        if not 1 <= len(option.description) <= MAX_DESCRIPTION:
            raise RegistryError(f"{where}: option {option.name} description must be 1–100 characters")
        if option.required and seen_optional:
            raise RegistryError(f"{where}: required option {option.name} after an optional one")
        seen_optional |= not option.required
        if option.kind is OptionKind.CHOICE and not 1 <= len(option.choices) <= MAX_CHOICES:
            raise RegistryError(f"{where}: option {option.name} needs 1–{MAX_CHOICES} choices")
