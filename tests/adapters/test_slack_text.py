"""Neutral Markdown → Slack mrkdwn, and Slack text → what the person typed."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.slack_blocks import SECTION_LIMIT, message_bodies
from bot.adapters.slack_text import from_slack, split_mrkdwn, to_mrkdwn
from bot.core.model import Button

NEW_YORK = ZoneInfo("America/New_York")


def render(text: str) -> str:
    return to_mrkdwn(text, NEW_YORK, dt.datetime(2023, 6, 9, 13, tzinfo=dt.UTC))


def test_user_text_can_never_ping_anyone():
    typed = "hey <!channel> <!here> <!everyone> <@U123> <#C42> <!subteam^S1> & <https://x.org|y>"
    rendered = render(f"You said: {typed}")
    assert "<" not in rendered and ">" not in rendered  # every control character arrived escaped
    assert "&lt;!channel&gt;" in rendered and "&lt;@U123&gt;" in rendered and "&amp;" in rendered


def test_pings_inside_links_bold_and_code_are_escaped_too():
    rendered = render("**<!here>** `<!channel>` [<!everyone>](https://x.org/<!here>)")
    assert re.findall(r"<[^>]*>", rendered) == ["<https://x.org/&lt;!here&gt;|&lt;!everyone&gt;>"]


def test_markup_becomes_mrkdwn():
    rendered = render("**Due** soon\n- read the [guide](https://example.org/a?b=1&c=2)\n- `code`, _italic_")
    assert rendered == ("*Due* soon\n• read the <https://example.org/a?b=1&amp;c=2|guide>\n• `code`, _italic_")


def test_instants_become_slack_dates_with_a_fallback_in_the_conference_zone():
    deadline = int(dt.datetime(2023, 6, 30, 23, 59, 59, tzinfo=NEW_YORK).timestamp())
    rendered = render(f"Due <t:{deadline}:F>, that is <t:{deadline}:R>")
    assert f"<!date^{deadline}^{{date_long_pretty}} at {{time}}|Friday, June 30, 2023 at 11:59 PM EDT>" in rendered
    assert f"<!date^{deadline}^{{ago}}|in 21 days>" in rendered


def test_long_text_splits_at_lines_without_breaking_links():
    line = "word " * 50 + "[a link](https://example.org/x)"
    rendered = render("\n".join([line] * 40))
    pieces = split_mrkdwn(rendered, SECTION_LIMIT)
    assert len(pieces) > 1 and all(len(p) <= SECTION_LIMIT for p in pieces)
    assert all(p.count("<") == p.count(">") for p in pieces)
    assert "".join(p.replace("\n", "") for p in pieces) == rendered.replace("\n", "")


@given(st.text(alphabet="ab <>|&*\n", min_size=1, max_size=400), st.integers(min_value=20, max_value=120))
def test_splitting_never_cuts_a_token_or_exceeds_the_limit(text, limit):
    rendered = to_mrkdwn(text + " [l](https://e.org/p)", NEW_YORK)
    for piece in split_mrkdwn(rendered, limit):
        assert len(piece) <= limit
        assert piece.count("<") == piece.count(">")


def test_message_bodies_respect_slack_block_limits():
    rendered = render("x" * 100_000)
    bodies = message_bodies(rendered, [Button("probe:1", "Go")])
    assert len(bodies) == 3
    for body in bodies:
        assert len(body["text"]) <= 40_000 and len(body["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"] if b["type"] == "section")
    assert bodies[-1]["blocks"][-1]["elements"][0]["action_id"] == "probe:1"


def test_incoming_text_is_unescaped_and_keeps_people_and_channels():
    text = (
        "a &lt;b&gt; &amp;amp; <https://x.org/p?a=1&amp;b=2|x.org> <mailto:a@b.org|a@b.org> "
        "<@U1|ana> <#C9|help> <!here>"
    )
    assert from_slack(text) == "a <b> &amp; https://x.org/p?a=1&b=2 a@b.org <@U1|ana> <#C9|help> @here"
