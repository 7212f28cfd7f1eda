"""Getting an outcome back to the person on Slack: replies, modals, and the slow cases.

A reply goes through the request's `response_url` when there is one (it works in any channel,
even ones the bot is not in), else as an ephemeral or channel message, else as a direct message,
so an answer is never silently lost. A form opens as a modal at once; when the handler is too slow
for the 3-second `trigger_id`, a "Just a moment" modal is opened in time and updated later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack_blocks import FormOrigin, form_view, message_bodies, notice_view
from bot.adapters.slack_port import SlackPort, response_url_retries
from bot.core.model import Form, FormErrors, Outcome, Place, PlaceKind, Reply
from bot.core.port import PlatformError

log = logging.getLogger(__name__)

# A trigger_id expires 3 s after Slack sent the request. Waiting this long (from receipt) for a
# handler still leaves time to open a modal over a slow network.
LOADING_AFTER = 1.5


@dataclass(frozen=True)
class Origin:
    """Where a request came from and the handles Slack gave for answering it."""

    place: Place
    user_id: str
    response_url: str = ""
    trigger_id: str = ""
    received: float = field(default_factory=time.monotonic)

    @classmethod
    def from_form(cls, origin: FormOrigin, user_id: str, place: Place) -> Origin:
        return cls(place, user_id, origin.response_url)


class Replier:
    def __init__(
        self,
        client: AsyncWebClient,
        port: SlackPort,
        render: Callable[[str], str],
        session: aiohttp.ClientSession,
        zone: dt.tzinfo,
    ):
        self.client = client
        self.port = port
        self.render = render
        self.session = session
        self.zone = zone
        self.loading_after = LOADING_AFTER

    # -- outcomes --------------------------------------------------------------------------------
    async def follow(self, outcome: Awaitable[Outcome], origin: Origin, form_possible: bool = True) -> None:
        """Show what a command or a click produced: a modal for a Form, else a reply.

        Only a handler that may return a form gets a "Just a moment" modal when it is slow; a
        slow plain answer simply arrives late."""
        task = asyncio.ensure_future(outcome)
        if origin.trigger_id and form_possible:
            budget = self.loading_after - (time.monotonic() - origin.received)
            done, _ = await asyncio.wait({task}, timeout=max(0.0, budget))
            if not done:
                await self._follow_slowly(task, origin)
                return
        result = await task
        if isinstance(result, Form):
            await self.open_form(result, origin)
        elif isinstance(result, FormErrors):  # only a form handler returns these; be safe
            await self.deliver(Reply("\n".join(result.errors.values())), origin)
        else:
            await self.deliver(result, origin)

    async def _follow_slowly(self, task: asyncio.Future, origin: Origin) -> None:
        view_id = await self._open_view(
            origin, notice_view("Just a moment", "_Working on it…_"), announce_failure=False
        )
        result = await task
        if isinstance(result, Form):
            if view_id:
                await self._update_view(view_id, self.form_view(result, origin))
            else:
                await self.deliver(Reply("That took too long to open the form. Please try again."), origin)
            return
        if isinstance(result, Reply):
            await self.deliver(result, origin)
        if view_id:
            await self._update_view(view_id, notice_view("Done", "Done: my answer is in the conversation."))

    def form_view(
        self,
        form: Form,
        origin: Origin,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        place = origin.place
        carried = FormOrigin(
            form.state, place.channel_id, place.kind.value, place.thread_id, place.name, origin.response_url
        )
        return form_view(form, carried, self.zone, errors, values)

    async def open_form(self, form: Form, origin: Origin) -> None:
        await self._open_view(origin, self.form_view(form, origin))

    async def _open_view(self, origin: Origin, view: dict[str, Any], announce_failure: bool = True) -> str:
        if not origin.trigger_id:
            await self.deliver(Reply("Please use the command again to open the form."), origin)
            return ""
        try:
            response = await self.client.views_open(trigger_id=origin.trigger_id, view=view)
            return str(response["view"]["id"])
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("views.open failed: %s %s", error, exc.response.get("response_metadata") or "")
            if announce_failure:
                if error in ("expired_trigger_id", "exchanged_trigger_id"):
                    text = "Slack could not open the form in time. Please try the command again."
                else:
                    text = f"Sorry, Slack refused the form (`{error}`). Please tell the organizers."
                await self.deliver(Reply(text), origin)
            return ""

    async def _update_view(self, view_id: str, view: dict[str, Any]) -> None:
        try:
            await self.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            log.warning("views.update failed: %s", exc.response.get("error"))

    # -- replies ---------------------------------------------------------------------------------
    async def deliver(self, reply: Reply, origin: Origin) -> None:
        text = reply.text
        if reply.files and reply.private:
            # Files cannot be ephemeral: they go to a direct message, and the reply says so.
            text = f"{text}\n_I sent you the file{'s' if len(reply.files) > 1 else ''} in a direct message._"
        has_body = bool(text.strip() or reply.buttons)
        bodies = message_bodies(self.render(text), reply.buttons) if has_body else []
        for body in bodies:
            if reply.private:
                await self._private(body, origin)
            else:
                await self._public(body, origin)
        if reply.files:
            await self._files(reply, origin)

    async def _private(self, body: dict[str, Any], origin: Origin) -> None:
        if origin.response_url and await self._respond(origin.response_url, body, "ephemeral"):
            return
        place = origin.place
        if place.kind is not PlaceKind.DM and place.channel_id:
            try:
                await self.client.chat_postEphemeral(
                    channel=place.channel_id, user=origin.user_id, thread_ts=place.thread_id or None, **body
                )
                return
            except SlackApiError as exc:
                log.info("ephemeral reply failed (%s); sending a direct message", exc.response.get("error"))
        await self._direct(body, origin)

    async def _public(self, body: dict[str, Any], origin: Origin) -> None:
        # In a thread the port answers in the thread; response_url cannot be relied on for that.
        in_thread = bool(origin.place.thread_id)
        if origin.response_url and not in_thread:
            sent = await self._respond(origin.response_url, body, "in_channel")
            if sent is None:
                # Slack may have posted it: posting again could show it twice to everyone. The
                # person is told privately instead (a copy only they would see is harmless).
                note = self.render("Slack had trouble showing my answer. If you do not see it, please try again.")
                await self._private(message_bodies(note)[0], Origin(origin.place, origin.user_id))
                return
            if sent:
                return
        try:
            await self.port.send_body(origin.place, body)
        except PlatformError as exc:
            log.info("public reply failed (%s); answering privately", exc)
            await self._private(body, Origin(origin.place, origin.user_id))

    async def _direct(self, body: dict[str, Any], origin: Origin) -> None:
        try:
            await self.port.send_body(await self.port.dm_place(origin.user_id), body)
        except PlatformError:
            log.exception("could not reach %s at all; the reply is lost", origin.user_id)

    async def _respond(self, url: str, body: dict[str, Any], response_type: str) -> bool | None:
        """Post through a response_url: True when posted, False when Slack refused (expired, used up,
        invalid) or could not be reached, None when it may have posted (a server error, or the
        connection lost after sending). A response_url post is not idempotent, so only a rate limit
        or a connection that never opened is tried again."""
        webhook = AsyncWebhookClient(url, session=self.session, retry_handlers=response_url_retries())
        payload = {**body, "response_type": response_type, "replace_original": False}
        try:
            response = await webhook.send_dict(payload)
        except aiohttp.ClientConnectorError as exc:  # never reached Slack
            log.warning("response_url failed: %s", exc.__class__.__name__)
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("response_url failed after sending (%s); not posting it again", exc.__class__.__name__)
            return None
        if response.status_code >= 500:
            log.warning("response_url answered %s after taking the post; not posting it again", response.status_code)
            return None
        if response.status_code != 200:
            log.info("response_url refused: %s %s", response.status_code, response.body)
            return False
        return True

    async def _files(self, reply: Reply, origin: Origin) -> None:
        place = origin.place
        try:
            if reply.private or not place.channel_id:
                place = await self.port.dm_place(origin.user_id)
            for file in reply.files:
                try:
                    await self.port.upload(place, file)
                except PlatformError:
                    if place.kind is PlaceKind.DM:
                        raise
                    place = await self.port.dm_place(origin.user_id)  # the channel refused: send it privately
                    await self.port.upload(place, file)
        except PlatformError as exc:
            log.warning("could not share a file: %s", exc)
            note = self.render(f"Sorry, I could not share the file: {exc}")
            await self._private(message_bodies(note)[0], origin)
