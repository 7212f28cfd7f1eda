"""Safety: private reports relayed both ways, the moderation log, privacy export and erase."""

import dataclasses
import json

from bot.core.model import Place, Platform
from cogs.event.program import load_program
from tests.cogs.test_circles import join as join_circles
from tests.cogs.test_proposals import propose
from tests.cogs.test_reminders import world  # noqa: F401  (fixture)
from tests.conftest import console_actor

OLU = console_actor("olu", organizer=True)


def slack_person(user_id, name):
    return dataclasses.replace(console_actor(user_id), platform=Platform.SLACK, display_name=name)


async def test_a_report_reaches_moderators_and_replies_relay_both_ways(world):  # noqa: F811
    app = world.app
    world.slack.channels["S50"] = "moderation"
    reporter = slack_person("U-REPORTER-7", "Rae")
    dm = Place(Platform.SLACK, "D-rae", name="")
    done = await app.dispatcher.run_command(
        "report new", {"text": "Someone keeps messaging me", "about": "<@U-OTHER-2>"}, reporter, dm
    )
    assert "Your report is #1 and only the organizers can see it" in done.text
    (notice,) = [m.text for kind, t, m in world.slack.sent if t == "S50"]
    assert "Report #1" in notice and "Rae" in notice and "Someone keeps messaging me" in notice
    assert not any(t == "U-OTHER-2" for kind, t, _ in world.slack.sent)  # the reported person hears nothing

    answer = await app.dispatcher.run_command("report reply", {"id": "1", "text": "Thank you, we're on it."}, OLU, dm)
    assert "Sent privately to the reporter" in answer.text
    dms = [m.text for kind, t, m in world.slack.sent if kind == "user" and t == "U-REPORTER-7"]
    assert "The organizers answered your report #1" in dms[-1] and "we're on it" in dms[-1]
    more = await app.dispatcher.run_command("report reply", {"id": "1", "text": "It happened again."}, reporter, dm)
    assert "the organizers have it" in more.text
    assert "the reporter adds" in [m.text for _, t, m in world.slack.sent if t == "S50"][-1]
    stranger = slack_person("U-STRANGER-9", "Sam")
    refused = await app.dispatcher.run_command("report reply", {"id": "1", "text": "hi"}, stranger, dm)
    assert refused.text == "You have no report #1."
    assert "only organizers" in (await app.dispatcher.run_command("report close", {"id": "1"}, reporter, dm)).text
    closed = await app.dispatcher.run_command("report close", {"id": "1"}, OLU, dm)
    assert "is closed" in closed.text
    assert "is closed" in [m.text for kind, t, m in world.slack.sent if t == "U-REPORTER-7"][-1]
    after = await app.dispatcher.run_command("report reply", {"id": "1", "text": "one more"}, reporter, dm)
    assert "Report #1 is closed" in after.text


async def test_the_moderation_log_is_for_organizers_only(world):  # noqa: F811
    app, lobby = world.app, Place(Platform.SLACK, "S1")
    await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    entries = await app.dispatcher.run_command("audit", {}, OLU, lobby)
    assert "olu event setup" in entries.text
    only_ana = await app.dispatcher.run_command("audit", {"user": "ana"}, OLU, lobby)
    assert only_ana.text == "No entries match."
    refused = await app.dispatcher.run_command("audit", {}, console_actor("ana"), lobby)
    assert "only organizers" in refused.text


async def every_text_value(db) -> list[str]:
    values = []
    tables = [r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for row in await db.fetchall(f"SELECT * FROM {table}"):
            values += [str(v) for v in tuple(row) if v is not None]
    return values


async def test_export_then_erase_leaves_no_row_naming_the_person(world):  # noqa: F811
    app = world.app
    lobby = Place(Platform.SLACK, "S1")
    me = slack_person("U-ZELDA-42", "Zelda Quintero")
    other = slack_person("U-OTHER-1", "Omar")
    # Zelda leaves traces everywhere the bot keeps people's data.
    await app.dispatcher.run_command("timezone", {"zone": "Europe/Paris"}, me, lobby)
    await propose(app, me, lobby, email="zelda@example.org", affiliation="Zelda's lab")
    await propose(app, other, lobby)
    await app.dispatcher.run_command("reminders", {"state": "off"}, me, lobby)
    asked = await app.dispatcher.run_command("faq ask", {"question": "can I bring a llama"}, me, lobby)
    await app.dispatcher.click(asked.buttons[-1].id, me, lobby)
    await app.dispatcher.run_command("coalition join", {"name": "Residency culture"}, me, lobby)
    await app.dispatcher.run_command("coalition propose", {"name": "Llama care", "description": "Llamas"}, me, lobby)
    await app.dispatcher.run_command("report new", {"text": "A worry"}, me, lobby)
    await join_circles(app, me, "faculty", institution="Quintero Institute")
    await app.dispatcher.run_command("event setup", {}, OLU, lobby)
    opening = load_program(app.config)[0]
    await world.at(opening.start)
    await app.dispatcher.run_command("ask", {"session": "opening", "question": "Q?", "anonymous": "yes"}, me, lobby)
    pending = await app.db.fetchone("SELECT id FROM session_questions")
    await app.dispatcher.click(f"ask-post:{pending['id']}", me, lobby)
    ume = next(i for i, n in world.slack.channels.items() if n == "undergraduate-medical-education")
    await app.dispatcher.message("Thanks, everyone", me, Place(Platform.SLACK, ume))  # counted for the summary
    as_organizer = dataclasses.replace(me, is_organizer=True)  # she helps organize too
    await app.dispatcher.run_command(
        "coalition prompt", {"text": "Next?", "at": "2023-10-20T10:00"}, as_organizer, lobby
    )

    exported = await app.dispatcher.run_command("privacy export", {}, me, lobby)
    data = json.loads(exported.files[0].content)
    assert data["intents"][0]["email"] == "zelda@example.org"
    assert data["people"][0]["timezone"] == "Europe/Paris"
    assert data["faq_forwarded"][0]["question"] == "can I bring a llama"
    assert data["coalition_members"] and data["reports"] and data["circle_people"] and data["session_questions"]
    assert data["coalitions_proposed"][0]["name"] == "Llama care"
    assert [r["messages"] for r in data["event_activity"]] == [1]
    assert all(r["user_id"] == "U-ZELDA-42" for r in data["intents"])  # nobody else's data

    confirm = await app.dispatcher.run_command("privacy delete", {}, me, lobby)
    assert [b.label for b in confirm.buttons] == ["Erase my data", "Keep it"]
    assert "someone else's data" in (await app.dispatcher.click(confirm.buttons[0].id, other, lobby)).text
    erased = await app.dispatcher.click(confirm.buttons[0].id, me, lobby)
    assert "were erased or anonymised" in erased.text

    values = await every_text_value(app.db)
    for trace in ("U-ZELDA-42", "Zelda Quintero", "zelda@example.org", "Zelda's lab", "Quintero Institute"):
        assert not any(trace in v for v in values), trace
    intents = await app.db.fetchall("SELECT * FROM intents")
    assert len(intents) == 2  # still counted, anonymised
    assert "U-OTHER-1" in values  # other people's data stays
