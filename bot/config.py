"""The conference, described by config.toml and validated with pydantic.

Everything conference-specific lives in the file; secrets never do (see `bot.secrets`).
A bad file raises `ConfigError` carrying one readable line per problem, each naming its key.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.clock import find_zone

DEFAULT_CONFIG_PATH = Path("config.toml")
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonEmpty = Annotated[str, AfterValidator(_non_empty)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Section):
    """A selectable item with a stable id (used in storage) and a label (shown to people)."""

    id: Slug
    label: NonEmpty


class Conference(Section):
    name: NonEmpty
    short_name: NonEmpty
    host: NonEmpty
    dates: list[dt.date] = Field(min_length=1)
    timezone: str = "America/New_York"
    virtual: bool = True
    free: bool = True
    description: str = ""
    initiatives: list[str] = []
    supporters: list[str] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if find_zone(value) is None:  # the value is not repeated: a secret pasted here stays off the screen
            raise ValueError("unknown time zone (use an IANA name such as America/New_York)")
        return value

    @field_validator("dates")
    @classmethod
    def _sorted_dates(cls, value: list[dt.date]) -> list[dt.date]:
        if value != sorted(set(value)):
            raise ValueError("dates must be listed once each, earliest first")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Proposals(Section):
    deadline: dt.date
    per_person_limit: int = Field(default=5, ge=1, le=100)
    # Post a note in the organizers' channel for every new intent.
    notify_organizers: bool = True
    types: list[Choice] = Field(min_length=1)

    @field_validator("types")
    @classmethod
    def _unique_types(cls, value: list[Choice]) -> list[Choice]:
        return _unique_ids(value)


class Audiences(Section):
    roles: list[NonEmpty] = Field(min_length=1)


class Links(Section):
    conference_page: NonEmpty
    faq_page: str = ""
    submission_guide: NonEmpty
    submission_form: NonEmpty
    registration: str = ""
    contact_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]

    @field_validator("conference_page", "faq_page", "submission_guide", "submission_form", "registration")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be a web address starting with https://")
        return value


class Storage(Section):
    path: Path = Path("data/bot.sqlite3")


class Channels(Section):
    announcements: NonEmpty = "announcements"
    organizers: NonEmpty = "organizers"
    help: NonEmpty = "help"
    moderation: NonEmpty = "moderation"  # private reports land here (organizers only)


class Roles(Section):
    organizer: NonEmpty = "Organizer"
    # The opt-in role pinged by announcements that ask for it (/notify on|off).
    announcements: NonEmpty = "Announcements"


class DiscordSettings(Section):
    guild_id: int = Field(default=0, ge=0)


class SlackSettings(Section):
    organizer_user_ids: list[str] = []
    organizer_usergroup: str = ""
    port: int = Field(default=3000, ge=1, le=65535)


class FaqSettings(Section):
    path: Path = Path("faq.toml")
    # Channels where the bot answers plain messages (only on confident matches); also when mentioned.
    help_channels: list[str] = ["help"]
    engine: Literal["auto", "embedding", "lexical"] = "auto"


class Reminders(Section):
    """Offsets before the proposal deadline, written like 30d, 6h or 1h30m."""

    deadline_offsets: list[str] = ["30d", "14d", "7d", "3d", "1d", "6h"]
    nudge_offsets: list[str] = ["7d", "2d", "12h"]
    passed_notice: bool = True

    @field_validator("deadline_offsets", "nudge_offsets")
    @classmethod
    def _durations(cls, value: list[str]) -> list[str]:
        from bot.core.clock import parse_duration

        for item in value:
            parse_duration(item)  # raises with a readable message
        if len(set(value)) != len(value):
            raise ValueError("each offset may be listed once")
        return value


class Delivery(Section):
    """Pacing of fan-outs: each platform's global rate, and sends in flight."""

    # Requests/s: Discord allows 50; a DM costs two (open the DM channel, post), a channel post one.
    discord_rate: float = Field(default=48, gt=0, le=50)
    slack_rate: float = Field(default=8, gt=0, le=50)  # messages/s; the port also paces each channel to ~1/s
    concurrency: int = Field(default=8, ge=1, le=64)


class CoalitionSettings(Section):
    name: NonEmpty
    description: NonEmpty
    prompt: NonEmpty


class EventSettings(Section):
    program: Path = Path("program.toml")
    # Minutes before a session when "starting soon" and its Q&A thread are posted.
    lead_minutes: int = Field(default=10, ge=0, le=240)
    lobby: NonEmpty = "lobby"
    category: NonEmpty = "Challenging Norms"  # Discord category holding the event's channels
    coalitions_forum: NonEmpty = "coalitions"  # Discord forum; on Slack, channels named coalition-…
    coalition_prefix: NonEmpty = "coalition-"
    code_of_conduct: str = ""  # a link shown in /about and event channel welcomes
    coalitions: list[CoalitionSettings] = []


class CircleSettings(Section):
    roles: list[NonEmpty] = [
        "medical student",
        "house staff",
        "faculty",
        "dean or director",
        "academic administrator",
        "community member",
        "graduate student",
        "postdoctoral fellow",
        "other",
    ]
    size: int = Field(default=3, ge=2, le=6)
    warning_hours: float = Field(default=24, ge=0, le=24 * 14)  # members are told this long before a round
    followup_days: float = Field(default=7, gt=0, le=60)


class Config(Section):
    conference: Conference
    proposals: Proposals
    areas: list[Choice] = Field(min_length=1)
    audiences: Audiences
    links: Links
    storage: Storage = Storage()
    channels: Channels = Channels()
    roles: Roles = Roles()
    discord: DiscordSettings = DiscordSettings()
    slack: SlackSettings = SlackSettings()
    faq: FaqSettings = FaqSettings()
    reminders: Reminders = Reminders()
    delivery: Delivery = Delivery()
    event: EventSettings = EventSettings()
    circles: CircleSettings = CircleSettings()
    _base: Path = PrivateAttr(default=Path("."))

    @field_validator("areas")
    @classmethod
    def _unique_areas(cls, value: list[Choice]) -> list[Choice]:
        return _unique_ids(value)

    @model_validator(mode="after")
    def _deadline_before_conference(self) -> Config:
        if self.proposals.deadline >= self.conference.dates[0]:
            raise ValueError("proposals.deadline must fall before the first conference date")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return self.conference.zone

    @property
    def deadline(self) -> dt.datetime:
        """The last instant proposals are accepted: the end of the deadline day in the conference zone."""
        next_day = self.proposals.deadline + dt.timedelta(days=1)
        return dt.datetime.combine(next_day, dt.time(0, 0), tzinfo=self.zone) - dt.timedelta(seconds=1)

    def event_start(self) -> dt.datetime:
        return dt.datetime.combine(self.conference.dates[0], dt.time(0, 0), tzinfo=self.zone)

    def database_path(self) -> Path:
        return Path(os.environ.get("BOT_DB") or self.resolve(self.storage.path))

    def resolve(self, path: Path) -> Path:
        """Relative paths in the file are relative to the file, not to where the bot starts."""
        return path if path.is_absolute() else self._base / path


def _unique_ids(items: list[Choice]) -> list[Choice]:
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"ids must be unique; repeated: {', '.join(duplicates)}")
    return items


class ConfigError(Exception):
    """A config file that cannot be used; `problems` holds one readable line per problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def config_path(explicit: str | Path | None = None) -> Path:
    return Path(explicit or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path | None = None) -> Config:
    path = config_path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error) for error in exc.errors()]) from None
    config._base = path.resolve().parent
    return config


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required but missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (check the spelling, or remove it)"
    # The offending value is never repeated (pydantic's messages say what was expected, not what was
    # given): a token pasted into the wrong key must not reach the terminal or CI output.
    message = error["msg"].removeprefix("Value error, ")
    if kind.startswith(("date_", "datetime_")):
        return f"{key}: {message} (write dates as 2023-10-13)"
    return f"{key}: {message}"
