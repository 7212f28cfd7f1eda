"""The Slack adapter: slack-bolt's AsyncApp in HTTP mode or Socket Mode, translating to the core.

Every request is acknowledged first and worked on afterwards (Slack allows 3 s): slash commands and
button clicks become `Dispatcher.run_command` / `click`, modal submissions `submit`, and plain
messages `message`. A submission is the one case that may wait before acknowledging, because
errors travel in the acknowledgement: the form's validation (cheap) is checked first and answered
at once; then the handler gets a short budget, or none when other submissions are in flight (a
rush), before a "Saving…" view acknowledges it and `views.update` shows the outcome. A submission
acknowledged that way is first written down (`PendingSubmissions`), so one cut short by a crash is
finished when the bot starts again: what was acknowledged is stored.
Replies, modals and files are rendered by `slack_replies`/`slack_blocks`; side effects go through
`SlackPort`. No business rule lives here.

Environment: SLACK_BOT_TOKEN plus SLACK_SIGNING_SECRET (HTTP mode, on config.slack.port or
SLACK_PORT, host SLACK_HOST) or SLACK_APP_TOKEN (Socket Mode); SLACK_API_URL replaces the Web API
base URL (a proxy, or the fake in tests); SLACK_PUBLIC_URL puts request URLs in the manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.adapters.slack_blocks import (
    FORM_CALLBACK,
    LINK_ACTION,
    FormOrigin,
    form_values,
    notice_view,
    slack_errors,
)
from bot.adapters.slack_manifest import EVENTS_PATH, build_manifest
from bot.adapters.slack_people import Directory
from bot.adapters.slack_port import Pacer, SlackPort, web_client
from bot.adapters.slack_replies import Origin, Replier
from bot.adapters.slack_text import from_slack, to_mrkdwn
from bot.core.dispatch import UsageError, parse_option_text, resolve_command, usage
from bot.core.forms import validate_form
from bot.core.model import Actor, Form, FormErrors, Outcome, Place, PlaceKind, Platform, Reply
from bot.core.registry import may_return_form
from bot.secrets import secret
from storage import seen_events

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
# A submission waits this long (from receipt) for its handler before acknowledging with a
# "Saving…" view, so the acknowledgement always beats Slack's 3 s.
SUBMIT_BUDGET = 0.5  # bolt's own clock starts earlier than ours when the loop is busy
# Submissions in flight at once (this one included) from which one is acknowledged with the
# "Saving…" view at once, without waiting for its handler (a rush: waiting would only add up).
BUSY_AT = 2
# Slack applies the acknowledgement's view when our HTTP answer reaches it; a views.update sent
# sooner could be overwritten by the "Saving…" view, so the update waits at least this long.
ACK_SETTLE = 0.3
SHUTDOWN_GRACE = 10.0
SORRY = "Something went wrong on our side. Nothing you typed is lost: please try again."
# Messages the bot answers: people's plain messages, including shared to channel and with files.
_MESSAGE_SUBTYPES = (None, "thread_broadcast", "file_share")


# -- the runtime's interface ---------------------------------------------------------------------
def credentials_present() -> bool:
    return bool(secret("SLACK_BOT_TOKEN") and (secret("SLACK_SIGNING_SECRET") or secret("SLACK_APP_TOKEN")))


def manifest(config, registry) -> dict:
    """The app manifest for `python -m bot slack-manifest` (Socket Mode unless SLACK_PUBLIC_URL)."""
    return build_manifest(config, registry, public_url=os.environ.get("SLACK_PUBLIC_URL", "").strip())


def api_url() -> str:
    url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def http_port(config) -> int:
    text = os.environ.get("SLACK_PORT", "").strip()
    if not text:
        return config.slack.port
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"SLACK_PORT must be a port number, not {text!r}") from None


async def serve(app) -> None:
    """Serve Slack until cancelled: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode."""
    adapter = SlackAdapter(
        app, token=secret("SLACK_BOT_TOKEN"), signing_secret=secret("SLACK_SIGNING_SECRET"), api_url=api_url()
    )
    try:
        await adapter.check_credentials(secret("SLACK_APP_TOKEN"))
        if secret("SLACK_APP_TOKEN"):
            await adapter.start_socket_mode(secret("SLACK_APP_TOKEN"))
        else:
            host = os.environ.get("SLACK_HOST", "").strip() or "0.0.0.0"
            await adapter.start_http(host, http_port(app.config))
        await asyncio.Event().wait()  # until the runtime cancels us
    finally:
        await adapter.close()


# -- the adapter -------------------------------------------------------------------------------------
class RecentIds:
    """Event ids seen lately. Slack redelivers an event (with X-Slack-Retry-Num) when an
    acknowledgement is slow or lost, within minutes; a second delivery must not act twice.
    This is the quick check, in memory; an event about to be answered is also looked up in the
    database (`storage.seen_events`), so a retry arriving across a restart is caught too."""

    def __init__(self, ttl: float = 3600.0, limit: int = 20000):
        self.ttl, self.limit = ttl, limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str | None) -> bool:
        if not key:
            return True
        now = time.monotonic()
        while self._seen and (len(self._seen) >= self.limit or now - next(iter(self._seen.values())) > self.ttl):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


class PendingSubmissions:
    """Submissions acknowledged with "Saving…" whose handler has not finished: noted before the
    acknowledgement, crossed off once the handler has returned, so a restart finishes what a crash
    cut short (at worst the handler runs twice, for a crash in between).

    The notes are lines appended to a file next to the database (`<database>.slack-pending`, owner
    only), not rows in it: in a rush every acknowledgement waits for its note, and a database write
    would queue behind everyone's handlers (measured: it undid the fast acknowledgement). An append
    survives the process being killed; the file is emptied whenever nothing is pending, so what
    people typed (emails included) is kept no longer than finishing it needs."""

    SUFFIX = ".slack-pending"

    def __init__(self, database_path: str | os.PathLike):
        in_memory = str(database_path) == ":memory:"
        self.path = None if in_memory else Path(f"{database_path}{self.SUFFIX}")
        self._fd: int | None = None
        self._open: set[str] = set()  # keys noted and not crossed off

    def _file(self) -> int | None:
        if self.path is not None and self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return self._fd

    def _append(self, record: dict[str, Any]) -> None:
        fd = self._file()
        if fd is not None:
            os.write(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode())

    def save(self, key: str, entry: dict[str, Any]) -> None:
        self._append({"key": key, "entry": entry})
        self._open.add(key)

    def finish(self, key: str) -> None:
        self._open.discard(key)
        if self._open:
            self._append({"key": key, "done": True})
        else:
            self._clear()  # nothing pending: nothing kept

    def unfinished(self) -> list[tuple[str, dict[str, Any]]]:
        """What the file holds that was never crossed off (after a crash); these count as pending."""
        if self.path is None or not self.path.exists():
            return []
        found: dict[str, dict[str, Any]] = {}
        for line in self.path.read_text("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                key = str(record["key"])
            except (ValueError, KeyError, TypeError):  # a line cut short by the crash
                log.warning("skipping an unreadable line of %s", self.path.name)
                continue
            if record.get("done"):
                found.pop(key, None)
            elif isinstance(record.get("entry"), dict):
                found[key] = record["entry"]
        self._open.update(found)
        self._clear()  # and written again whole: a line cut short must not swallow the next one
        for key, entry in found.items():
            self._append({"key": key, "entry": entry})
        return list(found.items())

    def _clear(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
        elif self.path is not None and self.path.exists():
            self.path.write_bytes(b"")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def _bolt_environment_hidden() -> Iterator[None]:
    """AsyncApp reads settings from the environment by itself: with SLACK_CLIENT_ID and
    SLACK_CLIENT_SECRET it switches to multi-workspace OAuth (this bot is single-workspace, with a
    bot token), and with SLACK_BOT_TOKEN it warns that the client's token wins (it is the same one).
    Construction is synchronous, so no other task can observe the variables missing."""
    names = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_BOT_TOKEN")
    saved = {k: os.environ.pop(k) for k in names if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class SlackAdapter:
    """Create inside a running event loop; `close()` when done."""

    def __init__(
        self,
        app,
        *,
        token: str,
        signing_secret: str = "",
        api_url: str = DEFAULT_API_URL,
        pacer: Pacer | None = None,
    ):
        self.app = app
        self.signing_secret = signing_secret
        self.session = aiohttp.ClientSession()
        self.client = web_client(token, api_url, self.session)
        # Channels found by name are kept by the app's clock: a rehearsal moving it on sees new ones.
        self.port = SlackPort(self.client, self.render, pacer, clock=lambda: app.clock.now().timestamp())
        self.directory = Directory(self.client, app.config.slack)
        self.replier = Replier(self.client, self.port, self.render, self.session, app.config.zone)
        self.events = RecentIds()
        self.submit_budget = SUBMIT_BUDGET
        self.busy_at = BUSY_AT
        self._submitting = 0  # submissions whose handler is running
        self.pending = PendingSubmissions(app.db.path)
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        with _bolt_environment_hidden():
            # Socket Mode requests are not signed; bolt skips verification for them.
            self.bolt = AsyncApp(client=self.client, signing_secret=signing_secret, name="conference-bot")
        self._register()

    def render(self, text: str) -> str:
        return to_mrkdwn(text, self.app.config.zone, self.app.clock.now())

    def _register(self) -> None:
        # One listener per kind: bolt tries listeners in turn for every request (building each
        # matcher's arguments), so one per command would slow every acknowledgement in a rush.
        # `_command` resolves the name, and answers one configured in Slack but unknown here.
        self.bolt.command(re.compile(r"^/"))(self._on_command)
        self.bolt.action(re.compile(".*"))(self._on_action)
        self.bolt.view(re.compile(f"^{re.escape(FORM_CALLBACK)}"))(self._on_submit)
        self.bolt.event("message")(self._on_message)
        # Acknowledge every other event, or Slack retries it and eventually disables the app.
        self.bolt.event(re.compile(".*"))(self._on_other_event)

    # -- serving -----------------------------------------------------------------------------------
    async def start_http(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen for signed requests on `EVENTS_PATH`; returns the bound port."""
        if not self.signing_secret:
            raise RuntimeError("Slack HTTP mode needs SLACK_SIGNING_SECRET (or use Socket Mode)")
        self._runner = web.AppRunner(self.bolt.web_app(path=EVENTS_PATH, port=port), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0][1]
        self.app.platforms[Platform.SLACK] = self.port
        self._spawn(self.resume_submissions(), "unfinished submissions")
        log.info("Slack (HTTP mode) listening on http://%s:%d%s", host, bound, EVENTS_PATH)
        return bound

    async def check_credentials(self, app_token: str = "") -> None:
        """Fail at start, with a readable reason, when Slack refuses a token (rather than on the
        first request, or in an endless reconnect loop). Slack being unreachable is not fatal."""
        checks = [("SLACK_BOT_TOKEN", self.client.auth_test)]
        if app_token:
            checks.append(("SLACK_APP_TOKEN", lambda: self.client.apps_connections_open(app_token=app_token)))
        for name, check in checks:
            try:
                await check()
            except SlackApiError as exc:
                error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
                if exc.response.status_code < 500 and error != "ratelimited":
                    raise RuntimeError(f"Slack refused {name} ({error}); see docs/slack.md") from None
                log.warning("could not check %s with Slack (%s); starting anyway", name, error)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("could not reach Slack to check %s (%s); starting anyway", name, exc)

    async def start_socket_mode(self, app_token: str) -> None:
        self._socket = AsyncSocketModeHandler(self.bolt, app_token, web_client=self.client)
        await self._socket.connect_async()
        self.app.platforms[Platform.SLACK] = self.port
        self._spawn(self.resume_submissions(), "unfinished submissions")
        log.info("Slack (Socket Mode) connected")

    async def close(self) -> None:
        if self.app.platforms.get(Platform.SLACK) is self.port:
            del self.app.platforms[Platform.SLACK]
        if self._runner:
            await self._runner.cleanup()
        if self._socket:
            await self._socket.close_async()
        try:
            await asyncio.wait_for(self.idle(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("stopping with %d Slack request(s) unfinished", len(self._tasks))
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.pending.close()
        await self.session.close()

    async def idle(self) -> None:
        """Wait until every request being worked on is finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Awaitable[Any], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("Slack %s failed", what)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- slash commands ---------------------------------------------------------------------------
    async def _on_command(self, ack, body: dict[str, Any]) -> None:
        received = time.monotonic()
        await ack()
        self._spawn(self._command(body, received), f"command {body.get('command')}")

    async def _command(self, body: dict[str, Any], received: float) -> None:
        channel, name = body.get("channel_id", ""), body.get("channel_name", "")
        is_dm = channel.startswith("D") or name == "directmessage"
        if name in ("privategroup", "directmessage") or name.startswith("mpdm-"):
            name = await self.directory.channel_name(channel)  # Slack's placeholders, not names
        place = Place(Platform.SLACK, channel, PlaceKind.DM if is_dm else PlaceKind.CHANNEL, name=name)
        origin = Origin(place, body["user_id"], body.get("response_url", ""), body.get("trigger_id", ""), received)
        actor = await self.directory.actor(body["user_id"], body.get("user_name", ""))
        registry = self.app.registry
        typed = f"{body.get('command', '').lstrip('/')} {from_slack(body.get('text', ''))}"
        name, rest = resolve_command(registry, typed)
        command = registry.get(name) if name else None
        if name is None:
            reply = Reply(f"I don't know {body.get('command')}. Type /help to see what I can do.")
        elif command is None or rest.strip().lower() == "help":
            reply = self._usage(name, actor)
        else:
            try:
                raw = parse_option_text(command, rest)
            except UsageError as exc:
                reply = Reply(f"{exc}\nUsage: {usage(command)}")
            else:
                outcome = self.app.dispatcher.run_command(name, raw, actor, place, self.port)
                await self.replier.follow(outcome, origin, may_return_form(command.handler))
                return
        await self.replier.deliver(reply, origin)

    def _usage(self, name: str, actor: Actor) -> Reply:
        """`/group` without a subcommand, or `/<command> help`: how to use it."""
        registry = self.app.registry
        allowed = {c.name for c in registry.visible_to(actor.is_organizer)}
        single = registry.get(name)
        commands = [single] if single else [c for c in registry.subcommands(name) if c.name in allowed]
        lines = [f"**{usage(c)}**: {c.description}" for c in commands]
        if single:
            lines += [f"- {o.name}{'' if o.required else ' (optional)'}: {o.description}" for o in single.options]
        elif not commands:
            lines = [f"Only organizers can use /{name}."]
        return Reply("\n".join(lines))

    # -- buttons -------------------------------------------------------------------------------------
    async def _on_action(self, ack, body: dict[str, Any]) -> None:
        received = time.monotonic()
        await ack()
        action = (body.get("actions") or [{}])[0]
        action_id = action.get("action_id", "")
        if action.get("type") != "button" or action_id.startswith(LINK_ACTION):
            return  # a link button opened its page; a select inside a form is read on submit
        self._spawn(self._click(body, action, received), f"button {action_id}")

    async def _click(self, body: dict[str, Any], action: dict[str, Any], received: float) -> None:
        user = body.get("user") or {}
        place = self._action_place(body)
        origin = Origin(place, user["id"], body.get("response_url", ""), body.get("trigger_id", ""), received)
        actor = await self.directory.actor(user["id"], user.get("name") or user.get("username") or "")
        # The button's id is its action_id (and value): PREFIX:ARG, stable across restarts.
        button_id = action.get("value") or action["action_id"]
        route = self.app.registry.buttons.get(button_id.partition(":")[0])
        outcome = self.app.dispatcher.click(button_id, actor, place, self.port)
        await self.replier.follow(outcome, origin, may_return_form(route.handler if route else None))

    @staticmethod
    def _action_place(body: dict[str, Any]) -> Place:
        container = body.get("container") or {}
        if container.get("type") == "view":
            carried = FormOrigin.decode((body.get("view") or {}).get("private_metadata", ""))
            return _place(carried.channel, carried.kind, carried.thread, carried.name)
        channel = body.get("channel") or {}
        channel_id = channel.get("id") or container.get("channel_id", "")
        message = body.get("message") or {}
        thread = container.get("thread_ts") or message.get("thread_ts") or ""
        kind = "dm" if channel_id.startswith("D") else ("thread" if thread else "channel")
        return _place(channel_id, kind, thread, channel.get("name", ""))

    # -- modal submissions ---------------------------------------------------------------------------
    async def _on_submit(self, ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            await self._submit(ack, body, view, time.monotonic())
        except Exception:
            log.exception("Slack form submission failed")
            if ack.response is None:  # keep the modal open with what was typed, and say why
                first = next((b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"), "")
                await (ack(response_action="errors", errors={first: SORRY}) if first else ack())

    async def _submit(self, ack, body: dict[str, Any], view: dict[str, Any], received: float) -> None:
        dispatcher = self.app.dispatcher
        form_id = view["callback_id"].removeprefix(FORM_CALLBACK)
        carried = FormOrigin.decode(view.get("private_metadata", ""))
        place = _place(carried.channel, carried.kind, carried.thread, carried.name)
        user = body.get("user") or {}
        origin = Origin.from_form(carried, user["id"], place)
        form = dispatcher.form_for(form_id, carried.state)
        if form is None:
            await ack()
            self._spawn(self.replier.deliver(Reply("That form has expired. Please start again."), origin), "form")
            return
        values = form_values(form, (view.get("state") or {}).get("values") or {}, self.app.config.zone)
        # The core's validation is cheap and its errors can only travel in the acknowledgement:
        # checked before anything waits, so they stay inline even in a rush. (The dispatcher checks
        # them again when it runs the handler.)
        _, errors = validate_form(form, values)
        if errors:
            await ack(response_action="errors", errors=slack_errors(form, errors))
            return
        name = user.get("name") or user.get("username") or ""
        handle = self._handler(form_id, carried, values, user["id"], name, place)
        task: asyncio.Future[Outcome] | None = None
        self._submitting += 1
        try:
            # In a rush (others in flight) waiting only adds up: acknowledge at once, as when slow.
            if self._submitting < self.busy_at:
                task = asyncio.ensure_future(handle())
                budget = self.submit_budget - (time.monotonic() - received)
                await asyncio.wait({task}, timeout=max(0.0, budget))
            if task is None or not task.done():
                key = view.get("id") or os.urandom(6).hex()
                entry = {
                    "form": form_id,
                    "metadata": view.get("private_metadata", ""),
                    "values": values,
                    "user": user["id"],
                    "name": name,
                    "view": view.get("id", ""),
                }
                try:  # before the acknowledgement: from then on a crash must not lose it
                    self.pending.save(key, entry)
                except OSError as exc:  # the disk may be what is failing: answer all the same
                    log.warning("could not note an unfinished submission: %s", exc)
                task = task or asyncio.ensure_future(handle())
                # Finished (and crossed off) whatever happens to the acknowledgement itself.
                work = self._finish_submit(task, view.get("id", ""), form, values, origin, time.monotonic(), key)
                self._spawn(work, f"form {form_id}")
                await ack(response_action="update", view=notice_view("Saving", "_Saving…_"))
                return
        finally:
            if task is None:
                self._submitting -= 1
            else:
                task.add_done_callback(self._submission_done)
        outcome = task.result()
        if isinstance(outcome, FormErrors) and outcome.errors:
            # The modal stays open with everything typed; each message shows under its field.
            await ack(response_action="errors", errors=slack_errors(form, outcome.errors))
        elif isinstance(outcome, Reply) and outcome.incident:
            # Closing the modal would lose what was typed: keep it open, with the reference in it
            # and in the conversation (where it stays for telling the organizers).
            await ack(response_action="errors", errors=slack_errors(form, {"": outcome.text}))
            self._spawn(self.replier.deliver(outcome, origin), f"form {form_id}")
        elif isinstance(outcome, Form):  # a next step
            await ack(response_action="update", view=self.replier.form_view(outcome, origin))
        else:
            await ack()
            if isinstance(outcome, Reply):
                self._spawn(self.replier.deliver(outcome, origin), f"form {form_id}")

    def _handler(
        self, form_id: str, carried: FormOrigin, values: dict[str, str], user_id: str, name: str, place: Place
    ) -> Callable[[], Awaitable[Outcome]]:
        async def handle() -> Outcome:
            # Looking the person up is part of the budget: under load it can be the slow part.
            actor = await self.directory.actor(user_id, name)
            return await self.app.dispatcher.submit(form_id, carried.state, values, actor, place, self.port)

        return handle

    def _submission_done(self, _task: asyncio.Future) -> None:
        self._submitting -= 1

    async def resume_submissions(self) -> None:
        """Finish the submissions a crash (or a stop) cut short after their "Saving…" acknowledgement."""
        for key, entry in self.pending.unfinished():
            carried = FormOrigin.decode(entry.get("metadata", ""))
            place = _place(carried.channel, carried.kind, carried.thread, carried.name)
            origin = Origin.from_form(carried, entry["user"], place)
            form = self.app.dispatcher.form_for(entry["form"], carried.state)
            log.info("finishing a %s form submitted before the restart", entry["form"])
            if form is None:
                self.pending.finish(key)
                await self.replier.deliver(Reply("That form has expired. Please start again."), origin)
                continue
            handle = self._handler(entry["form"], carried, entry["values"], entry["user"], entry["name"], place)
            task = asyncio.ensure_future(handle())
            try:
                await self._finish_submit(task, entry.get("view", ""), form, entry["values"], origin, None, key)
            except Exception:
                log.exception("could not finish a submission from before the restart")

    async def _finish_submit(
        self,
        task: asyncio.Future,
        view_id: str,
        form: Form,
        values: dict[str, str],
        origin: Origin,
        acked: float | None = None,
        pending: str = "",
    ) -> None:
        """A handler that outlived the acknowledgement: its answer in the conversation (first: it is
        what people wait for), its outcome in the same modal (the form again, with what was typed,
        when it failed). `acked`: when the "Saving…" view was given, which must show before this;
        `pending`: the submission's key in `PendingSubmissions`, removed once the handler returned."""
        try:
            outcome: Outcome | None = await task
        except Exception:  # not even the dispatcher answered (looking the person up failed, say)
            log.exception("Slack form submission failed after its acknowledgement")
            outcome = None
        if pending:
            try:
                self.pending.finish(pending)
            except OSError as exc:
                log.warning("could not cross off a finished submission: %s", exc)
        if isinstance(outcome, Reply):
            try:
                await self.replier.deliver(outcome, origin)
            except Exception:  # the modal must still leave "Saving…"
                log.exception("could not deliver the answer to a Slack form submission")
        if view_id:
            view = self._outcome_view(outcome, form, values, origin)
            if acked is not None and (wait := ACK_SETTLE - (time.monotonic() - acked)) > 0:
                await asyncio.sleep(wait)
            try:
                await self.client.views_update(view_id=view_id, view=view)
            except SlackApiError as exc:  # closed by the person, or gone after a restart
                log.info("could not update the submitted form's view: %s", exc.response.get("error"))

    def _outcome_view(
        self, outcome: Outcome | None, form: Form, values: dict[str, str], origin: Origin
    ) -> dict[str, Any]:
        if isinstance(outcome, FormErrors):
            return self.replier.form_view(form, origin, errors=outcome.errors, values=values)
        if outcome is None or (isinstance(outcome, Reply) and outcome.incident):  # the form again, as typed
            text = outcome.text if outcome is not None else SORRY
            return self.replier.form_view(form, origin, errors=slack_errors(form, {"": text}), values=values)
        if isinstance(outcome, Form):
            return self.replier.form_view(outcome, origin)
        return notice_view("Done", "Done: my answer is in the conversation.")

    # -- events --------------------------------------------------------------------------------------
    async def _on_message(self, ack, body: dict[str, Any], event: dict[str, Any], request, context) -> None:
        await ack()
        if not self.events.first_time(body.get("event_id")):
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            log.info("event %s delivered again (retry %s); already handled", body.get("event_id"), retry)
            return
        if event.get("bot_id") or event.get("subtype") not in _MESSAGE_SUBTYPES:
            return  # other bots (no loops between bots), edits, joins, deletions
        if not event.get("user") or not (event.get("text") or "").strip():
            return
        self._spawn(self._message(event, context.bot_user_id or "", body.get("event_id")), "message")

    async def _first_time_stored(self, event_id: str | None) -> bool:
        """Whether the database has not seen this event yet (after the acknowledgement, off the 3 s budget)."""
        if not event_id:
            return True
        try:
            return await seen_events.first_time(self.app.db, str(Platform.SLACK), event_id, time.time())
        except Exception as exc:  # not knowing must not cost an answer: the in-memory check still holds
            log.warning("could not look event %s up in the database: %s", event_id, exc)
            return True

    async def _message(self, event: dict[str, Any], bot_user_id: str, event_id: str | None = None) -> None:
        if not await self._first_time_stored(event_id):
            log.info("event %s was handled before a restart; not answering it again", event_id)
            return
        channel, user_id = event["channel"], event["user"]
        is_dm = event.get("channel_type") == "im" or channel.startswith("D")
        thread = event.get("thread_ts", "")
        kind = "dm" if is_dm else ("thread" if thread else "channel")
        place = _place(channel, kind, thread, await self.directory.channel_name(channel))
        # Addressing the bot (a mention, or a DM) invites an answer; the mention itself is not text.
        mention = re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>") if bot_user_id else None
        mentioned = is_dm or bool(mention and mention.search(event["text"]))
        text = from_slack(mention.sub("", event["text"]) if mention else event["text"]).strip()
        actor = await self.directory.actor(user_id)
        replies = await self.app.dispatcher.message(text, actor, place, self.port, mentioned=mentioned)
        # Answers go in the message's thread (a new one in a channel), so the channel stays readable.
        answer_in = place if is_dm else _place(channel, "thread", thread or event["ts"])
        for reply in replies:
            await self.replier.deliver(reply, Origin(answer_in, user_id))

    async def _on_other_event(self, ack, body: dict[str, Any]) -> None:
        await ack()


def _place(channel: str, kind: str, thread: str = "", name: str = "") -> Place:
    try:
        place_kind = PlaceKind(kind)
    except ValueError:
        place_kind = PlaceKind.CHANNEL
    return Place(Platform.SLACK, channel, place_kind, thread, name)
