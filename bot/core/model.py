"""The platform-free vocabulary that features speak and adapters translate.

Designed against what both Discord and Slack can render: commands with typed options, forms with
validated fields, replies with text, buttons and files, the actor and the place of a request.

Text in replies is a small Markdown subset that every adapter renders natively:
`**bold**`, `_italic_`, `` `code` ``, `[label](https://…)`, lines starting with `- `, and
`<t:EPOCH:STYLE>` for an instant shown in the reader's own time zone (see `bot.core.text`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.core.context import Context

# Limits shared by every adapter; they are the tighter of Discord's and Slack's.
MAX_NAME = 32  # command and option names (Discord)
MAX_DESCRIPTION = 100  # command and option descriptions (Discord)
MAX_CHOICES = 25  # choices per option and autocomplete results (Discord)
MAX_OPTIONS = 25
MAX_FORM_FIELDS = 5  # text inputs in a Discord modal
MAX_FORM_TITLE = 24  # Slack modal titles are the tighter limit (Discord: 45)
MAX_BUTTON_ID = 100  # Discord custom_id; Slack action_id allows 255
MAX_BUTTON_LABEL = 75  # Slack; Discord allows 80
MAX_FIELD_LENGTH = 3000  # Slack plain_text_input (Discord allows 4000)


class Permission(enum.IntEnum):
    PARTICIPANT = 0
    ORGANIZER = 1


class OptionKind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    CHOICE = "choice"
    USER = "user"
    CHANNEL = "channel"
    DATETIME = "datetime"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Option:
    name: str
    description: str
    kind: OptionKind = OptionKind.TEXT
    required: bool = True
    # Fixed choices, or a function of the cog returning them (for choices that come from config).
    choices: tuple[Choice, ...] | Callable[[Any], Sequence[Choice]] = ()
    min_value: int | None = None
    max_value: int | None = None
    max_length: int | None = None
    # Offered by a cog: (context, partial text) -> up to 25 choices.
    autocomplete: Callable[[Context, str], Awaitable[list[Choice]]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", OptionKind(self.kind))  # accept "integer" as well


Handler = Callable[["Context"], Awaitable["Reply | Form"]]


@dataclass(frozen=True)
class Command:
    """A command; a name with a space ('proposals mine') is a subcommand of its first word."""

    name: str
    description: str
    handler: Handler
    options: tuple[Option, ...] = ()
    permission: Permission = Permission.PARTICIPANT
    # On text platforms, `/group words…` that name no subcommand run this one ('/faq where is it').
    group_default: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split(" "))

    @property
    def group(self) -> str | None:
        return self.path[0] if len(self.path) > 1 else None

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


class FieldKind(enum.StrEnum):
    SHORT = "short"  # one line
    PARAGRAPH = "paragraph"  # several lines
    EMAIL = "email"
    INTEGER = "integer"
    CHOICE = "choice"
    DATETIME = "datetime"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: FieldKind = FieldKind.SHORT
    required: bool = True
    min_length: int = 0
    max_length: int = 1000
    choices: tuple[Choice, ...] = ()
    placeholder: str = ""
    default: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FieldKind(self.kind))  # accept "email" as well


@dataclass(frozen=True)
class Form:
    """A form for the user to fill in; submitting it calls the registry's handler for `id`.

    `state` is opaque data the handler needs back (an intent id to edit, say); it travels with the
    form through the platform, so it must stay short. `values` pre-fills fields (a retry keeps what
    the user typed).
    """

    id: str
    title: str
    fields: tuple[FormField, ...]
    submit_label: str = "Submit"
    state: str = ""
    values: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def prefilled(self, values: dict[str, str]) -> Form:
        return Form(self.id, self.title, self.fields, self.submit_label, self.state, dict(values))


class ButtonStyle(enum.StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    DANGER = "danger"


@dataclass(frozen=True)
class Button:
    """A button whose id is `PREFIX:ARG`; the prefix names the handler, so clicks survive restarts."""

    id: str
    label: str
    style: ButtonStyle = ButtonStyle.SECONDARY
    url: str = ""  # a link button: opens the address, sends no click

    @property
    def prefix(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def argument(self) -> str:
        return self.id.split(":", 1)[1] if ":" in self.id else ""


@dataclass(frozen=True)
class File:
    name: str
    content: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True)
class Reply:
    text: str
    private: bool = True
    buttons: tuple[Button, ...] = ()
    files: tuple[File, ...] = ()
    # Set by the dispatcher when a handler crashed: the reference people can give the organizers.
    # Adapters then keep a submitted form's values, as they do for validation errors.
    incident: str = ""


@dataclass(frozen=True)
class FormErrors:
    """Returned by a form handler (or the core's validation): one message per field name."""

    errors: dict[str, str]


class Platform(enum.StrEnum):
    CONSOLE = "console"
    DISCORD = "discord"
    SLACK = "slack"


@dataclass(frozen=True)
class Actor:
    platform: Platform
    user_id: str
    display_name: str
    is_organizer: bool = False
    timezone: ZoneInfo | None = None


class PlaceKind(enum.StrEnum):
    CHANNEL = "channel"
    THREAD = "thread"
    DM = "dm"


@dataclass(frozen=True)
class Place:
    platform: Platform
    channel_id: str
    kind: PlaceKind = PlaceKind.CHANNEL
    thread_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class Message:
    """What the Platform port posts: text plus optional buttons and files."""

    text: str
    buttons: Sequence[Button] = ()
    files: Sequence[File] = ()
    dedupe_key: str = ""  # a marker the platform keeps with the message (Discord nonce, Slack metadata)
    # Opt-in pings, added by the adapter (never parsed from text): a role by name (Discord),
    # and people by user id (Slack, which has no roles for this).
    notify_role: str = ""
    mention_users: Sequence[str] = ()


@dataclass(frozen=True)
class Posted:
    place: Place
    message_id: str


@dataclass(frozen=True)
class Timestamp:
    """An instant to show in the reader's zone; `str()` gives the markup used in reply text."""

    when: dt.datetime
    style: str = "F"  # Discord styles: t T d D f F R

    def __str__(self) -> str:
        return f"<t:{int(self.when.timestamp())}:{self.style}>"


Outcome = Reply | Form | FormErrors
AnyDict = dict[str, Any]
