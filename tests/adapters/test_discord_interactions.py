"""How the Discord adapter renders outcomes: modals, buttons, long replies, files, deferral,
autocomplete, typed options, mentions and plain messages, as members of the fake server see them."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.model import Button, Message
from cogs.general import GeneralCog
from tests.adapters.conftest import ProbeCog

pytestmark = pytest.mark.asyncio(loop_scope="module")
DISCORD_COGS = [GeneralCog, ProbeCog]

INTENT = {
    "Your name": "Ana Lima",
    "Email": "ana@example",  # not an address: the core refuses it
    "Working title of your proposal (a few words)": "Listening first",
    "Summary": "How residents and neighbours co-designed a curriculum.",
    "Type": "workshop",
}


async def test_a_modal_round_trip_keeps_everything_typed(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant

    opened = await fake.slash(ana, "probe form")
    assert opened.modal["title"] == "Proposal intent"
    # A label over 45 characters is cut for Discord and shown whole as the description.
    long_label = "Working title of your proposal (a few words)"
    assert fake_input_labels(opened) == ["Your name", "Email", long_label[:45], "Summary", "Type"]
    assert opened.modal_input("Type")["type"] == 3  # a choice is a select, not free text

    refused = await fake.submit_modal(ana, opened, INTENT)
    assert refused.ephemeral
    assert "Email must be an email address" in refused.text
    assert "everything else you typed is kept" in refused.text

    reopened = await fake.click(ana, refused.message_with("Fix it"), "Fix it")
    assert reopened.modal is not None
    assert reopened.modal_input("Your name")["value"] == "Ana Lima"
    assert reopened.modal_input("Email")["value"] == "ana@example"
    assert reopened.modal_input("Summary")["value"] == INTENT["Summary"]
    assert [o["value"] for o in reopened.modal_input("Type")["options"] if o.get("default")] == ["workshop"]

    # Only the email is retyped; every other input is submitted as pre-filled.
    done = await fake.submit_modal(ana, reopened, {"Email": "ana@example.org"})
    assert done.text == (
        "Thanks Ana Lima: “Listening first” (workshop) from ana@example.org; summary 54 characters; state v1."
    )
    assert done.ephemeral


async def test_a_used_fix_it_button_says_the_form_is_done(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    opened = await fake.slash(ana, "probe form")
    refused = await fake.submit_modal(ana, opened, INTENT)
    fix = refused.message_with("Fix it")
    reopened = await fake.click(ana, fix, "Fix it")
    await fake.submit_modal(ana, reopened, {"Email": "ana@example.org"})

    again = await fake.click(ana, fix, "Fix it")
    assert "already submitted or has expired" in again.text


async def test_a_submission_that_crashes_keeps_what_was_typed_behind_try_again(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    probe = next(c for c in world.app.cogs if isinstance(c, ProbeCog))
    probe.crashes = 1
    opened = await fake.slash(ana, "probe form")
    failed = await fake.submit_modal(ana, opened, {**INTENT, "Email": "ana@example.org"})
    assert failed.ephemeral and failed.text.startswith("Something went wrong on our side (reference ")
    reopened = await fake.click(ana, failed.message_with("Try again"), "Try again")
    assert reopened.modal_input("Your name")["value"] == "Ana Lima"
    assert reopened.modal_input("Summary")["value"] == INTENT["Summary"]
    done = await fake.submit_modal(ana, reopened, {})  # nothing retyped
    assert done.text.startswith("Thanks Ana Lima: “Listening first” (workshop) from ana@example.org")


async def test_two_people_filling_the_same_form_never_share_a_modal(discord_strict):
    world = discord_strict
    fake = world.fake
    first, second = await asyncio.gather(
        fake.slash(world.participant, "probe form"), fake.slash(fake.member("dana"), "probe form")
    )
    assert first.modal["custom_id"] != second.modal["custom_id"]
    assert all(len(x.modal["custom_id"]) <= 100 for x in (first, second))
    values = {**INTENT, "Email": "x@example.org"}
    results = await asyncio.gather(
        fake.submit_modal(world.participant, first, {**values, "Your name": "Ana"}),
        fake.submit_modal(fake.member("dana"), second, {**values, "Your name": "Dana"}),
    )
    assert results[0].text.startswith("Thanks Ana:")
    assert results[1].text.startswith("Thanks Dana:")


async def test_a_form_of_seven_fields_is_filled_in_two_modals(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    first = await fake.slash(ana, "probe big-form")
    assert first.modal["title"] == "Seven questions (1/2)"
    assert len(first.modal["components"]) == 5
    step = await fake.submit_modal(ana, first, {f"Field {x}": x.lower() for x in "ABCDE"})
    assert "Step 1 of 2 saved" in step.text

    second = await fake.click(ana, step.message_with("Continue"), "Continue")
    assert second.modal["title"] == "Seven questions (2/2)"
    assert fake_input_labels(second) == ["Field F", "Field G"]
    refused = await fake.submit_modal(ana, second, {"Field F": "seven", "Field G": "Yes"})
    assert "Field F must be a whole number" in refused.text

    fixed = await fake.click(ana, refused.message_with("Fix it"), "Fix it")
    assert fixed.modal["title"] == "Seven questions (2/2)"
    assert fixed.modal_input("Field F")["value"] == "seven"
    done = await fake.submit_modal(ana, fixed, {"Field F": "7"})
    assert done.text == "Got a,b,c,d,e,7,yes"


async def test_a_button_can_open_a_form(discord_strict):
    world = discord_strict
    fake, ana = world.fake, world.participant
    offered = await fake.slash(ana, "probe later")
    opened = await fake.click(ana, offered.message_with("Fill it in"), "Fill it in")
    assert opened.modal["title"] == "Proposal intent"
    done = await fake.submit_modal(ana, opened, {**INTENT, "Email": "ana@example.org"})
    assert done.text.endswith("state from-button.")


async def test_public_buttons_route_to_the_cog_for_whoever_clicks(discord_strict):
    world = discord_strict
    fake = world.fake
    posted = await fake.slash(world.organizer, "probe buttons")
    assert not posted.ephemeral
    message = posted.message_with("Keynote")
    link = next(c for c in message.components() if c.get("label") == "Guide")
    assert link["style"] == 5 and link["url"] == "https://example.org/guide"

    clicked = await fake.click(fake.member("dana"), message, "Keynote")
    assert clicked.text == "You picked keynote, dana."
    assert clicked.ephemeral


async def test_a_long_reply_is_split_at_line_breaks(discord_strict):
    world = discord_strict
    seen = await world.fake.slash(world.participant, "probe long")
    assert len(seen.messages) == 3
    assert all(len(m.content) <= 2000 for m in seen.messages)
    assert all(m.content.startswith("Line ") for m in seen.messages)
    assert seen.text.count("Line ") == 90
    assert seen.ephemeral


async def test_a_reply_too_long_for_a_few_messages_comes_as_a_file(discord_strict):
    world = discord_strict
    seen = await world.fake.slash(world.participant, "probe huge")
    assert len(seen.messages) == 1
    assert "the full text is in the attached file" in seen.text
    [(name, content, _)] = seen.files
    assert name == "reply.md"
    assert content.decode().count("Row ") == 300


async def test_files_arrive_as_attachments(discord_strict):
    world = discord_strict
    seen = await world.fake.slash(world.participant, "probe file")
    assert seen.text == "Your calendar file."
    assert seen.files == [("agenda.ics", b"BEGIN:VCALENDAR\nEND:VCALENDAR\n", "application/octet-stream")]


@pytest.fixture
def quick_defer(discord_env):
    """Defer after 50 ms, so slow handlers (0.3 s) take the deferred path."""
    shipped = discord_env.bot.defer_after
    discord_env.bot.defer_after = 0.05
    yield discord_env
    discord_env.bot.defer_after = shipped


async def test_slow_work_is_deferred_then_answered_privately(discord_strict, quick_defer):
    seen = await quick_defer.fake.slash(quick_defer.participant, "probe slow")
    assert seen.deferred
    assert seen.text == "Slow but private."
    assert seen.ephemeral


async def test_slow_public_work_replaces_the_thinking_message_with_a_public_one(discord_strict, quick_defer):
    fake = quick_defer.fake
    seen = await fake.slash(quick_defer.participant, "probe slow-public")
    assert seen.deferred
    assert seen.text == "Slow and public."
    assert not seen.ephemeral
    everyone_sees = [m.content for m in fake.messages_in("general")]
    assert everyone_sees[-1] == "Slow and public."


async def test_a_form_that_comes_too_late_for_a_modal_is_offered_as_a_button(discord_strict, quick_defer):
    fake, ana = quick_defer.fake, quick_defer.participant
    seen = await fake.slash(ana, "probe slow-form")
    assert "press the button to fill it in" in seen.text
    opened = await fake.click(ana, seen.message_with("Open the form"), "Open the form")
    assert opened.modal["title"] == "Proposal intent"


@pytest.fixture
def rush(discord_env):
    """As in a rush: every interaction finds others being answered."""
    shipped = discord_env.bot.busy_at
    discord_env.bot.busy_at = 1
    yield discord_env
    discord_env.bot.busy_at = shipped


async def test_in_a_rush_an_answer_that_cannot_be_a_modal_is_deferred_at_once(discord_strict, rush):
    fake, ana = rush.fake, rush.participant
    seen = await fake.slash(ana, "probe echo", {"text": "hello"})
    assert seen.deferred
    assert seen.text == "You said: hello"
    assert not seen.ephemeral
    assert [m.content for m in fake.messages_in("general")][-1] == "You said: hello"
    private = await fake.slash(ana, "probe slow")
    assert private.deferred and private.ephemeral


async def test_in_a_rush_a_command_that_may_open_a_modal_still_opens_it(discord_strict, rush):
    opened = await rush.fake.slash(rush.participant, "probe form")
    assert opened.modal["title"] == "Proposal intent"


async def test_several_at_once_are_each_answered_once(discord_strict):
    world = discord_strict
    fake = world.fake
    people = [fake.member(name) for name in ("ana", "dana", "olu")]
    seen = await asyncio.gather(*(fake.slash(p, "probe echo", {"text": f"hi {n}"}) for n, p in enumerate(people)))
    assert sorted(s.text for s in seen) == ["You said: hi 0", "You said: hi 1", "You said: hi 2"]
    assert world.bot._answering == 0


async def test_user_text_never_pings_anyone(discord_strict):
    world = discord_strict
    fake = world.fake
    dana = fake.member("dana")["user"]["id"]
    organizers = fake.role("Organizer")["id"]
    seen = await fake.slash(world.participant, "probe echo", {"text": f"@everyone <@{dana}> <@&{organizers}>"})
    [message] = seen.messages
    assert "@everyone" in message.content
    assert not message.pinged


async def test_typed_options_arrive_typed(discord_strict):
    world = discord_strict
    fake = world.fake
    dana = fake.member("dana")
    help_channel = fake.channel("help")
    seen = await fake.slash(
        world.participant,
        "probe typed",
        {"count": 3, "who": "dana", "where": "help", "kind": "poster", "when": "2023-06-30 17:00"},
    )
    assert seen.text == (
        f"count=3 who={dana['user']['id']}/dana where={help_channel['id']}/help kind=poster "
        "when=2023-06-30T17:00:00-04:00"
    )


async def test_the_registered_command_carries_types_ranges_and_choices(discord_strict):
    world = discord_strict
    group = world.fake.command("probe typed")
    typed = next(o for o in group["options"] if o["name"] == "typed")
    options = {o["name"]: o for o in typed["options"]}
    assert options["count"]["type"] == 4
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (1, 10)
    assert options["who"]["type"] == 6
    assert options["where"]["type"] == 7
    assert [c["value"] for c in options["kind"]["choices"]] == ["talk", "poster"]
    assert options["when"]["type"] == 3 and not options["when"]["required"]
    with pytest.raises(ValueError, match="above the maximum"):
        await world.fake.slash(
            world.participant, "probe typed", {"count": 11, "who": "dana", "where": "help", "kind": "talk"}
        )


async def test_autocomplete_offers_at_most_25_choices(discord_strict):
    world = discord_strict
    choices = await world.fake.autocomplete(world.participant, "probe pick", "item", "")
    assert len(choices) == 25
    assert choices[0] == {"name": "Item 0", "value": "item-0"}
    narrowed = await world.fake.autocomplete(world.participant, "probe pick", "item", "3")
    assert [c["value"] for c in narrowed] == [
        "item-3",
        "item-13",
        "item-23",
        "item-30",
        "item-31",
        "item-32",
        "item-33",
        "item-34",
        "item-35",
        "item-36",
        "item-37",
        "item-38",
        "item-39",
    ]


async def test_a_mention_reaches_listeners_and_is_answered_in_the_channel(discord_strict):
    world = discord_strict
    fake = world.fake
    asked = await fake.say(world.participant, "help", f"<@{fake.app_id}> where is it held?")
    answer = await fake.wait_for_message("help", lambda m: m.payload.get("message_reference") is not None)
    assert answer.content == "The conference is online; see /about. @everyone"
    assert answer.payload["message_reference"]["message_id"] == str(asked.id)
    assert not answer.pinged


async def test_messages_not_meant_for_the_bot_are_not_read(discord_strict):
    world = discord_strict
    fake = world.fake
    before = len(fake.messages_in("help"))
    await fake.say(world.participant, "help", "where do I register?")  # no mention: no text delivered
    await asyncio.sleep(0.1)
    assert len(fake.messages_in("help")) == before + 1


def fake_input_labels(exchange) -> list[str]:
    return [c["label"] for c in exchange.modal["components"]]


async def test_organizer_commands_are_hidden_and_refused_to_participants(discord_strict):
    world = discord_strict
    fake = world.fake
    assert "organize" not in fake.visible_commands(world.participant)
    assert "organize" in fake.visible_commands(world.organizer)
    assert fake.command("organize")["default_member_permissions"] == str(1 << 33)  # Manage Events

    # Even if a server admin grants the command to everyone, the bot refuses non-organizers.
    refused = await fake.slash(world.participant, "organize", override_permissions=True)
    assert refused.text.startswith("Sorry, only organizers can use /organize.")
    assert refused.ephemeral
    allowed = await fake.slash(world.organizer, "organize")
    assert allowed.text == "Organizer tools ready."


async def test_help_hides_organizer_commands_from_participants(discord_strict):
    world = discord_strict
    participant_help = await world.fake.slash(world.participant, "help")
    organizer_help = await world.fake.slash(world.organizer, "help")
    assert "/organize" not in participant_help.text
    assert "**/organize**: Organizer tools (organizers)" in organizer_help.text


async def test_organizers_keep_their_role_in_direct_messages(discord_strict):
    world = discord_strict
    fake, port = world.fake, world.bot.port
    message = Message("Staff tools:", buttons=(Button("probe-staff:door", "Open"),))
    for name in ("olu", "dana"):
        await port.dm(fake.member(name)["user"]["id"], message)
    olu_dm = fake.messages_in(fake.channel_dm(fake.member("olu")))[-1]
    dana_dm = fake.messages_in(fake.channel_dm(fake.member("dana")))[-1]

    assert (await fake.click("olu", olu_dm, "Open")).text == "Staff only: door."
    refused = await fake.click("dana", dana_dm, "Open")
    assert refused.text.startswith("Sorry, only organizers can use that button.")


async def test_a_direct_message_counts_as_addressing_the_bot(discord_strict):
    world = discord_strict
    fake, port = world.fake, world.bot.port
    dana = fake.member("dana")
    await port.dm(dana["user"]["id"], Message("Hello from the conference bot."))
    dm = fake.channel_dm(dana)
    await fake.say(dana, dm, "where is the conference?")
    answer = await fake.wait_for_message(dm, lambda m: m.content.startswith("The conference is online"))
    assert answer.payload["message_reference"]["channel_id"] == dm["id"]
