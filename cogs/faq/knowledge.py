"""The FAQ knowledge base: entries from the organizers' file, answers filled with config facts."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from string import Formatter

from bot.config import Config
from bot.core.model import Timestamp
from bot.core.text import join_words, time_left
from cogs.general import conference_days

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class Entry:
    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())

    def texts(self) -> list[str]:
        """What a question is compared with: the question, its alternates, question + answer."""
        return [self.question, *self.alternates, f"{self.question} {self.answer}"]


class KnowledgeError(Exception):
    pass


def load_entries(path: Path) -> list[Entry]:
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{path}: not valid TOML: {exc}") from None
    entries, problems = [], []
    for index, item in enumerate(raw.get("entries", [])):
        where = f"{path}: entries[{index}]"
        unknown = set(item) - {"id", "question", "alternates", "answer", "tags"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            entry = Entry(
                id=str(item["id"]),
                question=str(item["question"]).strip(),
                answer=str(item["answer"]).strip(),
                alternates=tuple(str(a) for a in item.get("alternates", [])),
                tags=tuple(str(t) for t in item.get("tags", [])),
            )
        except KeyError as exc:
            problems.append(f"{where}: missing {exc.args[0]}")
            continue
        problems += [f"{where}: {p}" for p in entry_problems(entry)]
        entries.append(entry)
    ids = [e.id for e in entries]
    problems += [f"{path}: id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise KnowledgeError("; ".join(problems))
    return entries


def entry_problems(entry: Entry) -> list[str]:
    problems = []
    if not ENTRY_ID.match(entry.id):
        problems.append(f"id {entry.id!r} must be lowercase letters, digits and '-' (at most 40)")
    if not entry.question:
        problems.append("question is empty")
    if not entry.answer:
        problems.append("answer is empty")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(entry.answer)]
    except ValueError as exc:
        return [*problems, f"answer has a broken {{placeholder}}: {exc}"]
    fields = [field for field in fields if field[0] is not None]  # None: plain text, no placeholder
    if any(name == "" for name, _, _ in fields):
        problems.append("answer has an empty {} placeholder; put a fact's name inside, such as {deadline}")
    odd = sorted(
        {
            f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            for name, spec, conversion in fields
            if name and (spec or conversion)
        }
    )
    if odd:
        problems.append(
            f"answer placeholder(s) {', '.join(odd)} can only hold a fact's name, such as {{deadline}} "
            "(no '!' or ':'); write {{ and }} for literal braces"
        )
    names = {name for name, _, _ in fields if name}
    unknown = names - set(FACT_NAMES)
    if unknown:
        problems.append(f"answer uses unknown fact(s) {', '.join(sorted(unknown))}")
    return problems


FACT_NAMES = (
    "name short_name host dates zone deadline time_left types areas audiences guide form registration "
    "conference_page faq_page contact_email initiatives supporters per_person_limit format"
).split()


def facts(config: Config, now: dt.datetime) -> dict[str, str]:
    """The config facts answers may use; recomputed per answer so they follow config and clock."""
    conf, links = config.conference, config.links
    registration = (
        f"[register here]({links.registration})."
        if links.registration
        else "the registration link will be announced here and on the conference page."
    )
    return {
        "name": conf.name,
        "short_name": conf.short_name,
        "host": conf.host,
        "dates": conference_days(conf.dates),
        "zone": f"{conf.timezone.replace('_', ' ')} time",
        "deadline": str(Timestamp(config.deadline)),
        "time_left": time_left(config.deadline, now),
        "types": join_words([t.label for t in config.proposals.types]),
        "areas": join_words([a.label.lower() for a in config.areas]),
        "audiences": join_words(config.audiences.roles),
        "guide": links.submission_guide,
        "form": links.submission_form,
        "registration": registration,
        "conference_page": links.conference_page,
        "faq_page": links.faq_page or links.conference_page,
        "contact_email": links.contact_email,
        "initiatives": join_words(conf.initiatives) if conf.initiatives else "its organizers",
        "supporters": join_words(conf.supporters) if conf.supporters else "its host",
        "per_person_limit": str(config.proposals.per_person_limit),
        "format": (
            "It is not a traditional conference of talks: the format is built for community, so people "
            "meet, share what they are working on and build coalitions across roles and institutions."
        ),
    }


def render_answer(entry: Entry, config: Config, now: dt.datetime) -> str:
    try:
        return entry.answer.format(**facts(config, now))
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return entry.answer  # saved before entry_problems() refused such placeholders: shown as written
