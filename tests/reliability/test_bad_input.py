"""Hostile input, generated from the registry: every command option and every form field gets empty
strings, 10,000 characters, control characters, zero-width and right-to-left marks, emoji, mentions,
markdown and HTML, SQL-looking text, wrong types and out-of-range dates.

Every case must end in success or a specific, human-readable error: no crash apology, no traceback
in the log, nothing shortened without saying so, and stored text reads back exactly as submitted
(after the documented strip()). The dispatcher gets many examples per command; the console, Discord
and Slack adapters a representative subset with fewer examples.

The bugs these tests found are fixed; the tests at the end of this file pin each of them (see
support.KNOWN_BUGS for how a newly found one is tracked until it is fixed).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
import shlex
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bot.adapters.console import Console
from bot.adapters.slack_port import Pacer
from bot.adapters.slack_text import escape
from bot.app import App
from bot.config import load_config
from bot.core.clock import Clock
from bot.core.dispatch import parse_option_text, split_words
from bot.core.forms import check_field
from bot.core.model import Actor, Choice, Form, FormErrors, OptionKind, Place, Platform, Reply
from storage import faq as faq_store
from storage import proposals as intents
from storage.db import Database
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import PARTICIPANT, visible_text
from tests.conftest import BEFORE_DEADLINE, CONFIG_PATH
from tests.recording_port import RecordingPort
from tests.reliability.support import (
    ADAPTER_CRASH,
    CONTROL,
    EMOJI,
    FEW,
    GENERIC_CRASH,
    MANY,
    MARKUP,
    MENTIONS,
    PER_COMMAND,
    SQL,
    ZERO_WIDTH_AND_BIDI,
    assert_not_truncated,
    assert_specific,
    form_values,
    line_text,
    nasty_text,
    option_values,
    problems_logged,
    raw_options,
)

REGISTRY = App.registry_for(load_config(CONFIG_PATH))
COMMANDS = sorted(REGISTRY.commands)
FORMS = sorted(REGISTRY.forms)
PLACE = Place(Platform.CONSOLE, "C1", name="lobby")
HELP = Place(Platform.CONSOLE, "C3", name="help")
_people = itertools.count(1)

# Slack fixtures, bound by name so pytest finds them here.
fake_slack = slack_fixtures.fake_slack


@pytest.fixture
async def slack(fake_slack, config, clock, tmp_path):
    """The served Slack app with every cog, without posting pauses: pacing is tested elsewhere, and
    here it would only make each organizers' notice wait a second."""
    fake_slack.channel_rate = None
    harness = await slack_fixtures.start_harness(
        fake_slack, config, clock, tmp_path / "app.sqlite3", None, pacer=Pacer(interval=0)
    )
    yield harness
    await slack_fixtures.stop_harness(harness)


MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory):
    """One app for the dispatcher-level properties (examples pile up in it, as they would in a real
    run), with a recording port so notices and announcements have somewhere to go."""
    db = await Database.open(tmp_path_factory.mktemp("bad-input") / "app.sqlite3")
    app = App(load_config(CONFIG_PATH), db, Clock.frozen(BEFORE_DEADLINE))
    app.platforms[Platform.DISCORD] = RecordingPort(Platform.DISCORD)
    yield app
    await app.close()


def actor_for(permission: int, fresh: bool = False) -> Actor:
    """An organizer for organizer-only things (so the handler runs), else a participant: ana, or a
    new person when the test must not run into per-person limits."""
    if permission:
        return Actor(Platform.CONSOLE, "olu", "Olu", is_organizer=True)
    name = f"p{next(_people)}" if fresh else "ana"
    return Actor(Platform.CONSOLE, name, name.title())


# -- the dispatcher: every command, every form ------------------------------------------------------------
@MODULE_LOOP
@pytest.mark.parametrize("name", COMMANDS)
@PER_COMMAND
@given(data=st.data())
async def test_every_command_answers_hostile_options_specifically(shared, caplog, name, data):
    command = shared.registry.get(name)
    raw = data.draw(raw_options(command), label="raw options")
    seen = len(caplog.records)

    outcome = await shared.dispatcher.run_command(name, raw, actor_for(command.permission), PLACE)

    assert_specific(outcome)
    assert_not_truncated(command, raw, outcome, shared.config.zone)
    assert not problems_logged(caplog.records[seen:])


@MODULE_LOOP
@pytest.mark.parametrize("form_id", FORMS)
@PER_COMMAND
@given(data=st.data())
async def test_every_form_answers_hostile_fields_specifically(shared, caplog, form_id, data):
    form = shared.dispatcher.form_for(form_id, "")
    values = data.draw(form_values(form), label="values")
    state = data.draw(
        st.one_of(st.just(""), st.sampled_from(["1", "7", "0", "cost", "²", "99999999999999999999"]), nasty_text(3)),
        label="state",
    )
    seen = len(caplog.records)

    outcome = await shared.dispatcher.submit(
        form_id, state, values, actor_for(shared.registry.forms[form_id].permission), PLACE
    )

    assert_specific(outcome)
    assert not problems_logged(caplog.records[seen:])


@MODULE_LOOP
@PER_COMMAND
@given(text=nasty_text(), mentioned=st.booleans(), where=st.sampled_from([PLACE, HELP]))
async def test_plain_messages_never_crash_a_listener(shared, caplog, participant, text, mentioned, where):
    seen = len(caplog.records)
    replies = await shared.dispatcher.message(text, participant, where, None, mentioned=mentioned)
    for reply in replies:
        assert_specific(reply)
    assert not problems_logged(caplog.records[seen:])


COMPLETED = [
    (c.name, o.name)
    for c in REGISTRY.commands.values()
    for o in c.options
    if o.autocomplete is not None or o.kind is OptionKind.CHOICE
]


@MODULE_LOOP
@pytest.mark.parametrize(("name", "option"), COMPLETED)
@FEW
@given(partial=nasty_text())
async def test_autocomplete_offers_at_most_25_choices_for_any_text(shared, caplog, name, option, partial):
    seen = len(caplog.records)
    command = shared.registry.get(name)
    found = await shared.dispatcher.autocomplete(name, option, partial, actor_for(command.permission), PLACE)
    assert len(found) <= 25 and all(isinstance(c, Choice) for c in found)
    assert not problems_logged(caplog.records[seen:])


@MODULE_LOOP
@pytest.mark.parametrize("prefix", sorted(REGISTRY.buttons))
@FEW
@example(argument="²")  # a Unicode digit: str.isdigit() says yes, int() refuses
@example(argument="99999999999999999999")  # beyond SQLite's 64 bits
@example(argument="abc")
@example(argument="1:yes")
@given(argument=nasty_text(4))
async def test_every_button_answers_a_forged_argument_specifically(shared, caplog, prefix, argument):
    seen = len(caplog.records)
    actor = actor_for(shared.registry.buttons[prefix].permission)
    outcome = await shared.dispatcher.click(f"{prefix}:{argument}", actor, PLACE)
    assert_specific(outcome)
    assert not problems_logged(caplog.records[seen:])


# -- stored text reads back exactly ------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return re.sub(r"[\n\r]", " ", text)


def text_between(low: int, high: int, one_line: bool) -> st.SearchStrategy[str]:
    """Hostile text whose stripped length is within [low, high] (so the form accepts it), with
    whitespace around it now and then (which the documented strip() removes)."""
    pieces = MENTIONS + MARKUP + SQL + EMOJI + list(ZERO_WIDTH_AND_BIDI) + ["word", "Ünïcödé", "日本語", "עברית"]
    if not one_line:
        pieces += ["\n", "\n\n", "\t"]
    body = st.lists(st.sampled_from(pieces), min_size=1, max_size=max(2, min(40, high // 10))).map(" ".join)
    padded = st.tuples(st.sampled_from(["", " ", "\t", "  "]), body, st.sampled_from(["", " ", "\n", " \t"]))
    text = padded.map("".join).map(lambda t: _one_line(t) if one_line else t)
    return text.map(lambda t: t if len(t.strip()) >= low else t + " padding" * low).filter(
        lambda t: low <= len(t.strip()) <= high and len(t) <= high
    )


def proposal_values(prefix: str = "") -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(["poster", "narrative", "workshop", "fireside"]),
            "area": st.sampled_from(["ume", "gme", "community"]),
            "title": text_between(5, 140, one_line=True).map(lambda t: prefix + t),
            "description": text_between(20, 1500, one_line=False),
            "co_presenters": st.one_of(st.just(""), text_between(1, 500, one_line=False)),
            "email": st.sampled_from(["ana@example.org", "o'neil+talks@sub.example.co.uk", "x@y.io"]),
            "affiliation": st.one_of(st.just(""), text_between(1, 200, one_line=True)),
        }
    )


def accepted_by_the_form(form: Form, values: dict[str, str]) -> bool:
    return all(check_field(form.field(k), v.strip()) is None for k, v in values.items())


@MODULE_LOOP
@MANY
@given(values=proposal_values())
async def test_a_proposal_intent_reads_back_exactly_as_submitted(shared, caplog, values):
    form = shared.dispatcher.form_for("proposal", "")
    assume(accepted_by_the_form(form, values))
    author = actor_for(0, fresh=True)

    outcome = await shared.dispatcher.submit("proposal", "", values, author, PLACE)

    assert isinstance(outcome, Reply) and "recorded" in outcome.text, outcome
    (stored,) = await intents.by_author(shared.db, author.platform, author.user_id)
    for name in intents.EDITABLE:
        assert getattr(stored, name) == values[name].strip(), name
    assert stored.title in outcome.text  # the confirmation shows the whole title
    assert not problems_logged(caplog.records)


@MODULE_LOOP
@MANY
@given(text=text_between(1, 2000, one_line=False), about=st.one_of(st.just(""), text_between(1, 300, True)))
async def test_a_report_reads_back_exactly_as_submitted(shared, caplog, participant, text, about):
    outcome = await shared.dispatcher.run_command("report new", {"text": text, "about": about}, participant, PLACE)
    report_id = int(re.search(r"report is #(\d+)", outcome.text).group(1))
    row = await shared.db.fetchone("SELECT text, about FROM reports WHERE id = ?", (report_id,))
    assert (row["text"], row["about"]) == (text.strip(), about.strip())
    message = await shared.db.fetchone("SELECT text FROM report_messages WHERE report_id = ?", (report_id,))
    assert message["text"] == text.strip()
    assert not problems_logged(caplog.records)


@MODULE_LOOP
@MANY
@given(name=text_between(1, 60, True), description=text_between(1, 300, False))
async def test_a_proposed_coalition_reads_back_exactly_or_is_refused_specifically(
    shared, participant, name, description
):
    outcome = await shared.dispatcher.run_command(
        "coalition propose", {"name": name, "description": description}, participant, PLACE
    )
    assert_specific(outcome)
    if "is with the organizers" in outcome.text:
        row = await shared.db.fetchone("SELECT name, description FROM coalitions ORDER BY id DESC LIMIT 1")
        assert (row["name"], row["description"]) == (name.strip(), description.strip())
    else:
        assert "letters or digits" in outcome.text or "already exists" in outcome.text, outcome.text


@MODULE_LOOP
@PER_COMMAND
@given(question=text_between(1, 500, False))
async def test_an_unanswered_question_is_logged_exactly(shared, participant, question):
    outcome = await shared.dispatcher.run_command("faq ask", {"question": question}, participant, PLACE)
    assert_specific(outcome)
    forward = next((b for b in outcome.buttons if b.prefix == "faq-forward"), None)
    if forward is not None:
        row = await faq_store.logged(shared.db, int(forward.argument))
        assert row["question"] == question.strip()


@MODULE_LOOP
@MANY
@given(
    institution=st.one_of(st.just(""), text_between(1, 120, True)),
    zone=st.one_of(st.just(""), text_between(1, 60, True)),
)
async def test_circles_answers_read_back_exactly(shared, participant, institution, zone):
    values = {"role": "faculty", "areas": "all", "institution": institution, "timezone": zone}
    outcome = await shared.dispatcher.submit("circles-join", "", values, participant, PLACE)
    assert isinstance(outcome, Reply) and "You're in" in outcome.text, outcome
    row = await shared.db.fetchone("SELECT institution, timezone FROM circle_people WHERE user_id = 'ana'")
    assert (row["institution"], row["timezone"]) == (institution.strip(), zone.strip())


@MODULE_LOOP
@FEW  # each save re-embeds the whole FAQ
@given(question=text_between(1, 200, True), answer=text_between(1, 1500, False))
async def test_an_faq_entry_reads_back_exactly(shared, organizer, question, answer):
    assume("{" not in answer)  # braces are fact placeholders ({deadline}), refused unless they name one
    values = {"id": "parking", "question": question, "answer": answer, "alternates": "", "tags": ""}
    outcome = await shared.dispatcher.submit("faq-entry", "parking", values, organizer, PLACE)
    assert isinstance(outcome, Reply) and "Saved `parking`" in outcome.text, outcome
    (saved,) = [o for o in await faq_store.overrides(shared.db) if o.entry_id == "parking"]
    assert (saved.question, saved.answer) == (question.strip(), answer.strip())


@MODULE_LOOP
@MANY
@given(text=text_between(1, 1800, False))
async def test_an_announcement_reads_back_exactly(shared, organizer, text):
    values = {"text": text, "channels": "announcements", "platforms": "all", "send_at": "", "ping": "no"}
    outcome = await shared.dispatcher.submit("announce", "", values, organizer, PLACE)
    assert isinstance(outcome, Reply) and "**Preview**" in outcome.text, outcome
    announcement_id = int(outcome.buttons[0].argument)
    row = await shared.db.fetchone("SELECT text FROM announcements WHERE id = ?", (announcement_id,))
    assert row["text"] == text.strip()
    assert text.strip() in outcome.text  # the preview shows all of it


def _splits(line: str) -> bool:
    try:
        shlex.split(line)
    except ValueError:
        return False
    return True


@MANY
@given(text=text_between(1, 2000, one_line=True), about=st.one_of(st.none(), text_between(1, 300, True)))
def test_the_rest_of_a_typed_line_is_the_text_exactly_as_typed(text, about):
    """On Slack and the console the last text option takes the rest of the line as typed: quotes,
    runs of spaces and tabs, and any key=value word followed by more text stay in it."""
    command = REGISTRY.get("report new")
    typed = text.strip()
    words = split_words(typed)
    assume(not re.match(r"(text|about)=", words[0].value) and not re.match(r"(text|about)=", words[-1].value))
    assume(not (len(words) == 1 and typed[0] in "'\""))  # one quoted word: its quotes go
    line = typed if about is None else f"{typed} about={shlex.quote(about)}"
    assume(about is None or _splits(line))  # after an unmatched quote, quoting means nothing
    expected = {"text": typed} | ({} if about is None else {"about": about})
    assert parse_option_text(command, line) == expected


# -- the console: a representative subset ---------------------------------------------------------------------
CONSOLE_SUBSET = [
    "report new",
    "coalition propose",
    "faq ask",
    "timezone",
    "program show",
    "ask",
    "proposals withdraw",
    "help",
    "circles pause",
    "proposals extend",
    "audit",
]


def _typed(command, data) -> tuple[str, dict[str, Any]]:
    """A line as a person types it: key=value words, or plain words after the command."""
    values = {
        o.name: data.draw(st.one_of(line_text(), option_values(o).map(str).map(_one_line)), label=o.name)
        for o in command.options
        if data.draw(st.booleans(), label=f"give {o.name}")
    }
    if data.draw(st.booleans(), label="key=value"):
        rest = " ".join(
            f"{k}={v}" if " " not in v and '"' not in v and "'" not in v else f"{k}='{v}'" for k, v in values.items()
        )
    else:
        rest = " ".join(values.values())
    return f"/{command.name} {rest}", values


@pytest.mark.parametrize("name", CONSOLE_SUBSET)
@FEW
@given(data=st.data())
async def test_the_console_answers_hostile_lines_specifically(app, caplog, name, data):
    command = app.registry.get(name)
    line, _ = _typed(command, data)
    out = io.StringIO()
    console = Console(app, organizer=bool(command.permission), stdin=io.StringIO(""), stdout=out)
    seen = len(caplog.records)

    await console.handle(line)

    shown = out.getvalue()
    assert shown.strip() and GENERIC_CRASH not in shown, shown
    assert not problems_logged(caplog.records[seen:])


@FEW
@given(values=proposal_values())
async def test_a_proposal_typed_into_console_prompts_reads_back_exactly(app, caplog, values):
    typed = {k: _one_line(v).replace("\\n", "/n") for k, v in values.items()}  # '\n' means a line break there
    form = app.dispatcher.form_for("proposal", "")
    assume(accepted_by_the_form(form, typed))
    assume(all(v.strip() != ":cancel" for v in typed.values()))
    person = f"p{next(_people)}"
    order = ["type", "area", "title", "description", "co_presenters", "email", "affiliation"]
    answers = {"type": "1", "area": "1"} | {k: typed[k] for k in order[2:]}
    script = "\n".join(answers[k] for k in order) + "\n"
    out = io.StringIO()
    console = Console(app, user=person, stdin=io.StringIO(script), stdout=out)

    await console.handle("/propose")

    assert "recorded" in out.getvalue(), out.getvalue()[-500:]
    (stored,) = await intents.by_author(app.db, Platform.CONSOLE, person)
    expected = typed | {"type": "poster", "area": "ume"}
    for name in intents.EDITABLE:
        assert getattr(stored, name) == expected[name].strip(), name
    assert not problems_logged(caplog.records)


# -- Discord: a representative subset, through the real bot and the fake server --------------------------------
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def discord(tmp_path_factory):
    from tests.adapters.conftest import discord_world

    async with discord_world(tmp_path_factory.mktemp("discord-bad-input")) as world:
        yield world


def _discord_text(limit: int) -> st.SearchStrategy[str]:
    """What Discord's client sends for a text option: 1 to `limit` characters."""
    return nasty_text().filter(lambda t: 1 <= len(t) <= limit)


@pytest.mark.asyncio(loop_scope="module")
@FEW
@given(text=_discord_text(2000), about=st.one_of(st.none(), _discord_text(300)))
async def test_discord_report_text_arrives_whole_and_pings_nobody(discord, caplog, text, about):
    fake, app = discord.fake, discord.app
    before = set(fake.messages)
    seen = len(caplog.records)
    options = {"text": text} | ({"about": about} if about is not None else {})

    shown = await fake.slash(discord.participant, "report new", options)

    assert GENERIC_CRASH not in shown.text and ADAPTER_CRASH not in shown.text, shown.text
    found = re.search(r"report is #(\d+)", shown.text)
    if found:
        row = await app.db.fetchone("SELECT text, about FROM reports WHERE id = ?", (int(found.group(1)),))
        assert (row["text"], row["about"]) == (text.strip(), (about or "").strip())
    else:
        assert "Please give text" in shown.text, shown.text  # a blank report
    new = [fake.messages[i] for i in set(fake.messages) - before]
    assert not any(m.pinged for m in new), [m.content for m in new if m.pinged]
    assert not problems_logged(caplog.records[seen:])


_discord_intents = itertools.count(1)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
@FEW
@given(values=proposal_values())
async def test_discord_proposal_modals_store_exactly_what_was_typed(discord, caplog, values):
    fake, app = discord.fake, discord.app
    values = values | {"title": f"D{next(_discord_intents)} {values['title']}"[:150]}
    form = app.dispatcher.form_for("proposal", "")
    assume(accepted_by_the_form(form, values) and all(len(v) >= form.field(k).min_length for k, v in values.items()))
    member = discord.participant
    seen = len(caplog.records)

    opened = await fake.slash(member, "propose")
    first = {k: values[k] for k in ("type", "area", "title", "description", "co_presenters")}
    step = await fake.submit_modal(member, opened, {k: v for k, v in first.items() if v})
    second = await fake.click(member, step.message_with("Continue"), "Continue")
    done = await fake.submit_modal(member, second, {k: values[k] for k in ("email", "affiliation") if values[k]})

    assert "recorded" in done.text, done.text
    stored = (await intents.by_author(app.db, Platform.DISCORD, member["user"]["id"]))[-1]
    for name in intents.EDITABLE:
        assert getattr(stored, name) == values[name].strip(), name
    await intents.set_state(app.db, stored.id, "withdrawn", app.clock.now())  # stay under the per-person limit
    assert not problems_logged(caplog.records[seen:])


# -- Slack: a representative subset, through signed requests and the fake Web API -------------------------------
SLACK_SUBSET = ["report new", "coalition propose", "faq ask", "timezone", "ask", "help"]
# User text comes back escaped: the only angle brackets in what the bot sends are its own links and dates.
UNESCAPED = re.compile(r"<(?!https?://|!date\^)")


@pytest.mark.parametrize("name", SLACK_SUBSET)
@FEW
@given(data=st.data())
async def test_slack_answers_hostile_commands_and_never_pings(slack, caplog, name, data):
    command = slack.app.registry.get(name)
    line, _ = _typed(command, data)
    calls_before = len(slack.fake.calls)
    seen = len(caplog.records)

    sent = await slack.command(f"/{escape(line[1:])}")
    await slack.idle()

    reply = visible_text(await slack.reply_to(sent))
    assert reply.strip() and GENERIC_CRASH not in reply, reply
    for call in slack.fake.calls[calls_before:]:
        if call.method in ("chat.postMessage", "chat.postEphemeral", "response_url"):
            assert not UNESCAPED.search(visible_text(call)), visible_text(call)
    assert not problems_logged(caplog.records[seen:])


@FEW
@given(values=proposal_values())
async def test_slack_proposal_modal_stores_exactly_what_was_typed(slack, caplog, values):
    form = slack.app.dispatcher.form_for("proposal", "")
    assume(accepted_by_the_form(form, values))
    seen = len(caplog.records)

    sent = await slack.command("/propose")
    opened = await slack.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == sent.trigger_id)
    submitted = await slack.submit(opened.response["view"], values)
    await slack.idle()

    assert submitted.status == 200 and submitted.text == "", submitted.text
    stored = (await intents.by_author(slack.app.db, Platform.SLACK, PARTICIPANT))[-1]
    for name in intents.EDITABLE:
        assert getattr(stored, name) == values[name].strip(), name
    await intents.set_state(slack.app.db, stored.id, "withdrawn", slack.app.clock.now())
    assert not problems_logged(caplog.records[seen:])


# -- bugs these tests found, fixed: one regression test each (support.KNOWN_BUGS tracks new ones) ----------------
HUGE_ID_COMMANDS = [
    c.name
    for c in REGISTRY.commands.values()
    if any(o.kind is OptionKind.INTEGER and o.max_value is None for o in c.options)
]


@pytest.mark.parametrize("name", HUGE_ID_COMMANDS)
async def test_an_id_beyond_64_bits_gets_a_specific_answer(app, caplog, name):
    """Integer options without a declared maximum (ids) accepted numbers beyond SQLite's 64 bits,
    and the query's OverflowError reached the person as 'Something went wrong'."""
    command = app.registry.get(name)
    raw = {o.name: ("99999999999999999999" if o.kind is OptionKind.INTEGER else "Hello") for o in command.options}
    outcome = await app.dispatcher.run_command(name, raw, actor_for(command.permission), PLACE)
    assert_specific(outcome)
    assert "at most 18 digits" in outcome.text, outcome.text
    assert not problems_logged(caplog.records)


@pytest.mark.parametrize("state", ["²", "99999999999999999999", "abc"])
async def test_a_forged_proposal_state_gets_a_specific_answer(app, participant, state):
    """The proposal form's state (an intent id, carried by the platform) went through
    str.isdigit() and int(): '²' and 20-digit numbers crashed the submission."""
    values = {
        "type": "poster",
        "area": "ume",
        "title": "A working title",
        "description": "Twenty characters or more of description.",
        "email": "ana@example.org",
    }
    outcome = await app.dispatcher.submit("proposal", state, values, participant, PLACE)
    assert_specific(outcome)
    assert f"You have no intent #{state}" in outcome.text, outcome
    assert not await intents.by_author(app.db, participant.platform, participant.user_id)


@pytest.mark.parametrize("until", ["9999-12-31T23:59", "0001-01-01T00:00+14:00"])
async def test_late_access_until_the_end_of_time_is_refused(app, organizer, until):
    """A far-future time without an offset overflowed in astimezone(UTC) when stored."""
    raw = {"user": "ana", "until": until}
    outcome = await app.dispatcher.run_command("proposals extend", raw, organizer, PLACE)
    assert_specific(outcome)
    assert "between 1970 and 2200" in outcome.text, outcome.text


@pytest.mark.parametrize("zone", ["America", "Europe", "a" * 300], ids=["America", "Europe", "300-letters"])
async def test_a_region_or_very_long_time_zone(app, participant, zone):
    """/timezone caught only ZoneInfoNotFoundError and ValueError: a region (a directory in tzdata)
    raised IsADirectoryError, a name over 255 characters OSError."""
    outcome = await app.dispatcher.run_command("timezone", {"zone": zone}, participant, PLACE)
    assert_specific(outcome)
    assert "I don't know the time zone" in outcome.text


@pytest.mark.parametrize("answer", ["It costs {} dollars.", "Due {deadline!x}.", "Due {deadline:%Y}."])
async def test_an_faq_answer_that_cannot_be_formatted_is_refused(app, organizer, answer):
    """Such answers passed entry_problems(), were saved, then str.format() raised every time."""
    values = {"id": "broken", "question": "Is it broken?", "answer": answer}
    outcome = await app.dispatcher.submit("faq-entry", "", values, organizer, PLACE)
    assert isinstance(outcome, FormErrors) and "answer" in outcome.errors, outcome
    assert "placeholder" in outcome.errors["answer"], outcome.errors


async def test_a_fractional_id_is_not_silently_rounded(app, participant):
    """convert_value() turned 2.7 into 2 with int()."""
    outcome = await app.dispatcher.run_command("proposals withdraw", {"id": 2.7}, participant, PLACE)
    assert "whole number" in outcome.text, outcome.text


BAD_INSTANT = "<t:999999999999:F>"  # the year 33658: within the 12 digits the markup accepts


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([f'/coalition propose "Time {BAD_INSTANT}" "A place to talk"'], f"Time {BAD_INSTANT}** is with the"),
        (["/circles join role=1 areas=all", "/circles pause until=9999-12-31T23:59"], "between 1970 and 2200"),
    ],
    ids=["user-text", "far-future-time"],
)
async def test_the_console_survives_an_instant_it_cannot_show(app, lines, expected):
    """Marks `<t:EPOCH:STYLE>` beyond the years 1-9999 (in user text, or from a far-future time a
    person typed) raised ValueError in the console's renderer, which stopped the console."""
    out = io.StringIO()
    console = Console(app, stdin=io.StringIO(""), stdout=out)
    for line in lines:
        await console.handle(line)
    assert "Something went wrong" not in out.getvalue()
    assert expected.replace("**", "") in out.getvalue(), out.getvalue()


async def test_slack_answers_a_coalition_named_with_an_instant_it_cannot_show(slack, caplog):
    """The same mark lost the Slack reply ("Slack command /coalition failed" and a traceback)."""
    sent = await slack.command(escape(f'/coalition propose "Time {BAD_INSTANT}" "A place to talk"'))
    await slack.idle()
    assert not problems_logged(caplog.records)
    shown = visible_text(await slack.reply_to(sent, within=0.5))
    assert "is with the organizers" in shown and escape(BAD_INSTANT) in shown, shown


TYPED_REPORT = 'She said "leave now"   twice,\tabout=her talk'


async def test_a_report_typed_on_the_console_is_stored_as_typed(app):
    """Slack and the console rebuilt the last text option from shlex words: quotes vanished,
    whitespace collapsed, and 'about=…' inside the text moved to the about option."""
    console = Console(app, stdin=io.StringIO(""), stdout=io.StringIO())
    await console.handle(f"/report {TYPED_REPORT}")
    row = await app.db.fetchone("SELECT text, about FROM reports")
    assert (row["text"], row["about"]) == (TYPED_REPORT, "")


async def test_a_report_typed_on_slack_is_stored_as_typed(slack):
    await slack.command(f"/report {escape(TYPED_REPORT)}")
    await slack.idle()
    row = await slack.app.db.fetchone("SELECT text, about FROM reports")
    assert (row["text"], row["about"]) == (TYPED_REPORT, "")


@pytest.mark.parametrize("target", ["²", "99999999999999999999", "0", "7"])
async def test_the_console_answers_a_button_number_it_cannot_use(app, target):
    """':click N' read N with str.isdigit() then int(), so ':click ²' stopped the console."""
    out = io.StringIO()
    console = Console(app, stdin=io.StringIO(""), stdout=out)
    await console.handle("/about")
    await console.handle(f":click {target}")
    assert f"There is no button {target} in the last reply." in out.getvalue(), out.getvalue()


async def test_console_form_fields_typed_inline_leave_the_text_alone(app):
    """Inline form fields (key=value naming no option) are taken from the end of the line only:
    the same words inside a report stay in it."""
    console = Console(app, stdin=io.StringIO(""), stdout=io.StringIO())
    await console.handle("/report The poster said x=y  twice about=it")
    row = await app.db.fetchone("SELECT text, about FROM reports")
    assert (row["text"], row["about"]) == ("The poster said x=y  twice", "it")


def test_the_generated_inputs_cover_every_class_the_issue_names():
    """A guard on the strategies themselves: each input class of issue #11 is in the mix."""
    from tests.reliability import support

    assert support.LONG == 10_000
    assert "\x00" in CONTROL and "\u202e" in ZERO_WIDTH_AND_BIDI and "👍🏽" in EMOJI
    assert {"@everyone", "<!channel>", "<@&123>", "<@U123>"} <= set(MENTIONS)
    assert any("<script>" in m for m in MARKUP) and any("DROP TABLE" in s for s in SQL)
    assert "9999-12-31T23:59" in support.EXTREME_DATES and "2023-02-30" in support.DATE_TEXTS
    assert dt.datetime.max.year == 9999  # the edge the extreme dates sit on
