"""Proposal intents on Discord, with the real discord.py client against the fake server: the
seven-field form as two modals joined by Continue, a refused email fixed in place, the confirmation
and its buttons, the deadline and late access, the CSV export, privacy between members, and the
public "Start a proposal" button."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import pytest

from bot.core.clock import Clock
from storage import proposals as store
from tests.adapters.conftest import DiscordWorld
from tests.fakes.discord_server import Exchange

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIRST_MODAL = {  # by input label, as a member fills in the form
    "Submission type": "Poster abstract",
    "Area": "Undergraduate medical education",
    "Working title": "Listening to patients first",
    "Short description": "How residents and neighbours co-designed a curriculum together.",
    "Co-presenters (names, roles)": "Dr. Sam O'Neil, attending",
}
SECOND_MODAL = {"Contact email": "ana@example.org", "Your role and affiliation": "Medical student"}
DEADLINE_TAG = "<t:1688183999:F>"  # 2023-06-30 23:59:59 in New York
_titles = itertools.count(1)


def a_title() -> str:
    return f"Proposal number {next(_titles)} on Discord"


async def propose(world: DiscordWorld, member: dict, opened: Exchange | None = None, **first) -> Exchange:
    """Fill in both modals of the proposal form (opened by /propose unless given); the reply."""
    fake = world.fake
    opened = opened or await fake.slash(member, "propose")
    step = await fake.submit_modal(member, opened, FIRST_MODAL | {"Working title": a_title()} | first)
    second = await fake.click(member, step.message_with("Continue"), "Continue")
    return await fake.submit_modal(member, second, {"Contact email": f"{member['user']['username']}@example.org"})


def intent_id(reply: Exchange) -> int:
    """The number in 'Intent #12 recorded: …'."""
    return int(reply.text.split("#", 1)[1].split(" ", 1)[0])


async def test_a_proposal_from_the_form_to_submitted(discord_strict):
    world = discord_strict
    fake, ana, config = world.fake, world.participant, world.app.config

    opened = await fake.slash(ana, "propose")
    assert opened.modal["title"] == "Proposal intent (1/2)"
    assert [c["label"] for c in opened.modal["components"]] == list(FIRST_MODAL)
    for choice in ("Submission type", "Area"):
        assert opened.modal_input(choice)["type"] == 3  # a select, not free text
    assert [o["label"] for o in opened.modal_input("Submission type")["options"]] == [
        "Poster abstract",
        "Personal narrative",
        "Workshop",
        "Fireside Chat",
    ]

    step = await fake.submit_modal(ana, opened, FIRST_MODAL)
    assert "Step 1 of 2 saved" in step.text and step.ephemeral
    second = await fake.click(ana, step.message_with("Continue"), "Continue")
    assert second.modal["title"] == "Proposal intent (2/2)"
    assert [c["label"] for c in second.modal["components"]] == list(SECOND_MODAL)

    before = len(await store.by_author(world.app.db, "discord", ana["user"]["id"]))
    refused = await fake.submit_modal(ana, second, SECOND_MODAL | {"Contact email": "ana@example"})
    assert refused.ephemeral
    assert "Contact email must be an email address like name@example.org." in refused.text
    assert "everything else you typed is kept" in refused.text
    assert len(await store.by_author(world.app.db, "discord", ana["user"]["id"])) == before

    fix = await fake.click(ana, refused.message_with("Fix it"), "Fix it")
    assert fix.modal["title"] == "Proposal intent (2/2)"  # the modal with the mistake
    assert fix.modal_input("Contact email")["value"] == "ana@example"
    assert fix.modal_input("Your role and affiliation")["value"] == "Medical student"
    done = await fake.submit_modal(ana, fix, {"Contact email": "ana@example.org"})

    # What was typed in the first modal arrived too.
    assert done.ephemeral
    assert "recorded: “Listening to patients first”**" in done.text
    assert "Poster abstract · Undergraduate medical education" in done.text
    assert "This is not your submission yet" in done.text
    assert f"by **{DEADLINE_TAG}**" in done.text
    assert f"- **Description:** {FIRST_MODAL['Short description']}" in done.text
    assert "- **Co-presenters:** Dr. Sam O'Neil, attending" in done.text
    assert "- **Contact email:** ana@example.org" in done.text
    assert "- **Role and affiliation:** Medical student" in done.text
    link, submitted, edit = done.buttons()
    assert (link["label"], link["style"], link["url"]) == (
        "Open the submission form",
        5,
        config.links.submission_form,
    )
    assert [submitted["label"], edit["label"]] == ["I submitted it", "Edit"]
    number = intent_id(done)

    # Organizers hear of it, without the contact email.
    note = fake.messages_in("organizers")[-1]
    assert note.content.startswith(f"New proposal intent #{number}: **Listening to patients first**")
    assert "ana@example.org" not in note.content and not note.pinged

    marked = await fake.click(ana, done.message_with("I submitted it"), "I submitted it")
    assert marked.text == (
        f"🎉 Intent #{number} “Listening to patients first” is marked submitted. No more reminders for it."
    )
    assert marked.ephemeral
    mine = await fake.slash(ana, "proposals mine")
    assert (
        f"- **#{number} Listening to patients first**: Poster abstract, Undergraduate medical education, submitted"
    ) in mine.text
    assert mine.ephemeral


async def test_edit_reopens_both_modals_with_the_saved_answers(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    done = await propose(world, ana, **{"Submission type": "Workshop"})
    number = intent_id(done)

    first = await fake.click(ana, done.message_with("Edit"), "Edit")
    assert first.modal["title"] == f"Edit intent #{number} (1/2)"
    assert first.modal_input("Working title")["value"].startswith("Proposal number")
    chosen = [o["label"] for o in first.modal_input("Submission type")["options"] if o.get("default")]
    assert chosen == ["Workshop"]
    step = await fake.submit_modal(ana, first, {"Working title": "A title changed on Discord"})
    second = await fake.click(ana, step.message_with("Continue"), "Continue")
    # The second modal shows what was saved, though only the first one travelled in the click.
    assert second.modal_input("Contact email")["value"] == "ana@example.org"
    updated = await fake.submit_modal(ana, second, {})
    assert f"Intent #{number} updated: “A title changed on Discord”" in updated.text
    assert "Workshop · Undergraduate medical education" in updated.text


@pytest.fixture
def after_deadline(discord_env, monkeypatch):
    """The app's clock one second after the proposal deadline (put back after the test)."""
    app = discord_env.app
    clock = Clock.frozen(app.clock.now())
    clock.advance(app.config.deadline + dt.timedelta(seconds=1) - clock.now())
    monkeypatch.setattr(app, "clock", clock)
    return clock


async def test_after_the_deadline_only_a_member_given_late_access_may_propose(discord_strict, after_deadline):
    world = discord_strict
    fake, ana, dana, olu = world.fake, world.participant, world.fake.member("dana"), world.organizer

    closed = await fake.slash(ana, "propose")
    assert closed.modal is None and closed.ephemeral
    assert closed.text == (
        f"Proposal intake closed at the deadline, {DEADLINE_TAG}. If you need more time, write to "
        "challengingnorms@mssm.edu: organizers can grant late access."
    )

    # On Discord the person is a member picked from the server, not typed text.
    extend = next(o for o in fake.command("proposals")["options"] if o["name"] == "extend")
    assert {o["name"]: o["type"] for o in extend["options"]} == {"user": 6, "until": 3}
    past = await fake.slash(olu, "proposals extend", {"user": "ana", "until": "2023-06-30T12:00"})
    assert "That time has already passed" in past.text
    granted = await fake.slash(olu, "proposals extend", {"user": "ana", "until": "2023-07-07T17:00"})
    assert granted.text == "ana can start and edit proposal intents until <t:1688763600:F>."

    done = await propose(world, ana)
    assert "recorded" in done.text
    still_closed = await fake.slash(dana, "propose")
    assert still_closed.text.startswith("Proposal intake closed at the deadline")

    after_deadline.advance(dt.timedelta(days=7))  # 2023-07-08, past the grant too
    assert (await fake.slash(ana, "propose")).text.startswith("Proposal intake closed")


async def test_the_export_is_a_csv_attachment(discord_strict):
    world = discord_strict
    fake = world.fake
    tricky = 'Équité, “quotes”, commas,\nnew lines and "dq" in a description'
    done = await propose(world, world.participant, **{"Short description": tricky})
    number = intent_id(done)

    seen = await fake.slash(world.organizer, "proposals export")
    assert seen.ephemeral
    [(name, content, _)] = seen.files
    assert name == "proposal-intents-2023-06-09.csv"
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))
    assert f"{len(rows)} intent(s), one row each." in seen.text
    row = next(r for r in rows if r["id"] == str(number))
    assert row["description"] == tricky
    assert row["platform"] == "discord" and row["user_id"] == world.participant["user"]["id"]
    assert row["email"] == "ana@example.org" and row["state"] == "intent"


async def test_a_member_cannot_withdraw_someone_elses_intent(discord_strict):
    world = discord_strict
    fake, dana = world.fake, world.fake.member("dana")
    values = {
        "type": "poster",
        "area": "gme",
        "title": a_title(),
        "description": "x" * 30,
        "email": "a@b.org",
    }
    intent = await store.create(
        world.app.db, "discord", world.participant["user"]["id"], "ana", values, world.app.clock.now(), 100
    )
    number = intent.id

    refused = await fake.slash(dana, "proposals withdraw", {"id": number})
    assert refused.text == f"You have no intent #{number}. See /proposals mine."
    assert refused.ephemeral
    assert (await store.get(world.app.db, number)).state == "intent"
    # Nor open it to edit.
    assert "You have no intent" in (await fake.slash(dana, "proposals edit", {"id": number})).text

    withdrawn = await fake.slash(world.participant, "proposals withdraw", {"id": number})
    assert f"Intent #{number}" in withdrawn.text and "is withdrawn" in withdrawn.text


async def test_the_public_button_opens_the_form_for_whoever_clicks(discord_strict):
    world = discord_strict
    fake, dana = world.fake, world.fake.member("dana")

    posted = await fake.slash(world.organizer, "proposals button", channel="help")
    assert not posted.ephemeral
    message = posted.message_with("Start a proposal")
    assert fake.messages_in("help")[-1].id == message.id  # everyone in the channel sees it
    assert message.content.startswith("**Share your work at")

    for member in (dana, world.participant):
        opened = await fake.click(member, message, "Start a proposal")
        assert opened.modal["title"] == "Proposal intent (1/2)"
    done = await propose(world, dana, await fake.click(dana, message, "Start a proposal"))
    number = intent_id(done)
    intent = await store.get(world.app.db, number)
    assert (intent.user_id, intent.email) == (dana["user"]["id"], "dana@example.org")
