"""A whole conference, May to October, on Slack, Discord and the console at once.

One app (one database, one ledger, one clock) serves the real Slack adapter (HTTP mode, on the fake
Slack), the real discord.py client (logged in to the fake Discord) and the console (in process, on
StringIO), as `python -m bot run` serves every connected platform. The clock is frozen and moved to
each instant that matters; the timer is woken after each move, as the console's `:advance` does.

People ask the FAQ (one question is forwarded and answered), record and edit intents, get every
deadline reminder and nudge, are refused after the deadline, read an announcement, join circles,
attend every session (starting post, Q&A thread, closing note), ask in a thread, join a coalition
and report something; organizers set the event up, archive it and read the summary. At the end every
message each platform received is classified, counted per kind and checked for duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import re
from collections import Counter
from typing import Any

import aiohttp
import discord
import pytest

from bot.adapters import console as console_module
from bot.adapters.console import Console, ConsolePort
from bot.adapters.discord import REQUIRED_PERMISSIONS, DiscordBot
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack_port import Pacer
from bot.app import App
from bot.core.clock import Clock
from bot.core.model import Message, Place
from cogs.event.program import load_program
from storage.db import Database
from tests.adapters.slack_fixtures import (
    ORGANIZER,
    PARTICIPANT,
    SIGNING_SECRET,
    Harness,
    seed,
    slack_config,
    visible_text,
)
from tests.adapters.test_slack_proposals import GOOD, opened_modal
from tests.e2e.support import marker
from tests.fakes.discord_server import MANAGE_EVENTS, FakeDiscord
from tests.fakes.slack_server import FakeSlack

TOKEN = "fake-discord-token-for-the-conference"
BEN, CY = "UBEN00001", "UCYCL0001"
MAY_1 = dt.datetime(2023, 5, 1, 13, 0, tzinfo=dt.UTC)  # 9 am in New York
IGUANA = "can I bring my pet iguana to the zoom call"
ANNOUNCEMENT = "Registration is open! The program is on the conference page."

# What each kind of message starts with (Slack's mrkdwn and escapes undone), in the order tried.
KINDS = [
    ("deadline", r"^(📣 Proposals for|⏳ \d+ days left|🚨 Last call|The proposal deadline for)"),
    ("nudge", r"^⏰ Your proposal intent"),
    ("intent-new", r"^New proposal intent( #\d+: |s, \d+ at once:)"),
    ("faq-forward", r"^Question #1 from dana \(discord\)"),
    ("faq-reply", r"^The organizers answered your question #1"),
    ("announcement", "^" + re.escape(ANNOUNCEMENT)),
    ("circle-warning", r"^🔄 A coalition circles round"),
    ("circle-round", r"^👋 Your coalition circle \(round #1\)"),
    ("circle-followup", r"^Did your coalition circle \(round #1\) get to meet\?"),
    ("welcome", r"^👋 Welcome to #"),
    ("session-start", r"^🔔 Starting "),
    ("qa-thread", r"Q&A for "),
    ("session-end", r"^Thank you for joining "),
    ("question", r"^❓ "),
    ("coalition-intro", r"^Curriculum reform: Rewriting"),
    ("coalition-welcome", r"^👋 Welcome, .+, to Curriculum reform!"),
    ("report", r"^🛡️ Report #1 from Rae \(console\)"),
    ("report-reply", r"^🛡️ The organizers answered your report #1"),
]
SESSIONS = 11
AREA_CHANNELS = ["undergraduate-medical-education", "graduate-medical-education", "medical-education-and-the-community"]
EXPECTED = {  # kind: (Slack, Discord, console)
    "deadline": (7, 7, 7),  # 30d, 14d, 7d, 3d, 1d, 6h, passed: in #announcements
    "nudge": (3, 3, 3),  # 7d, 2d, 12h to the one person on each platform with an unsubmitted intent
    "intent-new": (6, 6, 6),  # every new intent, to the organizers on every platform
    "faq-forward": (1, 1, 1),
    "faq-reply": (0, 1, 0),  # to the asker, on Discord
    "announcement": (1, 1, 1),
    "circle-warning": (3, 3, 3),
    "circle-round": (1, 1, 3),  # a group DM, a private thread, one DM each (the console has no groups)
    "circle-followup": (3, 3, 3),
    "welcome": (4, 4, 4),  # #lobby and the three area channels setup created
    "session-start": (SESSIONS,) * 3,
    "qa-thread": (SESSIONS,) * 3,
    "session-end": (SESSIONS,) * 3,
    "question": (1, 1, 1),
    "coalition-intro": (1, 1, 1),
    "coalition-welcome": (1, 1, 1),
    "report": (1, 1, 1),
    "report-reply": (0, 0, 1),  # to the reporter, on the console
}


def kind_of(text: str) -> str:
    plain = text.replace("**", "").replace("*", "").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    for kind, pattern in KINDS:
        if re.search(pattern, plain):
            return kind
    return f"other: {plain[:60]!r}"


# -- the console, recording what its port sends -------------------------------------------------------------
class RecordingConsolePort(ConsolePort):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[str, Message]] = []  # (where, message)

    async def post(self, place: Place, message: Message):
        self.sent.append((self._label(place), message))
        return await super().post(place, message)

    async def dm(self, user_id: str, message: Message):
        self.sent.append((f"DM {user_id}", message))
        return await super().dm(user_id, message)

    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        self.sent.append((f"{self._label(place)} › {name}", message))
        return await super().create_thread(place, name, message)


# -- the fake Discord server -------------------------------------------------------------------------------
def discord_guild() -> FakeDiscord:
    fake = FakeDiscord(token=TOKEN, guild_name="Challenging Norms", bot_permissions=REQUIRED_PERMISSIONS.value)
    fake.add_role("Organizer", permissions=MANAGE_EVENTS, position=2)
    fake.add_role("Announcements", position=1)
    for name in ("ana", "dana", "eve"):
        fake.add_member(name)
    fake.add_member("olu", roles=["Organizer"])
    fake.add_channel("Conference", type=4)
    for name in ("general", "help", "announcements"):
        fake.add_channel(name, parent="Conference")
    fake.add_channel("organizers", parent="Conference", private=True)
    return fake


class Conference:
    def __init__(self, app: App, slack: Harness, discord_fake: FakeDiscord, console: Console, out: io.StringIO):
        self.app, self.slack, self.discord, self.console, self.out = app, slack, discord_fake, console, out

    # -- time --------------------------------------------------------------------------------------------
    async def at(self, when: dt.datetime) -> None:
        self.app.clock.advance(when - self.app.clock.now())
        await self.app.timer.wake()
        await self.slack.idle()

    # -- Slack -------------------------------------------------------------------------------------------
    async def on_slack(self, line: str, user: str = PARTICIPANT, channel: str = "general") -> str:
        sent = await self.slack.command(line, user=user, channel=channel)
        assert sent.status == 200 and sent.text == "", sent.text
        await self.slack.idle()
        return visible_text(await self.slack.reply_to(sent, within=15))

    async def slack_form(self, line: str, values: dict[str, Any], user: str = PARTICIPANT) -> str:
        sent = await self.slack.command(line, user=user)
        view = await opened_modal(self.slack, sent)
        accepted = await self.slack.submit(view, values, user=user)
        assert (accepted.status, accepted.text) == (200, ""), accepted.text
        await self.slack.idle()
        return visible_text(await self.slack.reply_to(sent))

    # -- Discord -----------------------------------------------------------------------------------------
    async def on_discord(self, member: str, name: str, options: dict | None = None) -> Any:
        return await self.discord.slash(member, name, options)

    async def discord_propose(self, member: str, title: str, opened: Any = None) -> str:
        fake = self.discord
        opened = opened or await fake.slash(member, "propose")
        first = {
            "Submission type": "Poster abstract",
            "Area": "Undergraduate medical education",
            "Working title": title,
            "Short description": "How residents and neighbours co-designed a curriculum together.",
        }
        step = await fake.submit_modal(member, opened, first)
        second = await fake.click(member, step.message_with("Continue"), "Continue")
        return (await fake.submit_modal(member, second, {"Contact email": f"{member}@example.org"})).text

    # -- the console -------------------------------------------------------------------------------------
    async def on_console(self, *lines: str) -> str:
        start = len(self.out.getvalue())
        for line in lines:
            await self.console.handle(line)
        return self.out.getvalue()[start:]


@contextlib.asynccontextmanager
async def conference(tmp_path, config):
    saved = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    fake_slack = await FakeSlack().start()
    seed(fake_slack)
    fake_slack.channel_rate = None  # every session posts twice in a channel within a second of real time
    for user, name in ((BEN, "Ben Other"), (CY, "Cy Circle")):
        fake_slack.add_user(user, name)
        fake_slack.channel_named("general").members.add(user)
    fake_slack.add_channel("announcements", members=(PARTICIPANT, ORGANIZER, BEN, CY))
    fake_discord = await discord_guild().start()
    configured = slack_config(config).model_copy(
        update={
            "discord": config.discord.model_copy(update={"guild_id": fake_discord.guild_id}),
            "delivery": config.delivery.model_copy(update={"slack_rate": 50}),
        }
    )
    db = await Database.open(tmp_path / "bot.sqlite3")
    app = App(configured, db, Clock.frozen(MAY_1))
    session = aiohttp.ClientSession()
    adapter = SlackAdapter(
        app, token=FakeSlack.BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake_slack.api_url, pacer=Pacer(0.0)
    )
    bot = task = None
    try:
        port = await adapter.start_http("127.0.0.1", 0)
        channels = {c.name: c.id for c in fake_slack.channels.values() if c.name}
        slack = Harness(fake_slack, app, adapter, f"http://127.0.0.1:{port}/slack/events", session, channels)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DISCORD_API_URL", fake_discord.api_url)
            env.setenv("DISCORD_GATEWAY_URL", fake_discord.gateway_url)
            bot = DiscordBot(app, guild_ready_timeout=0.05, max_messages=None)
        task = asyncio.create_task(bot.start(TOKEN))
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(console_module, "ConsolePort", RecordingConsolePort)
            console = Console(app, user="Rae", channel="general", stdin=io.StringIO(), stdout=out)
        await app.start_timer()  # as the runtime does once every platform is connected
        yield Conference(app, slack, fake_discord, console, out)
    finally:
        if bot is not None:
            await bot.close()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await adapter.close()
        await session.close()
        await app.close()
        await fake_discord.close()
        await fake_slack.close()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


# -- what each platform received ---------------------------------------------------------------------------
def slack_messages(fake: FakeSlack) -> list[tuple[str, dict]]:
    """(channel name or id, message) for every message the bot posted."""
    return [(c.name or c.id, m) for c in fake.channels.values() for m in c.messages if m.get("bot_id")]


def discord_messages(fake: FakeDiscord) -> list[tuple[str, Any]]:
    """(channel name, message) for every message the bot sent itself (not interaction replies)."""
    found = []
    for message in fake.messages.values():
        if message.deleted or message.interaction_id is not None:
            continue
        if int(message.payload["author"]["id"]) != fake.app_id:
            continue
        channel = fake.channels.get(message.channel_id, {})
        found.append((channel.get("name") or f"DM {channel.get('recipients', [{}])[0].get('username')}", message))
    return found


async def test_a_whole_conference_on_slack_discord_and_the_console(tmp_path, config):
    async with conference(tmp_path, config) as c:
        await run_the_conference(c)
        await check_what_everyone_received(c)


async def run_the_conference(c: Conference) -> None:
    app, fake_discord = c.app, c.discord

    # -- May 1: questions -------------------------------------------------------------------------------
    assert "the conference is free" in await c.on_slack("/faq is it free to attend")
    cost = await c.on_discord("dana", "faq ask", {"question": "How much does it cost?"})
    assert "the conference is free" in cost.text
    assert "the conference is free" in await c.on_console("/faq is it free to attend")
    asked = await c.on_discord("dana", "faq ask", {"question": IGUANA})
    forwarded = await fake_discord.click("dana", asked.message_with("Ask the organizers"), "Ask the organizers")
    assert "Sent to the organizers as question #1." in forwarded.text
    answer = await c.on_slack("/faq reply 1 Please leave the iguana at home.", user=ORGANIZER, channel="organizers")
    assert "Sent your answer to dana privately" in answer

    # -- May 2: intents, edits, done, opted out ----------------------------------------------------------
    await c.at(MAY_1 + dt.timedelta(days=1))
    assert "Intent #1 recorded" in await c.slack_form("/propose", GOOD)
    assert "Intent #2 recorded" in await c.slack_form("/propose", GOOD | {"title": "Ben on belonging"}, user=BEN)
    assert "Intent #3 recorded" in await c.discord_propose("dana", "Listening to patients first")
    assert "Intent #4 recorded" in await c.discord_propose("eve", "Curriculum as care")
    typed = 'type=poster area=ume description="Stories from our neighbours, and what they taught us."'
    rae = await c.on_console(f'/propose title="Neighbours teach" {typed} email=rae@example.org')
    sam = await c.on_console(":as Sam", f'/propose title="Sam on mentoring" {typed} email=sam@example.org')
    assert "Intent #5 recorded" in rae and "Intent #6 recorded" in sam
    assert "Intent #1 updated" in await c.slack_form("/proposals edit 1", GOOD | {"title": "Our pilot, revised"})
    edit = await c.on_discord("dana", "proposals edit", {"id": 3})
    assert "Intent #3 updated" in await c.discord_propose("dana", "Listening to patients, first", opened=edit)
    assert "Intent #5 updated" in await c.on_console(
        ":as Rae", f'/proposals edit 5 title="Neighbours teach us" {typed}'
    )
    assert "marked submitted" in await c.on_slack("/proposals submitted 2", user=BEN)
    assert "marked submitted" in (await c.on_discord("eve", "proposals submitted", {"id": 4})).text
    assert "no more private deadline reminders" in await c.on_console(":as Sam", "/reminders off")

    # -- every deadline reminder and nudge, then the deadline refusal ------------------------------------
    planned = [o for o in await app.deliveries.occurrences() if o.what in ("deadline", "nudge")]
    assert len(planned) == 7 + 3
    for due in sorted({o.due_at for o in planned}):
        await c.at(due)
    after = app.config.deadline + dt.timedelta(days=1)
    await c.at(after)
    assert "Proposal intake closed at the deadline" in await c.on_slack("/propose", user=CY)
    assert "Proposal intake closed at the deadline" in (await c.on_discord("ana", "propose")).text
    assert "Proposal intake closed at the deadline" in await c.on_console(":as Tom", "/propose")

    # -- September 1: an announcement to every platform ---------------------------------------------------
    await c.at(dt.datetime(2023, 9, 1, 13, 0, tzinfo=dt.UTC))
    opened = await c.on_discord("olu", "announce new")
    preview = await fake_discord.submit_modal("olu", opened, {"Announcement": ANNOUNCEMENT})
    assert "**To:** Slack #announcements, Discord #announcements, Console #announcements" in preview.text
    report = await fake_discord.click("olu", preview.message_with("Send"), "Send")
    assert report.text.startswith("Announcement #1:")
    assert sorted(line.split(":")[0] for line in report.text.splitlines()[1:]) == [
        "- ✅ Console #announcements",
        "- ✅ Discord #announcements",
        "- ✅ Slack #announcements",
    ], report.text

    # -- October 1: a circles round, three people on each platform ----------------------------------------
    await c.at(dt.datetime(2023, 10, 1, 13, 0, tzinfo=dt.UTC))
    for user, role in ((PARTICIPANT, "medical student"), (BEN, "faculty"), (CY, "house staff")):
        values = {"role": role, "areas": "all", "institution": "Sinai", "timezone": ""}
        assert "You're in!" in await c.slack_form("/circles join", values, user=user)
    for member, role in (("ana", "Medical student"), ("dana", "Faculty"), ("eve", "House staff")):
        opened = await c.on_discord(member, "circles join")
        done = await fake_discord.submit_modal(member, opened, {"Your role": role})
        assert done.text.startswith("You're in!")
    for person, role in (("Rae", "medical student"), ("Sam", "faculty"), ("Tom", "house staff")):
        assert "You're in!" in await c.on_console(f":as {person}", f'/circles join role="{role}" areas=all')
    matched = await c.on_console(":as Olu organizer", "/circles match")
    assert "Round #1 is announced" in matched and "9 member(s) were told" in matched
    round_at = app.clock.now() + dt.timedelta(hours=24)
    await c.at(round_at)
    await c.at(round_at + dt.timedelta(days=7))  # the follow-up

    # -- October 12: the event's channels ------------------------------------------------------------------
    await c.at(dt.datetime(2023, 10, 12, 16, 0, tzinfo=dt.UTC))
    setup = await c.on_slack("/event setup", user=ORGANIZER, channel="organizers")
    for platform in ("Slack", "Discord", "Console"):
        assert f"{platform}:" in setup
    assert "created #lobby" in setup and "adopted the existing #announcements" in setup
    assert "created #coalitions" in setup and "stopped" not in setup and "could not" not in setup

    # -- October 13 and 14: every session -----------------------------------------------------------------
    lead = dt.timedelta(minutes=app.config.event.lead_minutes)
    program = load_program(app.config)
    assert len(program) == SESSIONS
    for session in program:
        await c.at(session.start - lead)
        if session.id == "opening":  # a question in each platform's Q&A thread
            assert "Posted in the Q&amp;A thread" in await c.on_slack("/ask opening Where do I start?")
            asked = await c.on_discord("dana", "ask", {"session": "opening", "question": "Is it recorded?"})
            assert "Posted in the Q&A thread" in asked.text
            assert "Posted in the Q&A thread" in await c.on_console(":as Rae", "/ask opening Can I share slides?")
        if session.id == "coalitions-day1":  # coalition time: one join on each platform
            assert "You joined" in await c.on_slack("/coalition join Curriculum reform", user=BEN)
            assert "You joined" in (await c.on_discord("dana", "coalition join", {"name": "Curriculum reform"})).text
            assert "You joined" in await c.on_console(":as Tom", "/coalition join Curriculum reform")
            reported = await c.on_console(":as Rae", "/report Someone keeps messaging me after I said stop")
            assert "Your report is #1" in reported
            relayed = await c.on_slack("/report reply 1 Thank you, we are on it.", user=ORGANIZER, channel="organizers")
            assert "Sent privately to the reporter of #1" in relayed
        await c.at(session.end)

    # -- October 15: the summary, then the archive ---------------------------------------------------------
    await c.at(dt.datetime(2023, 10, 15, 14, 0, tzinfo=dt.UTC))
    summary = await c.on_slack("/event summary", user=ORGANIZER, channel="organizers")
    assert "Opening keynote: Challenging norms together: 3" in summary  # one question per platform
    assert "Curriculum reform: 3" in summary
    archived = (await c.on_discord("olu", "event archive")).text
    sections = re.split(r"^(Slack|Discord|Console):$", archived, flags=re.MULTILINE)[1:]
    done = {
        platform: set(lines.strip().splitlines()) for platform, lines in zip(sections[::2], sections[1::2], strict=True)
    }
    assert list(done) == ["Slack", "Discord", "Console"], archived
    for platform, lines in done.items():
        made = ["lobby", *AREA_CHANNELS] + (["coalitions"] if platform == "Discord" else [])
        assert {f"- archived #{name}" for name in made} <= lines, (platform, lines)
        assert {
            "- left #announcements open: it existed before the event setup",
            "- left #help open: it existed before the event setup",
        } <= lines
        assert not any("could not" in line for line in lines), lines


async def check_what_everyone_received(c: Conference) -> None:
    fake_slack, fake_discord = c.slack.fake, c.discord
    slack = [(where, m["text"], marker(m)) for where, m in slack_messages(fake_slack)]
    discord_ = [(where, m.content, m.payload.get("nonce") or "") for where, m in discord_messages(fake_discord)]
    console = [(where, m.text, m.dedupe_key or "") for where, m in c.console.port.sent]
    received = {"Slack": slack, "Discord": discord_, "Console": console}

    for index, (platform, messages) in enumerate(received.items()):
        counted = Counter(kind_of(text) for _, text, _ in messages)
        wanted = {kind: counts[index] for kind, counts in EXPECTED.items() if counts[index]}
        assert counted == wanted, f"{platform}: {counted - Counter(wanted)} extra, {Counter(wanted) - counted} missing"
        # Nothing twice: no two messages carry the same delivery marker (Slack metadata, Discord nonce,
        # the console's dedupe key), and no two in one place say the same (but the 1-day and 6-hour
        # reminders, whose text is the same: "They close <t:…:R>").
        markers = Counter(key for _, _, key in messages if key)
        assert all(n == 1 for n in markers.values()), [k for k, n in markers.items() if n > 1]
        placed = Counter((where, text) for where, text, _ in messages if kind_of(text) != "deadline")
        assert all(n == 1 for n in placed.values()), [k for k, n in placed.items() if n > 1]
        by_kind: dict[str, list[str]] = {}
        for where, text, _ in messages:
            by_kind.setdefault(kind_of(text), []).append(where)
        assert set(by_kind["deadline"]) == {"#announcements" if platform == "Console" else "announcements"}
        assert set(by_kind["announcement"]) == set(by_kind["deadline"])
        assert len(set(by_kind["session-start"])) == 4  # the lobby and the three area channels

    # Key texts, as each platform shows them.
    deadline_texts = [t for _, t, _ in slack if kind_of(t) == "deadline"]
    assert deadline_texts[0].startswith("📣 *Proposals for Challenging Norms are open* until <!date^1688183999^")
    assert deadline_texts[2].startswith("⏳ *7 days left* to propose")
    assert "has passed" in deadline_texts[-1] and not any("late" in t for t in deadline_texts)
    discord_nudges = [t for w, t, _ in discord_ if kind_of(t) == "nudge"]
    assert {w for w, t, _ in discord_ if kind_of(t) == "nudge"} == {"DM dana"}
    assert all("#3 “Listening to patients, first”" in t for t in discord_nudges)  # the edited title
    console_nudges = [(w, t) for w, t, _ in console if kind_of(t) == "nudge"]
    assert {w for w, _ in console_nudges} == {"DM rae"} and all(
        "#5 “Neighbours teach us”" in t for _, t in console_nudges
    )
    slack_nudges = [(w, t) for w, t, _ in slack if kind_of(t) == "nudge"]
    assert {w for w, _ in slack_nudges} == {"D" + PARTICIPANT[1:]}
    assert all("#1 “Our pilot, revised”" in t for _, t in slack_nudges)
    (reply,) = [t for w, t, _ in discord_ if kind_of(t) == "faq-reply"]
    assert IGUANA in reply and "Please leave the iguana at home." in reply
    (group,) = [(w, t) for w, t, _ in slack if kind_of(t) == "circle-round"]
    assert all(name in group[1] for name in ("Ana Participant", "Ben Other", "Cy Circle"))
    (thread,) = [t for w, t, _ in discord_ if kind_of(t) == "circle-round"]
    assert all(f"- {name}:" in thread for name in ("ana", "dana", "eve"))
    (relayed,) = [(w, t) for w, t, _ in console if kind_of(t) == "report-reply"]
    assert relayed[0] == "DM rae" and "Thank you, we are on it." in relayed[1]
    questions = sorted(t for _, t, _ in slack + discord_ + console if kind_of(t) == "question")
    assert [q.split(":", 1)[0] for q in questions] == ["❓ **Rae asks", "❓ **dana asks", "❓ *Ana Participant asks"]

    # The ledger: every scheduled message settled, none pending, mid-send or failed.
    rows = await c.app.db.fetchall("SELECT what, platform, status FROM deliveries")
    assert {r["status"] for r in rows} == {"sent"}, Counter((r["what"], r["status"]) for r in rows)
    ledgered = {"deadline": 7, "nudge": 3, "announcement": 1, "circle-warning": 3, "circle-round": 1}
    ledgered |= {"circle-followup": 3, "session-start": SESSIONS, "session-end": SESSIONS}
    for platform in ("slack", "discord", "console"):
        assert Counter(r["what"] for r in rows if r["platform"] == platform) == ledgered, platform
    assert (await c.app.db.fetchone("PRAGMA integrity_check"))[0] == "ok"
