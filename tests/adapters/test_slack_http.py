"""The Slack adapter in HTTP mode: signed requests in, Web API calls out, as a person sees them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

from bot.adapters import slack as slack_adapter
from bot.adapters.slack_blocks import FormOrigin
from cogs.general import GeneralCog
from tests.adapters import slack_fixtures
from tests.adapters.slack_fixtures import (
    ACK_LIMIT,
    GROUP_ORGANIZER,
    ORGANIZER,
    PARTICIPANT,
    ProbeCog,
    start_harness,
    stop_harness,
    visible_text,
)
from tests.fakes.slack_server import FakeSlack

# Fixtures, bound by name so pytest finds them here.
fake_slack, probe = slack_fixtures.fake_slack, slack_fixtures.probe


# -- security -----------------------------------------------------------------------------------------------
async def test_bad_signature_and_stale_timestamp_get_401_and_nothing_runs(probe):
    forged = await probe.command("/probe-echo hello", secret="not-the-signing-secret")
    replayed = await probe.command("/probe-echo hello", timestamp=int(time.time()) - 301)
    missing = await probe.post("command=%2Fprobe-echo", "application/x-www-form-urlencoded", timestamp=0)
    await probe.idle()
    assert (forged.status, replayed.status, missing.status) == (401, 401, 401)
    assert probe.cog.seen == []
    assert probe.fake.calls == []  # not even auth.test: verification comes first


async def test_url_verification_is_answered(probe):
    sent = await probe.post(json.dumps({"type": "url_verification", "challenge": "c-123"}), "application/json")
    assert sent.status == 200 and sent.json() == {"challenge": "c-123"}


# -- commands -----------------------------------------------------------------------------------------------
async def test_organizer_only_command_is_refused_to_a_participant(probe):
    refused = await probe.command("/probe-admin", user=PARTICIPANT)
    by_id = await probe.command("/probe-admin", user=ORGANIZER)
    by_group = await probe.command("/probe-admin", user=GROUP_ORGANIZER)
    again = await probe.command("/probe-admin", user=GROUP_ORGANIZER)
    await probe.idle()
    assert "only organizers can use /probe-admin" in visible_text(await probe.reply_to(refused))
    for sent in (by_id, by_group, again):
        assert "Organizer console." in visible_text(await probe.reply_to(sent))
    assert [s[1] for s in probe.cog.seen] == [ORGANIZER, GROUP_ORGANIZER, GROUP_ORGANIZER]
    assert len(probe.fake.calls_to("usergroups.users.list")) == 1  # cached briefly


async def test_replies_are_private_unless_the_cog_says_public(probe):
    private = await probe.command("/about")
    public = await probe.command("/probe-echo hi all")
    await probe.idle()
    assert (await probe.reply_to(private)).args["response_type"] == "ephemeral"
    assert (await probe.reply_to(public)).args["response_type"] == "in_channel"


async def test_groups_and_help_show_usage(probe):
    bare = await probe.command("/probe-group")
    sub_help = await probe.command("/probe-group two help")
    help_word = await probe.command("/probe-echo help")
    wrong = await probe.command("/probe-group two many")
    right = await probe.command("/probe-group two 21")
    unknown = await probe.command("/nope")
    await probe.idle()
    bare_text = visible_text(await probe.reply_to(bare))
    assert "/probe-group one" in bare_text and "/probe-group two &lt;n&gt;" in bare_text
    assert "/probe-group one" not in visible_text(await probe.reply_to(sub_help))
    assert "text: What to say" in visible_text(await probe.reply_to(help_word))
    wrong_text = visible_text(await probe.reply_to(wrong))
    assert "n must be a whole number" in wrong_text and "Usage: /probe-group two &lt;n&gt;" in wrong_text
    assert "Two: 42." in visible_text(await probe.reply_to(right))
    assert "I don't know /nope" in visible_text(await probe.reply_to(unknown))
    assert probe.cog.seen == []  # none of these reached a handler they should not have


async def test_user_text_never_pings(probe):
    # What Slack sends when someone types "@channel <!here> <@U999>" with should_escape on.
    sent = await probe.command("/probe-echo <!channel> &lt;!here&gt; <@U999|bob> &amp; co")
    await probe.idle()
    reply = await probe.reply_to(sent)
    shown = visible_text(reply)
    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U999"):
        assert ping not in shown
    assert "You said: @channel &lt;!here&gt; &lt;@U999|bob&gt; &amp; co" in reply.args["text"]
    assert probe.cog.seen == [("echo", "@channel <!here> <@U999|bob> & co")]


async def test_markup_becomes_mrkdwn_with_dates_in_the_readers_zone(probe):
    sent = await probe.command("/probe-when")
    await probe.idle()
    text = (await probe.reply_to(sent)).args["blocks"][0]["text"]["text"]
    deadline = int(probe.app.config.deadline.timestamp())
    assert text.startswith(f"*Due:* <!date^{deadline}^{{date_long_pretty}} at {{time}}|Friday, June 30, 2023")
    assert "<https://example.org/a?b=1&amp;c=2|guide>" in text


async def test_a_used_up_response_url_falls_back_to_an_ephemeral_message(probe):
    probe.fake.RESPONSE_URL_USES = 0
    await probe.command("/about")
    await probe.idle()
    ephemeral = await probe.fake.wait_for("chat.postEphemeral")
    assert ephemeral.args["user"] == PARTICIPANT and "Challenging Norms" in visible_text(ephemeral)


# -- modals -------------------------------------------------------------------------------------------------
async def open_probe_form(probe) -> tuple[dict, object]:
    sent = await probe.command("/probe-form")
    assert sent.elapsed < ACK_LIMIT
    opened = await probe.fake.wait_for("views.open")
    assert opened.args["trigger_id"] == sent.trigger_id
    return opened.response["view"], sent  # as Slack stored it: with its id, as a submission carries it


async def test_modal_round_trip_keeps_typed_values_after_a_validation_error(probe):
    view, sent = await open_probe_form(probe)
    assert view["title"]["text"] == "A probe form with a tit…" and len(view["title"]["text"]) <= 24
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["title"]["initial_value"] == "Draft title"
    assert elements["track"]["initial_option"]["value"] == "b"
    assert elements["details"]["multiline"] and elements["details"]["max_length"] == 3000
    assert [elements[k]["type"] for k in ("email", "seats", "start")] == [
        "email_text_input",
        "number_input",
        "datetimepicker",
    ]
    typed = {"title": "ab", "details": "Line one\nLine two", "email": "nope", "seats": "3", "track": "a"}

    rejected = await probe.submit(view, typed)

    assert rejected.status == 200 and rejected.elapsed < ACK_LIMIT
    errors = rejected.json()
    assert errors["response_action"] == "errors"
    assert set(errors["errors"]) == {"title", "email"} and "at least 3" in errors["errors"]["title"]
    # Slack keeps the modal and everything typed; the adapter must not replace the view.
    await probe.idle()
    assert not probe.fake.calls_to("views.update") and len(probe.fake.calls_to("views.open")) == 1

    taken = await probe.submit(view, {**typed, "title": "Taken title", "email": "ana@example.org"})
    assert taken.json()["errors"] == {"title": "That title is taken. Please check the form."}

    start = int(dt.datetime(2023, 10, 13, 9, tzinfo=probe.app.config.zone).timestamp())
    fixed = {**typed, "title": "Fine title", "email": "ana@example.org", "start": start}
    accepted = await probe.submit(view, fixed)

    assert accepted.status == 200 and accepted.text == ""  # closes the modal
    await probe.idle()
    _, values, state, place = next(s for s in probe.cog.seen if s[0] == "saved")
    assert values["details"] == "Line one\nLine two" and values["start"] == "2023-10-13T09:00-04:00"
    assert state == "state-7" and place.channel_id == probe.channels["general"]
    # The answer goes back through the response_url of the command that opened the form.
    saved = await probe.reply_to(sent)
    assert "Saved *Fine title* for Ana Participant." in visible_text(saved)
    assert saved.args["response_type"] == "ephemeral"


async def test_a_forged_or_far_off_date_time_is_refused_on_its_field(probe):
    view, _ = await open_probe_form(probe)
    typed = {"title": "Fine title", "email": "ana@example.org", "seats": "3", "track": "a"}
    year_2500 = int(dt.datetime(2500, 1, 1, 12, tzinfo=dt.UTC).timestamp())
    far = await probe.submit(view, {**typed, "start": year_2500})
    assert far.json()["errors"] == {"start": "Start: the year 2500 is out of range; give a date between 1970 and 2200."}
    forged = await probe.submit(view, {**typed, "start": 10**20})  # no calendar has it
    assert forged.json()["errors"] == {"start": "Start: write a date and time like 2023-06-23 09:00."}
    await probe.idle()
    assert not [s for s in probe.cog.seen if s[0] == "saved"]


async def test_a_profile_time_zone_that_is_no_zone_reads_as_the_conferences(probe):
    probe.fake.users[PARTICIPANT]["tz"] = "America"  # a region: a folder in the zone database, not a zone
    sent = await probe.command("/probe-when")
    await probe.idle()
    text = (await probe.reply_to(sent)).args["blocks"][0]["text"]["text"]
    assert "|Friday, June 30, 2023 at 11:59 PM EDT>" in text


async def test_a_slow_form_opens_a_loading_view_in_time_then_updates_it(probe):
    probe.adapter.replier.loading_after = 0.1
    probe.cog.delay = 0.4
    sent = await probe.command("/probe-slow")
    assert sent.elapsed < ACK_LIMIT
    await probe.idle()
    opened = probe.fake.calls_to("views.open")[0]
    updated = probe.fake.calls_to("views.update")[0]
    assert opened.args["view"]["title"]["text"] == "Just a moment"
    assert opened.at - probe.fake.calls_to("auth.test")[0].at < FakeSlack.TRIGGER_TTL
    assert updated.args["view"]["callback_id"] == "form:probe"
    assert updated.args["view_id"] in probe.fake.views


async def test_a_slow_plain_answer_arrives_late_without_a_modal(probe):
    # /probe-slow-reply is declared `-> Reply`: it never opens a form, so no "Just a moment" modal.
    probe.adapter.replier.loading_after = 0.1
    probe.cog.delay = 0.4
    sent = await probe.command("/probe-slow-reply")
    await probe.idle()
    assert "Thought about it." in visible_text(await probe.reply_to(sent))
    assert not probe.fake.calls_to("views.open")


async def test_an_expired_trigger_is_reported_to_the_person(probe):
    probe.fake.TRIGGER_TTL = 0.0  # Slack refuses the trigger: e.g. the request sat in a queue
    sent = await probe.command("/probe-form")
    await probe.idle()
    assert probe.fake.calls_to("views.open", ok_only=False)[0].error == "expired_trigger_id"
    assert "could not open the form in time" in visible_text(await probe.reply_to(sent))


async def test_a_slow_submission_is_acknowledged_then_shows_errors_with_the_typed_values(probe):
    view, sent = await open_probe_form(probe)
    probe.adapter.submit_budget = 0.1
    probe.cog.delay = 0.4
    typed = {"title": "slow taken", "email": "ana@example.org", "seats": "7", "track": "a"}

    saving = await probe.submit(view, typed)

    assert saving.elapsed < ACK_LIMIT and saving.json()["response_action"] == "update"
    await probe.idle()
    again = probe.fake.calls_to("views.update")[-1].response["view"]
    elements = {b["block_id"]: b["element"] for b in again["blocks"] if b["type"] == "input"}
    assert elements["title"]["initial_value"] == "slow taken" and elements["seats"]["initial_value"] == "7"
    assert elements["track"]["initial_option"]["value"] == "a"
    assert "That title is taken." in json.dumps(again)

    done = await probe.submit(again, {**typed, "title": "slow but fine"})
    assert done.json()["response_action"] == "update"
    await probe.idle()
    assert "my answer is in the conversation" in json.dumps(probe.fake.calls_to("views.update")[-1].args)
    assert "Saved *slow but fine*" in visible_text(probe.replies_to(sent)[-1])


async def open_probe_forms(probe, n: int) -> list[tuple[dict, object]]:
    forms = []
    for _ in range(n):
        sent = await probe.command("/probe-form")
        opened = await probe.fake.wait_for("views.open", lambda c, t=sent.trigger_id: c.args["trigger_id"] == t)
        forms.append((opened.response["view"], sent))
    return forms


async def in_flight(probe, count: int, within: float = 3.0) -> None:
    """Until `count` submissions' handlers are running."""
    deadline = time.monotonic() + within
    while probe.adapter._submitting < count:
        assert time.monotonic() < deadline, "the first submission never reached its handler"
        await asyncio.sleep(0.01)


async def test_in_a_rush_a_submission_is_acknowledged_at_once_and_finished_in_its_modal(probe):
    (slow_view, _), (view, sent), (taken_view, _) = await open_probe_forms(probe, 3)
    probe.adapter.submit_budget = 2.0  # alone, a submission waits this long for its handler
    probe.cog.delay = 0.6
    typed = {"email": "ana@example.org", "seats": "3", "track": "a"}
    slow = asyncio.create_task(probe.submit(slow_view, {**typed, "title": "slow one"}))
    await in_flight(probe, 1)

    saving = await probe.submit(view, {**typed, "title": "Fine title"})
    taken = await probe.submit(taken_view, {**typed, "title": "Taken title", "seats": "5"})

    # Another submission is in flight: no waiting for the handler, a "Saving…" view at once.
    for acked in (saving, taken):
        assert acked.status == 200 and acked.elapsed < 0.5, acked.elapsed
        assert acked.json()["response_action"] == "update" and "Saving" in acked.text
    alone = await slow
    assert alone.text == "" and alone.elapsed >= probe.cog.delay  # alone, it waited and closed the modal
    await probe.idle()
    # The answer arrives in the conversation first, then the modal says where it is.
    reply = await probe.reply_to(sent)
    assert "Saved *Fine title*" in visible_text(reply)
    updates = {c.args["view_id"]: c for c in probe.fake.calls_to("views.update")}
    assert set(updates) == {view["id"], taken_view["id"]}
    done = updates[view["id"]]
    assert "my answer is in the conversation" in json.dumps(done.args) and done.at > reply.at
    # The handler's own errors come back in the same modal, with everything typed.
    again = updates[taken_view["id"]].response["view"]
    elements = {b["block_id"]: b["element"] for b in again["blocks"] if b["type"] == "input"}
    assert elements["title"]["initial_value"] == "Taken title" and elements["seats"]["initial_value"] == "5"
    assert "That title is taken." in json.dumps(again)
    assert probe.adapter._submitting == 0


async def test_in_a_rush_validation_errors_still_come_back_inline(probe):
    (slow_view, _), (view, _) = await open_probe_forms(probe, 2)
    probe.adapter.submit_budget = 2.0
    probe.cog.delay = 0.6
    typed = {"email": "ana@example.org", "seats": "3", "track": "a"}
    slow = asyncio.create_task(probe.submit(slow_view, {**typed, "title": "slow one"}))
    await in_flight(probe, 1)

    rejected = await probe.submit(view, {**typed, "title": "ab", "email": "nope"})

    assert rejected.elapsed < 0.5 and rejected.json()["response_action"] == "errors"
    assert set(rejected.json()["errors"]) == {"title", "email"}
    await slow
    await probe.idle()
    assert [s[1]["title"] for s in probe.cog.seen if s[0] == "saved"] == ["slow one"]
    assert not probe.fake.calls_to("views.update")  # Slack keeps the modal and what was typed


async def test_a_submission_failing_after_its_acknowledgement_keeps_what_was_typed(probe, monkeypatch):
    view, sent = await open_probe_form(probe)
    probe.adapter.busy_at = 1  # every submission acknowledged at once, as in a rush

    async def broken(user_id: str, fallback_name: str = ""):
        raise RuntimeError("the directory is down")

    monkeypatch.setattr(probe.adapter.directory, "actor", broken)
    typed = {"title": "Lost title?", "email": "ana@example.org", "seats": "3", "track": "a"}
    saving = await probe.submit(view, typed)
    assert saving.json()["response_action"] == "update"
    await probe.idle()
    (again,) = probe.fake.calls_to("views.update")
    assert again.args["view_id"] == view["id"]
    elements = {b["block_id"]: b["element"] for b in again.response["view"]["blocks"] if b["type"] == "input"}
    assert elements["title"]["initial_value"] == "Lost title?"
    assert elements["email"]["initial_value"] == "ana@example.org"
    assert "Nothing you typed is lost" in json.dumps(again.args)
    assert not probe.replies_to(sent)


# -- buttons ------------------------------------------------------------------------------------------------
async def test_buttons_work_after_a_restart(fake_slack, config, clock, tmp_path):
    database, cogs = tmp_path / "kept.sqlite3", [GeneralCog, ProbeCog]
    first = await start_harness(fake_slack, config, clock, database, cogs)
    try:
        posted = await first.reply_to(await first.command("/probe-buttons"))
    finally:
        await stop_harness(first)
    buttons = {e["text"]["text"]: e for e in posted.args["blocks"][-1]["elements"]}
    assert buttons["Press"]["action_id"] == "probe:42" and buttons["Press"]["style"] == "primary"
    assert buttons["Docs"]["url"] == "https://example.org/docs" and "value" not in buttons["Docs"]

    second = await start_harness(fake_slack, config, clock, database, cogs)
    try:
        clicked = await second.click(buttons["Press"], user=ORGANIZER)
        link = await second.click(buttons["Docs"])
        opener = await second.click(buttons["Open form"])
        await second.idle()
        assert clicked.status == link.status == opener.status == 200
        assert clicked.elapsed < ACK_LIMIT
        assert "Pressed 42 for Olu Organizer." in visible_text(await second.reply_to(clicked))
        assert second.replies_to(link) == []  # a link button only opens its page
        opened = await second.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == opener.trigger_id)
        assert FormOrigin.decode(opened.args["view"]["private_metadata"]).state == "from-button-x"
    finally:
        await stop_harness(second)


async def test_a_submission_cut_short_by_a_crash_after_saving_is_finished_on_restart(
    fake_slack, config, clock, tmp_path, monkeypatch
):
    database, cogs = tmp_path / "kept.sqlite3", [GeneralCog, ProbeCog]
    first = await start_harness(fake_slack, config, clock, database, cogs)
    try:
        sent = await first.command("/probe-form")
        opened = await first.fake.wait_for("views.open", lambda c: c.args["trigger_id"] == sent.trigger_id)
        view = opened.response["view"]
        first.adapter.busy_at = 1  # acknowledged with "Saving…" at once, as in a rush
        never = asyncio.Event()

        async def stuck(user_id: str, fallback_name: str = ""):
            await never.wait()  # the process dies before the handler gets anywhere

        monkeypatch.setattr(first.adapter.directory, "actor", stuck)
        typed = {"title": "Saved after all", "email": "ana@example.org", "seats": "2", "track": "b"}
        saving = await first.submit(view, typed)
        assert saving.json()["response_action"] == "update"
        unfinished = first.adapter.pending.unfinished()
        assert [(k, e["values"]["title"]) for k, e in unfinished] == [(view["id"], "Saved after all")]
    finally:
        monkeypatch.setattr(slack_adapter, "SHUTDOWN_GRACE", 0.1)  # the crash: work under way is dropped
        await stop_harness(first)
    assert not [s for s in first.cog.seen if s[0] == "saved"]

    second = await start_harness(fake_slack, config, clock, database, cogs)
    try:
        await second.idle()
        (saved,) = [s for s in second.cog.seen if s[0] == "saved"]
        assert saved[1]["title"] == "Saved after all" and saved[2] == "state-7"
        assert "Saved *Saved after all* for Ana Participant." in visible_text(await second.reply_to(sent))
        done = second.fake.calls_to("views.update")[-1]
        assert done.args["view_id"] == view["id"] and "my answer is in the conversation" in json.dumps(done.args)
        assert second.adapter.pending.unfinished() == []
    finally:
        await stop_harness(second)


def test_the_pending_submissions_file_keeps_only_what_is_unfinished(tmp_path):
    pending = slack_adapter.PendingSubmissions(tmp_path / "bot.sqlite3")
    pending.save("V1", {"values": {"email": "ana@example.org"}})
    pending.save("V2", {"values": {"email": "ben@example.org"}})
    pending.finish("V1")
    assert pending.path.stat().st_mode & 0o777 == 0o600  # what people typed: the bot's user only
    pending.close()
    with pending.path.open("a") as file:
        file.write('{"key": "V3", "ent')  # the crash cut the last line short

    after = slack_adapter.PendingSubmissions(tmp_path / "bot.sqlite3")
    assert after.unfinished() == [("V2", {"values": {"email": "ben@example.org"}})]
    after.save("V4", {"values": {}})  # not swallowed by the line cut short
    assert slack_adapter.PendingSubmissions(tmp_path / "bot.sqlite3").unfinished() == [
        ("V2", {"values": {"email": "ben@example.org"}}),
        ("V4", {"values": {}}),
    ]
    after.finish("V4")
    after.finish("V2")
    assert after.path.read_bytes() == b""  # nothing pending: nothing kept
    assert after.unfinished() == []
    after.close()
    assert slack_adapter.PendingSubmissions(":memory:").unfinished() == []


# -- files --------------------------------------------------------------------------------------------------
async def test_files_use_the_upload_api_joining_or_falling_back_to_a_dm(probe):
    fake = probe.fake
    await probe.command("/probe-file public", channel="general")
    await probe.idle()
    completed = fake.calls_to("files.completeUploadExternal")
    assert fake.methods()[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert completed[0].args["channel_id"] == probe.channels["general"]
    assert fake.files[completed[0].args["files"][0]["id"]]["content"] == b"9:00 welcome\n"

    await probe.command("/probe-file public", channel="random")  # public, but the bot is not in it
    await probe.idle()
    assert fake.calls_to("conversations.join")[0].args["channel"] == probe.channels["random"]
    assert fake.calls_to("files.completeUploadExternal")[-1].args["channel_id"] == probe.channels["random"]

    private = await probe.command("/probe-file private", channel="general")
    await probe.idle()
    dm = fake.calls_to("conversations.open")[-1]
    assert dm.args["users"] == PARTICIPANT
    assert fake.calls_to("files.completeUploadExternal")[-1].args["channel_id"].startswith("D")
    assert "I sent you the file in a direct message" in visible_text(await probe.reply_to(private))


# -- events -------------------------------------------------------------------------------------------------
def message_event(channel: str, text: str, ts: str = "1700000000.000100", **extra) -> dict:
    return {
        "type": "message",
        "channel": channel,
        "user": PARTICIPANT,
        "text": text,
        "ts": ts,
        "channel_type": "channel",
        **extra,
    }


async def test_messages_are_answered_in_thread_once_despite_retries(probe):
    general = probe.channels["general"]
    event = message_event(general, "is this the probe? <!channel>")

    first = await probe.event(event, "Ev0001")
    retried = await probe.event(event, "Ev0001", retry=1)
    twice = await asyncio.gather(
        *(probe.event(message_event(general, "probe? again", ts="2.0"), "Ev0002") for _ in "ab")
    )
    await probe.idle()

    assert first.status == retried.status == 200 and all(s.status == 200 for s in twice)
    assert first.elapsed < ACK_LIMIT
    posts = probe.fake.calls_to("chat.postMessage")
    assert sorted(p.args["thread_ts"] for p in posts) == ["1700000000.000100", "2.0"]
    assert all("Heard you, Ana Participant." in visible_text(p) for p in posts)
    assert [s[1] for s in probe.cog.seen] == ["is this the probe? @channel", "probe? again"]


async def test_bots_edits_and_unrelated_messages_get_no_answer(probe):
    general = probe.channels["general"]
    await probe.event(message_event(general, "probe?", bot_id="B999"), "Ev0010")
    await probe.event(message_event(general, "probe?", subtype="message_changed"), "Ev0011")
    await probe.event(message_event(general, "just chatting"), "Ev0012")
    await probe.event({"type": "reaction_added", "user": PARTICIPANT, "reaction": "+1"}, "Ev0013")
    await probe.idle()
    assert not probe.fake.calls_to("chat.postMessage") and probe.cog.seen == []


async def test_private_answers_are_ephemeral_in_the_thread_and_dms_answer_inline(probe):
    general = probe.channels["general"]
    await probe.event(message_event(general, "whisper?", thread_ts="5.5", ts="5.6"), "Ev0020")
    dm = probe.fake.dm_channel(PARTICIPANT).id
    await probe.event(message_event(dm, "hello", channel_type="im"), "Ev0021")
    await probe.idle()
    ephemeral = probe.fake.calls_to("chat.postEphemeral")[0]
    assert (ephemeral.args["user"], ephemeral.args["thread_ts"]) == (PARTICIPANT, "5.5")
    dm_post = probe.fake.calls_to("chat.postMessage")[0]
    assert dm_post.args["channel"] == dm and "thread_ts" not in dm_post.args


async def test_a_mention_addresses_the_bot_and_places_carry_channel_names(probe):
    general = probe.channels["general"]
    await probe.event(message_event(general, f"<@{FakeSlack.BOT_USER}> where do I start?"), "Ev0030")
    await probe.event(message_event(general, f"<@{FakeSlack.BOT_USER}|bot> and then?", ts="7.1"), "Ev0031")
    await probe.idle()
    heard = [s for s in probe.cog.seen if s[0] == "mentioned"]
    assert [text for _, text, _ in heard] == ["where do I start?", "and then?"]  # the mention is not text
    assert {place.name for _, _, place in heard} == {"general"}  # resolved from the id, once
    assert len(probe.fake.calls_to("conversations.info")) == 1
    assert all("You called?" in visible_text(c) for c in probe.fake.calls_to("chat.postMessage"))
