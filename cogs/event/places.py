"""The event's places on each platform: planned from config, created once, repaired, archived."""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import dataclass

from bot.config import Config
from bot.core.model import Message, Place, Platform
from bot.core.port import PlatformError
from storage.db import Database

log = logging.getLogger(__name__)
MAX_PER_CATEGORY = 50  # Discord
MAX_NAME = 80  # Slack (Discord allows 100)


def channel_name(text: str, fallback: str = "channel") -> str:
    """A name both platforms accept: lowercase letters, digits and '-', at most 80 characters."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:MAX_NAME].strip("-")
    return slug or fallback


@dataclass(frozen=True)
class Planned:
    key: str
    name: str
    kind: str  # 'category', 'channel' or 'forum'
    topic: str = ""
    tags: tuple[str, ...] = ()


def plan(config: Config, platform: str) -> list[Planned]:
    event = config.event
    conduct = f" Code of conduct: {event.code_of_conduct}" if event.code_of_conduct else ""
    places = []
    if platform == Platform.DISCORD:
        places.append(Planned("category", event.category, "category"))
    places += [
        Planned(
            "lobby",
            channel_name(event.lobby),
            "channel",
            f"Welcome to {config.conference.short_name}!{conduct}",
        ),
        Planned(
            "announcements",
            channel_name(config.channels.announcements),
            "channel",
            "Announcements from the organizers (read-only).",
        ),
        Planned("help", channel_name(config.channels.help), "channel", f"Ask anything; /faq answers too.{conduct}"),
    ]
    for area in config.areas:
        places.append(Planned(f"area:{area.id}", channel_name(area.label), "channel", f"{area.label}.{conduct}"))
    if platform == Platform.DISCORD:
        tags = tuple(a.label[:20] for a in config.areas)
        places.append(Planned("coalitions", channel_name(event.coalitions_forum), "forum", "Topic coalitions.", tags))
    return places


async def stored(db: Database, platform: str) -> dict[str, dict]:
    rows = await db.fetchall("SELECT * FROM event_places WHERE platform = ?", (platform,))
    return {r["key"]: dict(r) for r in rows}


async def remember(
    db: Database, platform: str, item: Planned, place_id: str, now: dt.datetime, adopted: bool = False
) -> None:
    """Record a place as the event's (and forget any intent to create it, in the same transaction)."""
    async with db.transaction():
        await db.execute(
            "INSERT INTO event_places (platform, key, place_id, kind, name, created_at, adopted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, key) DO UPDATE SET place_id = excluded.place_id, name = excluded.name,"
            " archived = 0, adopted = excluded.adopted",
            (platform, item.key, place_id, item.kind, item.name, now.isoformat(), int(adopted)),
        )
        await db.execute("DELETE FROM event_place_intents WHERE platform = ? AND key = ?", (platform, item.key))


async def intend(db: Database, platform: str, item: Planned, now: dt.datetime) -> None:
    """Note that this place is about to be created, before asking the platform: after a crash between
    the platform creating it and `remember`, the channel found with this name is the event's own."""
    await db.execute(
        "INSERT INTO event_place_intents (platform, key, name, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (platform, key) DO UPDATE SET name = excluded.name, created_at = excluded.created_at",
        (platform, item.key, item.name, now.isoformat()),
    )


async def intended(db: Database, platform: str) -> dict[str, str]:
    """Places a setup set out to create and never recorded: key → planned name."""
    rows = await db.fetchall("SELECT key, name FROM event_place_intents WHERE platform = ?", (platform,))
    return {r["key"]: r["name"] for r in rows}


async def forget_intent(db: Database, platform: str, key: str) -> None:
    await db.execute("DELETE FROM event_place_intents WHERE platform = ? AND key = ?", (platform, key))


async def set_up(port, config: Config, db: Database, now: dt.datetime, dry_run: bool) -> list[str]:
    """Create what is missing, keep what exists, repair what was deleted; one line per place."""
    platform = str(port.platform)
    known = await stored(db, platform)
    pending = await intended(db, platform)
    planned = plan(config, platform)
    if sum(1 for p in planned if p.kind != "category") > MAX_PER_CATEGORY:
        raise PlatformError(f"The plan has more than {MAX_PER_CATEGORY} channels for one category.")
    lines: list[str] = []
    category_id = known.get("category", {}).get("place_id", "")
    for item in planned:
        label = f"{item.kind} {item.name}" if item.kind == "category" else f"#{item.name}"
        if item.kind == "category":
            if category_id:
                lines.append(f"kept {label}")
            elif dry_run:
                interrupted = pending.get(item.key) == item.name and await _find_category(port, item.name)
                lines.append(
                    f"would finish creating {label} (an earlier setup was interrupted)"
                    if interrupted
                    else f"would create {label}"
                )
            else:
                category_id, finished = await _make_category(port, db, platform, item, pending, now)
                lines.append(f"created {label}{' (finished after an interruption)' if finished else ''}")
            continue
        existing = await _find_channel_now(port, item.name)
        record = known.get(item.key)
        if existing and record and record["place_id"] == existing.channel_id:
            lines.append(f"kept {label}")
            continue
        if existing and pending.get(item.key) == item.name:
            # A setup interrupted (a crash) after the platform created it and before it was recorded:
            # it is the event's own, so it is welcomed now and archived with the rest.
            if dry_run:
                lines.append(f"would finish creating {label} (an earlier setup was interrupted)")
                continue
            await remember(db, platform, item, existing.channel_id, now)
            lines.append(f"created {label} (finished after an interruption)")
            if item.kind == "channel":
                await _welcome(port, existing, item, config)
            continue
        if existing:
            if not dry_run:
                await remember(db, platform, item, existing.channel_id, now, adopted=True)
            lines.append(f"{'would adopt' if dry_run else 'adopted'} the existing {label}")
            continue
        verb = "repair (it was deleted)" if record else "create"
        if dry_run:
            lines.append(f"would {verb} {label}")
            continue
        await intend(db, platform, item, now)
        try:
            try:
                place = await _create(port, item, category_id)
            except PlatformError:
                if not category_id or "category" not in known:
                    raise
                # The stored category may have been deleted by hand: make it again, then retry once.
                category = Planned("category", config.event.category, "category")
                category_id, _ = await _make_category(port, db, platform, category, pending, now)
                lines.append(f"repaired (it was deleted) category {config.event.category}")
                place = await _create(port, item, category_id)
        except PlatformError as exc:  # one refusal must not stop the rest of the setup
            await forget_intent(db, platform, item.key)  # refused: nothing was created
            lines.append(f"could not {verb} {label}: {exc}")
            continue
        await remember(db, platform, item, place.channel_id, now)
        lines.append(f"{'repaired (it was deleted)' if record else 'created'} {label}")
        if item.kind == "channel":
            await _welcome(port, place, item, config)
    return lines


async def _make_category(
    port, db: Database, platform: str, item: Planned, pending: dict[str, str], now: dt.datetime
) -> tuple[str, bool]:
    """Create the category, with an intent row as for channels; returns its id and True when an earlier
    setup had created it and crashed before recording it (a category of that name is then the event's own:
    Discord allows two with one name, so creating it again would duplicate it)."""
    if pending.get(item.key) == item.name and (found := await _find_category(port, item.name)):
        await remember(db, platform, item, found, now)
        return found, True
    await intend(db, platform, item, now)
    try:
        category_id = await port.create_category(item.name)
    except PlatformError:
        await forget_intent(db, platform, item.key)  # refused: nothing was created
        raise
    await remember(db, platform, item, category_id, now)
    return category_id, False


async def _find_category(port, name: str) -> str | None:
    """The id of a category with this name, on ports that can look one up (`find_category`, optional)."""
    find = getattr(port, "find_category", None)
    return await find(name) if find else None


async def _find_channel_now(port, name: str) -> Place | None:
    """The channel as the platform has it now, on ports that keep channels found by name for a while
    (`find_channel_now`, optional): setup must notice one deleted or archived by hand a moment ago."""
    find = getattr(port, "find_channel_now", None) or port.find_channel
    return await find(name)


async def _welcome(port, place: Place, item: Planned, config: Config) -> None:
    """Every event channel opens with what it is for, the code of conduct and how to raise a concern."""
    conduct = config.event.code_of_conduct
    lines = [f"👋 Welcome to #{item.name}! {item.topic}"]
    if conduct:
        lines.append(f"Please read the [code of conduct]({conduct}).")
    lines.append(
        f"Something worrying you? /report tells the organizers privately, or write to {config.links.contact_email}."
    )
    try:
        await port.post(place, Message("\n".join(lines), dedupe_key=f"welcome:{item.key}"))
    except PlatformError as exc:
        log.warning("could not welcome people in #%s: %s", item.name, exc)


async def _create(port, item: Planned, category_id: str) -> Place:
    if item.kind == "forum" and hasattr(port, "create_forum"):
        return await port.create_forum(item.name, category_id=category_id, topic=item.topic, tags=item.tags)
    return await port.create_channel(item.name, category_id=category_id, topic=item.topic)


async def place_for(db: Database, platform: str, key: str) -> Place | None:
    row = await db.fetchone(
        "SELECT place_id, name FROM event_places WHERE platform = ? AND key = ? AND archived = 0",
        (platform, key),
    )
    return Place(Platform(platform), row["place_id"], name=row["name"]) if row else None


async def archive_all(port, db: Database) -> list[str]:
    lines = []
    for row in await db.fetchall(
        "SELECT * FROM event_places WHERE platform = ? AND archived = 0 AND kind != 'category' ORDER BY key",
        (str(port.platform),),
    ):
        if row["adopted"]:
            lines.append(f"left #{row['name']} open: it existed before the event setup")
            continue
        try:
            await port.archive(Place(Platform(row["platform"]), row["place_id"], name=row["name"]))
        except PlatformError as exc:
            lines.append(f"could not archive #{row['name']}: {exc}")
            continue
        await db.execute(
            "UPDATE event_places SET archived = 1 WHERE platform = ? AND key = ?",
            (row["platform"], row["key"]),
        )
        lines.append(f"archived #{row['name']}")
    return lines
