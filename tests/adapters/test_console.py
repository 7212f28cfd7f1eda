"""The console adapter, driven as a script: every command a person can type, on this adapter."""

import io
import subprocess
import sys

import pytest

from bot.adapters.console import Console
from bot.core.model import Form, FormField, Reply
from bot.core.registry import button, command, form_builder, form_handler
from tests.conftest import ROOT

# Every registry command must appear here with a line to type and a fragment the person sees.
CONSOLE_CASES = {
    "help": ("/help", "- **/about**"),
    "about": ("/about", "Friday, October 13 and Saturday, October 14, 2023"),
    "timezone": ("/timezone Europe/Paris", "times in Europe/Paris"),
    "faq ask": ("/faq is it free to attend", "the conference is free for everyone"),
    "faq list": ("/faq list", "(`deadline`)"),
    "faq add": ("/faq add", "New FAQ entry: answer each prompt"),
    "faq edit": ("/faq edit cost", "Edit FAQ entry: answer each prompt"),
    "faq remove": ("/faq remove cost", "Removed `cost`"),
    "faq reply": ("/faq reply 7 Hello", "There is no forwarded question #7"),
    "faq inbox": ("/faq inbox", "No forwarded questions are waiting"),
    "faq gaps": ("/faq gaps", "No unanswered or uncertain questions so far"),
    "propose": ("/propose type=poster", "Proposal intent: answer each prompt"),
    "proposals mine": ("/proposals mine", "You have no proposal intents yet"),
    "proposals edit": ("/proposals edit 3", "You have no intent #3"),
    "proposals submitted": ("/proposals submitted 3", "You have no intent #3"),
    "proposals withdraw": ("/proposals withdraw 3", "You have no intent #3"),
    "proposals extend": ("/proposals extend ana 2023-07-07T17:00", "ana can start and edit proposal intents"),
    "proposals button": ("/proposals button", "[1] Start a proposal"),
    "proposals list": ("/proposals list state=submitted", "No intents match."),
    "proposals stats": ("/proposals stats", "No intents yet."),
    "proposals export": ("/proposals export", "0 intent(s), one row each."),
    "reminders": ("/reminders off", "no more private deadline reminders"),
    "notify": ("/notify on", "announcements that ping will ping you"),
    "announce new": ("/announce", "New announcement: answer each prompt"),
    "announce cancel": ("/announce cancel 4", "There is no announcement #4."),
    "announce scheduled": ("/announce scheduled", "No announcements are scheduled."),
    "program show": ("/program gme", "Workshop: equitable evaluation in residency"),
    "program ics": ("/program ics", "file: challenging-norms.ics"),
    "event setup": ("/event setup dry-run=yes", "would create #undergraduate-medical-education"),
    "event archive": ("/event archive", "nothing to archive"),
    "event summary": ("/event summary", "Questions asked per session:"),
    "ask": ("/ask opening Hello?", "opens 10 minutes before it starts"),
    "coalition list": ("/coalition list", "Curriculum reform"),
    "coalition join": ("/coalition join Residency culture", "You joined **Residency culture**"),
    "coalition leave": ("/coalition leave Residency culture", "You're not in **Residency culture**"),
    "coalition members": ("/coalition members Residency culture", "Residency culture** "),
    "coalition propose": ('/coalition propose "Data justice" "Fair data"', "is with the organizers"),
    "coalition prompt": ("/coalition prompt Hello", "No coalition has a space yet"),
    "coalition prompts": ("/coalition prompts", "No coalition prompts are scheduled."),
    "coalition prompt-cancel": ("/coalition prompt-cancel 3", "There is no coalition prompt #3."),
    "circles join": ("/circles join", "Join coalition circles: answer each prompt"),
    "circles pause": ("/circles pause", "You're not in circles"),
    "circles leave": ("/circles leave", "You're not in circles"),
    "circles status": ("/circles status", "You are not in circles."),
    "circles match": ("/circles match dry-run=yes", "**Dry run** (seed"),
    "circles stats": ("/circles stats", "0 round(s), 0 circle(s)"),
    "report new": ("/report Someone was rude in #help", "Your report is #1"),
    "report reply": ("/report reply 3 Hello", "You have no report #3."),
    "report close": ("/report close 3", "You have no report #3."),
    "privacy export": ("/privacy export", "file: my-data.json"),
    "privacy delete": ("/privacy delete", "[1] Erase my data"),
    "audit": ("/audit", "No entries match."),
}


async def run_script(app, script: str, **kwargs) -> str:
    out = io.StringIO()
    console = Console(app, stdin=io.StringIO(script), stdout=out, **kwargs)
    assert await console.run() == 0
    return out.getvalue()


def test_every_command_has_a_console_test(app):
    missing = set(app.registry.commands) - set(CONSOLE_CASES)
    assert not missing, f"commands without a console test: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(CONSOLE_CASES))
@pytest.mark.parametrize("organizer", [False, True], ids=["participant", "organizer"])
async def test_each_command_as_participant_and_organizer(app, name, organizer):
    line, expected = CONSOLE_CASES[name]
    command = app.registry.get(name)
    output = await run_script(app, line + "\n", organizer=organizer)
    if command.permission and not organizer:
        assert "only organizers" in output
    else:
        assert expected.replace("**", "") in output


async def test_greeting_says_what_to_type(app):
    output = await run_script(app, "")
    assert "Type /help to see the commands" in output


async def test_help_lists_only_what_the_person_may_use(app):
    output = await run_script(app, "/help\n")
    assert "/about: The conference" in output and "/help" in output


async def test_about_prints_the_conference_facts_in_the_readers_zone(app):
    output = await run_script(app, "/about\n/timezone America/Los_Angeles\n/about\n")
    assert "Icahn School of Medicine at Mount Sinai" in output
    assert "Friday, June 30, 2023 at 11:59 PM EDT (21 days, 14 hours left)" in output
    assert "Friday, June 30, 2023 at 8:59 PM PDT" in output
    assert "Registration: free; the link will be announced" in output


async def test_directives_change_person_channel_and_clock(app):
    output = await run_script(app, ":as Dana Lee organizer\n:channel help\n:advance 21d\n/about\n:bogus\n")
    assert "You are now Dana Lee (organizer)." in output
    assert "You are now in #help." in output
    assert "The clock now shows Friday, June 30, 2023" in output
    assert "14 hours, 59 minutes left" in output
    assert ":advance 3d|6h|1h30m" in output  # unknown directives show the list
    bad = await run_script(app, ":advance soon\n")
    assert "write it like 3d" in bad


async def test_unknown_commands_and_bad_options_are_explained(app):
    output = await run_script(app, "/nosuch\n/timezone Mars/Base\n/timezone paris\n")
    assert "I don't know /nosuch" in output
    assert "I don't know the time zone 'Mars/Base'" in output
    assert "Did you mean Europe/Paris" in output


class FormCog:
    def __init__(self, app):
        self.app = app

    @command("signup", "Sign up")
    async def signup(self, ctx):
        return self.build("signup", "")

    @form_builder("signup")
    def build(self, form_id, state):
        return Form(
            form_id,
            "Sign up",
            (
                FormField("name", "Name", max_length=10),
                FormField("email", "Email", kind="email"),
                FormField("note", "Note", required=False),
            ),
        )

    @form_handler("signup")
    async def submitted(self, ctx, values, state):
        return Reply(
            f"Signed up {values['name']} <{values['email']}> note={values['note']!r}",
            buttons=(__import__("bot.core.model", fromlist=["Button"]).Button("again:1", "Again"),),
        )

    @command("ping", "Ping")
    async def ping(self, ctx):
        return Reply("pong")

    @button("again")
    async def again(self, ctx, argument):
        return Reply(f"clicked {argument} by {ctx.actor.display_name}")


@pytest.fixture
async def form_app(config, clock, tmp_path):
    from bot.app import App
    from storage.db import Database

    application = App(config, await Database.open(tmp_path / "f.sqlite3"), clock, cogs=[FormCog])
    yield application
    await application.close()


async def test_forms_prompt_field_by_field_and_reask_only_what_was_wrong(form_app):
    script = "/signup\nAnastasia Longname\nnot-an-email\n\nAna\nana@example.org\n:click 1\n"
    output = await run_script(form_app, script)
    assert "Name can be at most 10 characters" in output
    assert "Email must be an email address" in output
    assert "Everything else you typed is kept" in output
    assert "Signed up Ana <ana@example.org> note=''" in output
    assert "clicked 1 by you" in output


async def test_forms_accept_every_field_inline(form_app):
    output = await run_script(form_app, '/signup name=Ana email=ana@example.org note="hi there"\n')
    assert "Signed up Ana <ana@example.org> note='hi there'" in output
    assert "answer each prompt" not in output


async def test_a_form_can_be_cancelled_and_input_may_end_inside_one(form_app):
    cancelled = await run_script(form_app, "/signup\n:cancel\n/ping\n")
    assert "Cancelled; nothing was submitted." in cancelled and "pong" in cancelled
    ended = await run_script(form_app, "/signup\nAna\n")
    assert "Input ended before the form was finished" in ended


def test_piped_console_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="/help\n/about\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "/about: The conference" in done.stdout
    assert "Challenging Norms: Uplifting Anti-Racist Work" in done.stdout


def test_run_without_credentials_starts_the_console():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="/about\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "No platform credentials found" in done.stderr
    assert "Welcome to the Challenging Norms bot" in done.stdout
    assert "Icahn School of Medicine" in done.stdout


async def test_scheduled_coalition_prompts_and_the_event_summary(app):
    script = (
        ":as Olu organizer\n/event setup\n/coalition join Curriculum reform\n"
        "/coalition prompt at=2023-06-09T15:00 What will you change first?\n/coalition prompts\n"
        ":advance 6h\n/coalition prompts\n"
        ":channel undergraduate-medical-education\nThanks for the session!\n"
        ":channel coalition-curriculum-reform\nHello all\n/event summary\n"
    )
    output = await run_script(app, script)
    assert "Prompt #1 will be posted in every coalition's space at Friday, June 9, 2023 at 3:00 PM EDT." in output
    assert "- #1 Friday, June 9, 2023 at 3:00 PM EDT: “What will you change first?”" in output
    posted = "[#coalition-curriculum-reform] 💬 Prompt from the organizers: What will you change first?"
    assert output.count(posted) == 1
    assert "No coalition prompts are scheduled." in output
    assert "- Undergraduate medical education: 1 person, 1 message, 0 questions" in output
    assert "- Curriculum reform: 1 member, 1 message from 1 person" in output
    assert "file: event-summary.csv" in output
