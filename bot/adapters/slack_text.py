"""Text between the core's neutral Markdown and Slack's mrkdwn, in both directions.

Outgoing (`to_mrkdwn`): every literal piece of text is escaped (`&`, `<`, `>`) before any markup is
produced, so nothing a person typed can become `<!channel>`, `<!here>`, `<!everyone>` or `<@U…>`:
the only angle brackets in the output are the links and dates this module writes itself.

Incoming (`from_slack`): Slack sends `&amp;`, `&lt;`, `&gt;` and wraps links and mentions in angle
brackets; the core wants what the person typed, with user and channel references kept in the
`<@U…>` / `<#C…>` form the dispatcher's option converter understands.
"""

from __future__ import annotations

import datetime as dt
import re

from bot.core.text import BOLD, ITALIC, LINK, mark_text

# The neutral markup of bot.core.text in one pattern, in the order a tie at one position is
# resolved: code spans first (nothing inside them is markup), then instants, links and bold.
_TOKENS = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|<t:(?P<epoch>-?\d{1,12}):(?P<style>[tTdDfFR])>"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*",
    re.DOTALL,
)
_BULLET = re.compile(r"(?m)^(\s*)- ")

# Slack's date tokens for Discord's timestamp styles; Slack shows them in the reader's own zone.
DATE_FORMATS = {
    "t": "{time}",
    "T": "{time_secs}",
    "d": "{date_num}",
    "D": "{date}",
    "f": "{date} at {time}",
    "F": "{date_long_pretty} at {time}",
    "R": "{ago}",
}


def escape(text: str) -> str:
    """The three characters Slack treats as control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str, zone: dt.tzinfo, now: dt.datetime | None = None) -> str:
    """Neutral Markdown → Slack mrkdwn. `zone` and `now` only shape the fallback text of dates
    (what clients that cannot render Slack's date tokens, and notifications, show)."""
    text = _BULLET.sub("\\1• ", text)
    out: list[str] = []
    position = 0
    for match in _TOKENS.finditer(text):
        out.append(escape(text[position : match.start()]))
        out.append(_render_token(match, zone, now))
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _render_token(match: re.Match, zone: dt.tzinfo, now: dt.datetime | None) -> str:
    if match.group("code"):
        return escape(match.group("code"))
    if match.group("epoch"):
        epoch, style = match.group("epoch"), match.group("style")
        shown = mark_text(epoch, style, zone, now)
        if shown is None:  # an instant no calendar can show: the mark stays the text it is
            return escape(match.group(0))
        return f"<!date^{int(epoch)}^{DATE_FORMATS[style]}|{escape(shown.replace('|', '/'))}>"
    if match.group("url"):
        # A label cannot contain '|' (it would end the URL part) and shows no formatting.
        label = escape(match.group("label").replace("**", "")).replace("|", "¦")
        url = escape(match.group("url")).replace("|", "%7C")
        return f"<{url}|{label}>"
    # Bold may hold links, code or instants: render its inside the same way.
    return f"*{to_mrkdwn(match.group('bold'), zone, now)}*"


def plain(text: str, limit: int) -> str:
    """Text for a `plain_text` object (labels, titles): markup removed, cut to Slack's limit."""
    text = ITALIC.sub(r"\1", LINK.sub(r"\1", BOLD.sub(r"\1", text)))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Pieces of mrkdwn that must never be cut in two: <links|dates|mentions> and &entities;.
_ATOMS = re.compile(r"<[^<>\n]*>|&[a-z]+;")


def split_mrkdwn(text: str, limit: int) -> list[str]:
    """Split rendered mrkdwn into pieces of at most `limit` characters: at line breaks when
    possible, else at spaces, never inside a link, date or entity."""
    pieces: list[str] = []
    while len(text) > limit:
        atoms = [m.span() for m in _ATOMS.finditer(text)]
        cut = _best_cut(text, limit, atoms)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n ")
    if text.strip() or not pieces:
        pieces.append(text)
    return [p for p in pieces if p.strip()] or [""]


def _best_cut(text: str, limit: int, atoms: list[tuple[int, int]]) -> int:
    def inside(position: int) -> tuple[int, int] | None:
        return next(((s, e) for s, e in atoms if s < position < e), None)

    for separator in ("\n", " "):
        cut = text.rfind(separator, 0, limit + 1)
        while cut > 0 and inside(cut):
            cut = text.rfind(separator, 0, inside(cut)[0])
        if cut > 0:
            return cut
    atom = inside(limit)
    if atom and atom[0] > 0:
        return atom[0]
    return limit


# -- incoming --------------------------------------------------------------------------------
_INCOMING = re.compile(
    r"<(?P<url>https?://[^|>]+)(?:\|[^>]*)?>"
    r"|<mailto:(?P<mail>[^|>]+)(?:\|[^>]*)?>"
    r"|<!(?P<special>here|channel|everyone)(?:\|[^>]*)?>"
    r"|<!subteam\^(?P<team>[A-Z0-9]+)(?:\|(?P<team_label>[^>]*))?>"
    r"|<!date\^[^|>]*\|(?P<date>[^>]*)>"
)


def from_slack(text: str) -> str:
    """Slack message or command text → what the person typed. `<@U…>` and `<#C…>` stay as they
    are (the dispatcher reads them as user and channel references)."""

    def plain_token(match: re.Match) -> str:
        if match.group("url"):
            return match.group("url")
        if match.group("mail"):
            return match.group("mail")
        if match.group("special"):
            return "@" + match.group("special")
        if match.group("team"):
            return match.group("team_label") or "@" + match.group("team")
        return match.group("date")

    text = _INCOMING.sub(plain_token, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
