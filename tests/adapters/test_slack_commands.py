"""Every registry command, typed as a real slash command into the served Slack app.

TO COVER A NEW COMMAND, add one line to COMMANDS: the text typed after the slash → a fragment of
the answer everyone allowed to use it sees (matched against the Slack message text; avoid markup).
Use `Modal("title words")` when the command opens a form. Each line runs as a participant and as
an organizer; for an organizer-only command the participant's refusal is checked automatically.
`test_every_command_has_a_slack_test` fails for any command without a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from bot.adapters.slack_manifest import MAX_COMMANDS, RESERVED_COMMANDS, build_manifest
from bot.adapters.slack_text import escape
from bot.app import App
from bot.core.dispatch import resolve_command
from bot.core.model import Permission
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import (
    ACK_LIMIT,
    ORGANIZER,
    PARTICIPANT,
    visible_text,
)

# Fixtures, bound by name so pytest finds them here.
fake_slack, slack = slack_fixtures.fake_slack, slack_fixtures.slack


@dataclass(frozen=True)
class Modal:
    """The command opens a modal whose title contains `title`."""

    title: str


COMMANDS: dict[str, str | Modal] = {
    "help": "Here is what I can do",
    "help about": "/about",
    "about": "Challenging Norms",
    "timezone America/Chicago": "America/Chicago",
    "faq when is the conference": "The conference runs on",  # the group's default: /faq ask
    "faq list": "I can answer these",
    "faq add": Modal("New FAQ entry"),
    "faq edit dates": Modal("Edit FAQ entry"),
    "faq remove dates": "Removed `dates`",
    "faq inbox": "No forwarded questions are waiting",
    "faq gaps": "No unanswered or uncertain questions",
    "faq reply 1 Yes, it is free.": "There is no forwarded question #1",
    "propose": Modal("Proposal intent"),
    "proposals mine": "You have no proposal intents yet",
    "proposals edit 1": "You have no intent #1",
    "proposals submitted 1": "You have no intent #1",
    "proposals withdraw 1": "You have no intent #1",
    "proposals extend <@UPART0001|ana.participant> 2023-07-07T17:00": "can start and edit proposal intents",
    "proposals button": "Start a proposal",
    "proposals list": "No intents match.",
    "proposals stats": "No intents yet.",
    "proposals export": "0 intent(s), one row each.",
    "reminders off": "no more private deadline reminders",
    "notify on": "announcements that ping will ping you",
    "announce new": Modal("New announcement"),
    "announce scheduled": "No announcements are scheduled.",
    "announce cancel 1": "There is no announcement #1.",
    # The virtual event (the fresh app's clock is in June, months before the program).
    "program": "Add it to your calendar with /program ics",  # the group's default: /program show
    "program ics ume": "sessions; open the file to add them to your calendar",
    "event setup dry-run=yes": "Event setup (dry run: nothing changed)",
    "event archive": "nothing to archive",
    "event summary": "Questions asked per session",
    "ask opening Hello": "opens 10 minutes before it starts",
    "coalition list": "Topic coalitions (join with /coalition join NAME)",
    "coalition join Curriculum reform": "You joined",
    "coalition leave Curriculum reform": "not in",
    "coalition members Curriculum reform": "Curriculum reform",
    'coalition propose "Llama care" Caring for the llamas': "is with the organizers",
    "coalition prompt What will you try first?": "No coalition has a space yet",
    "coalition prompts": "No coalition prompts are scheduled.",
    "coalition prompt-cancel 3": "There is no coalition prompt #3.",
    "circles join": Modal("Join coalition circles"),
    "circles pause": "not in circles",
    "circles leave": "not in circles",
    "circles status": "You are not in circles",
    "circles match dry-run=yes": "Dry run",
    "circles stats": "0 active members",
    # Safety
    "report new Something worried me": "Your report is #1",
    "report reply 1 More details": "You have no report #1",
    "report close 1": "You have no report #1",
    "privacy export": "Here is everything I hold about you",
    "privacy delete": "It cannot be undone",
    "audit": "No entries match",
}


def test_every_command_has_a_slack_test(config):
    registry = App.registry_for(config)
    covered = {resolve_command(registry, text)[0] for text in COMMANDS}
    missing = sorted(set(registry.commands) - covered)
    assert not missing, (
        "These commands have no Slack-level test; add a line for each to COMMANDS in "
        f"{__file__}: {', '.join('/' + m for m in missing)}"
    )


@pytest.mark.parametrize("who", [PARTICIPANT, ORGANIZER])
@pytest.mark.parametrize("text", list(COMMANDS))
async def test_command_on_slack(slack, text, who):
    name, _ = resolve_command(slack.app.registry, text)
    command = slack.app.registry.get(name)
    refused = command.permission is Permission.ORGANIZER and who != ORGANIZER

    sent = await slack.command(f"/{escape(text)}", user=who)  # Slack escapes &, <, > in command text

    assert sent.status == 200 and sent.text == ""  # an empty acknowledgement, at once
    assert sent.elapsed < ACK_LIMIT
    await slack.idle()
    expected = COMMANDS[text]
    if isinstance(expected, Modal) and not refused:
        opened = slack.fake.calls_to("views.open")
        assert len(opened) == 1 and expected.title in opened[0].args["view"]["title"]["text"]
        return
    reply = await slack.reply_to(sent)
    shown = visible_text(reply)
    if refused:
        assert "only organizers" in shown
        assert not slack.fake.calls_to("views.open")
    else:
        assert expected in shown, shown
        assert "Something went wrong" not in shown
    # The person was looked up (name, time zone) for the answer.
    assert any(c.args.get("user") == who for c in slack.fake.calls_to("users.info"))


def test_the_manifest_takes_every_top_level_command(config):
    """The new groups and commands fit Slack's rules for an app's slash commands, so the manifest
    still imports: none is a Slack built-in, names and texts are within Slack's limits."""
    registry = App.registry_for(config)
    manifest = build_manifest(config, registry)
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    new = {"/program", "/event", "/ask", "/coalition", "/circles", "/report", "/privacy", "/audit"}
    assert new <= set(commands) and len(commands) <= MAX_COMMANDS
    for name, entry in commands.items():
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", name) and name[1:] not in RESERVED_COMMANDS, name
        assert 1 <= len(entry["description"]) <= 100 and len(entry.get("usage_hint", "")) <= 100, name
    coalition = "Coalition: list, join, leave, members, propose, prompt, prompts, prompt-cancel"
    assert commands["/coalition"]["description"] == coalition
    assert commands["/ask"]["usage_hint"] == "<session> <question> [anonymous]"
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"mpim:write", "mpim:history"} <= scopes  # circles open group DMs and check them before repeating
