"""Proposal intents: the lifecycle, the deadline, organizers' tools, privacy and concurrency."""

import asyncio
import csv
import datetime as dt
import io

from bot.core.model import Form, FormErrors, Place, Platform
from tests.adapters.test_console import run_script
from tests.conftest import console_actor

GOOD = {
    "type": "poster",
    "area": "ume",
    "title": "Our anti-racist curriculum pilot",
    "description": "We redesigned the first-year curriculum with community partners; early lessons.",
    "co_presenters": "",
    "email": "ana@example.org",
    "affiliation": "Medical student",
}


async def propose(app, actor, lobby, **changes):
    form = await app.dispatcher.run_command("propose", {}, actor, lobby)
    assert isinstance(form, Form)
    return await app.dispatcher.submit(form.id, form.state, GOOD | changes, actor, lobby)


async def test_an_intent_gets_a_confirmation_that_makes_the_next_step_obvious(app, participant, lobby):
    reply = await propose(app, participant, lobby)
    assert reply.private
    assert "Intent #1 recorded: “Our anti-racist curriculum pilot”" in reply.text
    assert "This is not your submission yet" in reply.text
    assert "by **<t:1688183999:F>** (21 days, 14 hours left)" in reply.text
    assert "[submission form](https://" in reply.text and "[submission guide](https://" in reply.text
    assert [b.label for b in reply.buttons] == ["Open the submission form", "I submitted it", "Edit"]
    assert reply.buttons[0].url == app.config.links.submission_form


async def test_propose_options_prefill_the_form(app, participant, lobby):
    form = await app.dispatcher.run_command("propose", {"type": "Fireside Chat", "area": "gme"}, participant, lobby)
    assert form.values == {"type": "fireside", "area": "gme"}
    assert [f.name for f in form.fields] == [
        "type",
        "area",
        "title",
        "description",
        "co_presenters",
        "email",
        "affiliation",
    ]


async def test_validation_errors_are_specific_per_field(app, participant, lobby):
    result = await propose(app, participant, lobby, title="abc", email="ana@", type="essay")
    assert isinstance(result, FormErrors)
    assert result.errors == {
        "type": "Submission type must be one of: Poster abstract, Personal narrative, Workshop, Fireside Chat.",
        "title": "Working title needs at least 5 characters (you wrote 3).",
        "email": "Contact email must be an email address like name@example.org.",
    }


async def test_duplicate_titles_and_the_per_person_limit(app, participant, lobby):
    await propose(app, participant, lobby)
    duplicate = await propose(app, participant, lobby, title="OUR anti-racist  curriculum pilot!")
    assert duplicate.errors == {"title": "You already have an intent with this title; use /proposals edit."}
    for n in range(2, 6):
        await propose(app, participant, lobby, title=f"Another project number {n}")
    over = await propose(app, participant, lobby, title="One too many projects")
    assert "You already have 5 open intents" in over.text
    await app.dispatcher.run_command("proposals withdraw", {"id": "2"}, participant, lobby)
    again = await propose(app, participant, lobby, title="One too many projects")
    assert "recorded" in again.text


async def test_lifecycle_mine_edit_submitted_withdraw(app, participant, lobby):
    await propose(app, participant, lobby)
    edit = await app.dispatcher.run_command("proposals edit", {"id": "1"}, participant, lobby)
    assert edit.state == "1" and edit.values["title"] == GOOD["title"]
    updated = await app.dispatcher.submit(edit.id, edit.state, GOOD | {"title": "A better title"}, participant, lobby)
    assert "Intent #1 updated: “A better title”" in updated.text
    done = await app.dispatcher.click("prop-submitted:1", participant, lobby)
    assert "marked submitted" in done.text
    mine = await app.dispatcher.run_command("proposals mine", {}, participant, lobby)
    assert "#1 A better title" in mine.text and "submitted" in mine.text
    gone = await app.dispatcher.run_command("proposals withdraw", {"id": "1"}, participant, lobby)
    assert "is withdrawn" in gone.text
    resubmit = await app.dispatcher.run_command("proposals submitted", {"id": "1"}, participant, lobby)
    assert "was withdrawn" in resubmit.text


async def test_nobody_else_can_see_or_change_an_intent(app, participant, lobby):
    await propose(app, participant, lobby)
    other = console_actor("ben")
    for name, options in [
        ("proposals edit", {"id": "1"}),
        ("proposals submitted", {"id": "1"}),
        ("proposals withdraw", {"id": "1"}),
    ]:
        reply = await app.dispatcher.run_command(name, options, other, lobby)
        assert reply.text == "You have no intent #1. See /proposals mine.", name
    assert "You have no intent #1" in (await app.dispatcher.click("prop-edit:1", other, lobby)).text
    sneaky = await app.dispatcher.submit("proposal", "1", GOOD | {"title": "Hijacked title"}, other, lobby)
    assert "You have no intent #1" in sneaky.text
    mine = await app.dispatcher.run_command("proposals mine", {}, other, lobby)
    assert "no proposal intents yet" in mine.text and "ana@example.org" not in mine.text
    for name in ("proposals list", "proposals stats", "proposals export", "proposals button"):
        assert "only organizers" in (await app.dispatcher.run_command(name, {}, other, lobby)).text
    extend = await app.dispatcher.run_command("proposals extend", {"user": "ben", "until": "2023-07-05"}, other, lobby)
    assert "only organizers" in extend.text


async def test_an_organizer_may_change_someone_elses_intent(app, participant, organizer, lobby):
    await propose(app, participant, lobby)
    reply = await app.dispatcher.run_command("proposals withdraw", {"id": "1"}, organizer, lobby)
    assert "is withdrawn" in reply.text


async def test_one_second_after_the_deadline_intake_and_edits_close(app, participant, lobby):
    await propose(app, participant, lobby)
    deadline = app.config.deadline
    app.clock.advance(deadline - app.clock.now())
    assert "recorded" in (await propose(app, participant, lobby, title="Made it just in time")).text
    app.clock.advance(dt.timedelta(seconds=1))
    closed = await app.dispatcher.run_command("propose", {}, participant, lobby)
    assert "Proposal intake closed at the deadline, <t:1688183999:F>" in closed.text
    assert "challengingnorms@mssm.edu" in closed.text
    assert "closed" in (await app.dispatcher.run_command("proposals edit", {"id": "1"}, participant, lobby)).text
    assert "closed" in (await app.dispatcher.click("prop-start:", participant, lobby)).text
    # A form opened before the deadline is refused when submitted after it.
    late = await app.dispatcher.submit("proposal", "", GOOD | {"title": "Too late now"}, participant, lobby)
    assert "closed" in late.text
    # Marking submitted still works: it records what happened before the deadline.
    assert "marked submitted" in (await app.dispatcher.click("prop-submitted:1", participant, lobby)).text


async def test_late_access_for_a_named_person_until_a_time(app, participant, organizer, lobby):
    app.clock.advance(app.config.deadline - app.clock.now() + dt.timedelta(days=1))
    assert "closed" in (await app.dispatcher.run_command("propose", {}, participant, lobby)).text
    past = await app.dispatcher.run_command(
        "proposals extend", {"user": "ana", "until": "2023-06-01T12:00"}, organizer, lobby
    )
    assert "already passed" in past.text
    granted = await app.dispatcher.run_command(
        "proposals extend", {"user": "<@ana|Ana>", "until": "2023-07-07T17:00"}, organizer, lobby
    )
    assert granted.text == "Ana can start and edit proposal intents until <t:1688763600:F>."
    assert "recorded" in (await propose(app, participant, lobby)).text
    other = console_actor("ben")
    assert "closed" in (await app.dispatcher.run_command("propose", {}, other, lobby)).text
    app.clock.advance(dt.timedelta(days=7))
    assert "closed" in (await app.dispatcher.run_command("propose", {}, participant, lobby)).text


async def test_organizers_hear_of_each_new_intent_without_the_email(app, participant, lobby):
    posts = []

    class Recorder:
        platform = Platform.DISCORD

        async def find_channel(self, name):
            return Place(Platform.DISCORD, "9", name=name)

        async def post(self, place, message):
            posts.append((place.name, message.text, message.dedupe_key))

    app.platforms[Platform.DISCORD] = Recorder()
    await propose(app, participant, lobby)
    await app.idle()  # the notice goes out in the background
    assert posts == [
        (
            "organizers",
            "New proposal intent #1: **Our anti-racist curriculum pilot** "
            "(Poster abstract · Undergraduate medical "
            "education) by Ana (console).",
            "intent-new-1",
        )
    ]


async def test_the_confirmation_does_not_wait_for_the_organizers_notice(app, participant, lobby, caplog):
    started, release = asyncio.Event(), asyncio.Event()

    class SlowChannel:  # as a Slack channel taking one message a second, in a rush
        platform = Platform.SLACK

        async def find_channel(self, name):
            return Place(Platform.SLACK, "C", name=name)

        async def post(self, place, message):
            started.set()
            await release.wait()
            raise RuntimeError("rate limited for good")

    app.platforms[Platform.SLACK] = SlowChannel()
    reply = await asyncio.wait_for(propose(app, participant, lobby), 5)
    assert "Intent #1 recorded" in reply.text
    await asyncio.wait_for(started.wait(), 5)
    release.set()
    await app.idle()
    assert "could not post in organizers on slack" in caplog.text  # logged, never raised at the person


async def test_intents_arriving_while_a_notice_is_posted_are_told_together(app, lobby):
    # A Slack channel takes about one message a second: in a rush, one notice per intent would keep
    # the organizers' channel busy for minutes and bury it in messages.
    posted, release = [], asyncio.Event()

    class SlowChannel:
        platform = Platform.SLACK

        async def find_channel(self, name):
            return Place(Platform.SLACK, "C", name=name)

        async def post(self, place, message):
            posted.append((message.text, message.dedupe_key))
            await release.wait()

    app.platforms[Platform.SLACK] = SlowChannel()
    people = [console_actor(f"person{n}") for n in range(15)]
    await propose(app, people[0], lobby, title="The first idea")
    await asyncio.sleep(0)  # its notice is being posted (slowly)
    for n, person in enumerate(people[1:], start=2):
        reply = await propose(app, person, lobby, title=f"Idea number {n}")
        assert f"Intent #{n} recorded" in reply.text  # nobody waits for the notices
    release.set()
    await app.idle()
    assert [key for _, key in posted] == ["intent-new-1", "intent-new-2"]
    assert posted[0][0].startswith("New proposal intent #1: **The first idea**")
    together = posted[1][0].splitlines()
    assert together[0] == "New proposal intents, 14 at once:"
    assert together[1] == (
        "- #2: **Idea number 2** (Poster abstract · Undergraduate medical education) by Person1 (console)."
    )
    assert len(together) == 1 + 10 + 1 and together[10].startswith("- #11: ")
    assert together[-1] == "…and 4 more, up to #15 (/proposals list shows all)."
    # A later intent, after the rush, is told on its own again.
    await propose(app, people[0], lobby, title="A later idea")
    await app.idle()
    assert posted[-1][0].startswith("New proposal intent #16: **A later idea**")


async def test_notifications_can_be_turned_off(config, clock, tmp_path, participant, lobby):
    from bot.app import App
    from storage.db import Database

    quiet = config.model_copy(update={"proposals": config.proposals.model_copy(update={"notify_organizers": False})})
    app = App(quiet, await Database.open(tmp_path / "q.sqlite3"), clock)
    posts = []

    class Recorder:
        platform = Platform.SLACK

        async def find_channel(self, name):
            return Place(Platform.SLACK, "C", name=name)

        async def post(self, place, message):
            posts.append(message)

    app.platforms[Platform.SLACK] = Recorder()
    try:
        await propose(app, participant, lobby)
        assert posts == []
    finally:
        await app.close()


async def test_stats_and_list_for_organizers(app, participant, organizer, lobby):
    await propose(app, participant, lobby)
    await propose(app, participant, lobby, title="A workshop on allyship", type="workshop", area="community")
    await app.dispatcher.run_command("proposals submitted", {"id": "2"}, participant, lobby)
    stats = await app.dispatcher.run_command("proposals stats", {}, organizer, lobby)
    assert "**2 intents** (1 intent, 1 submitted)" in stats.text
    assert "- Poster abstract · Undergraduate medical education: 1 intent" in stats.text
    assert "- Workshop · Medical education and the community: 1 submitted" in stats.text
    assert "- 2023-06-09: 2" in stats.text
    listed = await app.dispatcher.run_command("proposals list", {"state": "submitted"}, organizer, lobby)
    assert "#2 A workshop on allyship" in listed.text and "#1" not in listed.text
    assert "ana@example.org" in listed.text  # organizers see contact emails


TRICKY = 'Équité, “quotes”, commas,\nnew lines and 中文 — 👩🏽‍⚕️ "dq"'


async def test_csv_export_round_trips_every_field(app, participant, organizer, lobby):
    one_line = TRICKY.replace("\n", " ")
    saved = await propose(
        app, participant, lobby, description=TRICKY, co_presenters='Dr. O\'Neil, "Sam"', affiliation=one_line
    )
    assert "recorded" in saved.text
    reply = await app.dispatcher.run_command("proposals export", {}, organizer, lobby)
    (file,) = reply.files
    assert file.name == "proposal-intents-2023-06-09.csv" and file.mime == "text/csv"
    rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8"), newline="")))
    assert len(rows) == 1
    row = rows[0]
    assert row["description"] == TRICKY and row["affiliation"] == one_line
    assert row["co_presenters"] == 'Dr. O\'Neil, "Sam"'
    assert row["email"] == "ana@example.org" and row["state"] == "intent"
    assert dt.datetime.fromisoformat(row["created_at"]) == app.clock.now()


async def test_200_concurrent_submissions_all_land_exactly_once(app, lobby):
    people = [console_actor(f"person{n}") for n in range(200)]
    forms = await asyncio.gather(*(app.dispatcher.run_command("propose", {}, p, lobby) for p in people))
    replies = await asyncio.gather(
        *(
            app.dispatcher.submit(f.id, f.state, GOOD | {"title": f"Project of {p.user_id}"}, p, lobby)
            for f, p in zip(forms, people, strict=True)
        )
    )
    assert all("recorded" in r.text for r in replies)
    rows = await app.db.fetchall("SELECT user_id, COUNT(*) AS n FROM intents GROUP BY user_id")
    assert len(rows) == 200 and all(r["n"] == 1 for r in rows)
    ids = {r.text.split("#")[1].split(" ")[0] for r in replies}
    assert len(ids) == 200


async def test_concurrent_submissions_cannot_pass_the_limit(app, participant, lobby):
    replies = await asyncio.gather(*(propose(app, participant, lobby, title=f"Parallel idea {n}") for n in range(12)))
    recorded = [r for r in replies if "recorded" in getattr(r, "text", "")]
    assert len(recorded) == app.config.proposals.per_person_limit


async def test_the_whole_lifecycle_on_the_console(app):
    script = (
        ":as Ana\n/propose\n2\n3\nOur anti-racist curriculum pilot\n"
        "We redesigned the first-year curriculum with community partners.\n\nana@example\nMedical student\n"
        "ana@example.org\n"
        ":click 2\n\n\nA better working title\n\n\n\n\n"
        "/proposals mine\n:click 1\n"
        ":as Olu organizer\n/proposals export\n/proposals button\n"
        ":as Ben\n:click 1\n:cancel\n"
    )
    output = await run_script(app, script)
    assert "! Contact email must be an email address like name@example.org." in output
    assert "Contact email (required) [ana@example]: ana@example.org" in output  # the typo is kept to fix
    assert "Intent #1 recorded: “Our anti-racist curriculum pilot”" in output
    assert "Personal narrative · Medical education and the community" in output
    assert "Working title (required, up to 150 characters) [Our anti-racist curriculum pilot]: " in output
    assert "Intent #1 updated: “A better working title”" in output
    assert "Open the submission form: https://" in output
    assert "file: proposal-intents-2023-06-09.csv" in output
    assert "[1] Start a proposal" in output
    assert "Proposal intent: answer each prompt" in output.split(":as Ben")[-1]
