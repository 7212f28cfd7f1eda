"""The program: sessions from the organizers' file, /program in the reader's time, and .ics export."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import icalendar

from bot.config import Config

PLENARY = "plenary"


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    area: str  # an area id, or "plenary"
    kind: str
    start: dt.datetime
    end: dt.datetime
    description: str = ""
    speakers: tuple[str, ...] = ()
    join_link: str = ""


class ProgramError(Exception):
    pass


def load_program(config: Config) -> list[Session]:
    path = config.resolve(config.event.program)
    try:
        raw = tomllib.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise ProgramError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{path}: not valid TOML: {exc}") from None
    areas = {a.id for a in config.areas} | {PLENARY}
    sessions, problems = [], []
    for index, item in enumerate(raw.get("sessions", [])):
        where = f"{path}: sessions[{index}]"
        try:
            session = Session(
                id=str(item["id"]),
                title=str(item["title"]),
                area=str(item["area"]),
                kind=str(item.get("kind", "session")),
                start=item["start"],
                end=item["end"],
                description=str(item.get("description", "")),
                speakers=tuple(item.get("speakers", [])),
                join_link=str(item.get("join_link", "")),
            )
        except KeyError as exc:
            problems.append(f"{where}: missing {exc.args[0]}")
            continue
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", session.id):
            problems.append(f"{where}: id {session.id!r} must be lowercase letters, digits and '-'")
        if session.area not in areas:
            problems.append(f"{where}: area {session.area!r} is not one of {', '.join(sorted(areas))}")
        for name in ("start", "end"):
            value = getattr(session, name)
            if not isinstance(value, dt.datetime) or value.tzinfo is None:
                problems.append(f"{where}: {name} needs a date, time and UTC offset (2023-10-13T09:00:00-04:00)")
        if not problems and session.end <= session.start:
            problems.append(f"{where}: end must come after start")
        sessions.append(session)
    ids = [s.id for s in sessions]
    problems += [f"{path}: session id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise ProgramError("; ".join(problems))
    return sorted(sessions, key=lambda s: (s.start, s.id))


def calendar(sessions: list[Session], config: Config) -> bytes:
    """An .ics file with one event per session (instants in UTC, so every calendar app agrees)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Challenging Norms bot//program//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", config.conference.short_name)
    areas = {a.id: a.label for a in config.areas}
    for session in sessions:
        event = icalendar.Event()
        event.add("uid", f"{session.id}@{config.conference.short_name.lower().replace(' ', '-')}")
        event.add("summary", session.title)
        event.add("dtstart", session.start.astimezone(dt.UTC))
        event.add("dtend", session.end.astimezone(dt.UTC))
        event.add("dtstamp", session.start.astimezone(dt.UTC))
        details = [session.description, f"Area: {areas.get(session.area, 'All areas')}"]
        if session.speakers:
            details.append("With: " + ", ".join(session.speakers))
        event.add("description", "\n".join(d for d in details if d))
        if session.join_link:
            event.add("url", session.join_link)
            event.add("location", session.join_link)
        cal.add_component(event)
    return cal.to_ical()
