"""Reply text: the neutral Markdown subset, instants in the reader's zone, and safe splitting.

Adapters render the neutral text natively (Discord keeps it; Slack converts it to mrkdwn; the
console to plain text). The patterns live here so every adapter reads the same markup.
"""

from __future__ import annotations

import datetime as dt
import re

TIME_MARK = re.compile(r"<t:(-?\d{1,12}):([tTdDfFR])>")
LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


def format_instant(when: dt.datetime, zone: dt.tzinfo, style: str = "F", now: dt.datetime | None = None) -> str:
    """An instant as a person in `zone` reads it, in one of Discord's timestamp styles."""
    local = when.astimezone(zone)
    zone_name = local.tzname() or ""
    day = f"{local:%A}, {local:%B} {local.day}, {local:%Y}"
    clock = local.strftime("%I:%M %p").lstrip("0")
    if style == "t":
        return f"{clock} {zone_name}"
    if style == "T":
        return f"{local.strftime('%I:%M:%S %p').lstrip('0')} {zone_name}"
    if style == "d":
        return f"{local:%Y-%m-%d}"
    if style == "D":
        return f"{local:%B} {local.day}, {local:%Y}"
    if style == "R":
        return relative(when, now) if now else f"{day} at {clock} {zone_name}"
    if style == "f":
        return f"{local:%B} {local.day}, {local:%Y} at {clock} {zone_name}"
    return f"{day} at {clock} {zone_name}"


def mark_text(epoch: str, style: str, zone: dt.tzinfo, now: dt.datetime | None = None) -> str | None:
    """How the mark `<t:EPOCH:STYLE>` reads in `zone`; None for an epoch no calendar can show (past
    the years 1 to 9999, which the mark's 12 digits allow), so the caller shows the mark as typed."""
    try:
        when = dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        return format_instant(when, zone, style, now)
    except (ValueError, OverflowError, OSError):
        return None


def relative(when: dt.datetime, now: dt.datetime) -> str:
    """'in 3 days', '5 hours ago': the largest whole unit."""
    seconds = (when - now).total_seconds()
    amount = abs(seconds)
    units = [(name, size) for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)) if amount >= size]
    if not units:
        return "now"
    name, size = units[0]
    count = int(amount // size)
    label = f"{count} {name}{'s' if count != 1 else ''}"
    return f"in {label}" if seconds > 0 else f"{label} ago"


def time_left(deadline: dt.datetime, now: dt.datetime) -> str:
    """'12 days, 4 hours left' or 'closed'."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "closed"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if not days and minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return (", ".join(parts) or "less than a minute") + " left"


def to_plain(text: str, zone: dt.tzinfo, now: dt.datetime | None = None) -> str:
    """Neutral markup → plain text for a terminal: links spelled out, times in `zone`."""

    def instant(match: re.Match) -> str:
        shown = mark_text(match.group(1), match.group(2), zone, now)
        return match.group(0) if shown is None else shown

    text = TIME_MARK.sub(instant, text)
    text = LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    return ITALIC.sub(r"\1", BOLD.sub(r"\1", text))


def split_text(text: str, limit: int) -> list[str]:
    """Split at line breaks (else spaces, else anywhere) into pieces of at most `limit` chars."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    if text or not pieces:
        pieces.append(text)
    return pieces


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def excerpt(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters with an ellipsis when longer (for one-line listings)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
