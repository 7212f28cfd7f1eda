"""Block Kit for the core's replies and forms: message bodies, modals, and reading modals back.

Everything here is a pure function of its arguments, so the shapes Slack receives can be read (and
tested) without a network. The limits are Slack's; the fake Web API enforces the same ones.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.adapters.slack_text import plain, split_mrkdwn
from bot.core.clock import parse_instant
from bot.core.model import Button, ButtonStyle, FieldKind, Form, FormField

log = logging.getLogger(__name__)

SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
SECTIONS_PER_MESSAGE = 12  # 12 × 3000 stays under the 40,000-character message text limit
BUTTONS_PER_ACTIONS = 25
BUTTON_LABEL = 75
MODAL_TITLE = 24  # also the submit and close button labels
MODAL_BLOCKS = 100
INPUT_LENGTH = 3000  # plain_text_input max_length
SELECT_OPTIONS = 100
OPTION_TEXT = 75
METADATA_LIMIT = 3000  # private_metadata

# Link buttons still send a block_actions request when clicked; this action id prefix marks them
# so the adapter acknowledges and ignores them instead of routing them to a cog.
LINK_ACTION = "link;"
FORM_CALLBACK = "form:"
INPUT_ACTION = "value"


# -- messages ------------------------------------------------------------------------------------
def message_bodies(mrkdwn: str, buttons: Sequence[Button] = ()) -> list[dict[str, Any]]:
    """One or more `{text, blocks}` bodies for a reply; buttons go on the last one."""
    sections = [s for s in split_mrkdwn(mrkdwn, SECTION_LIMIT) if s.strip()]
    groups = [sections[i : i + SECTIONS_PER_MESSAGE] for i in range(0, len(sections), SECTIONS_PER_MESSAGE)]
    groups = groups or [[]]
    bodies = []
    for index, group in enumerate(groups):
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in group
        ]
        if index == len(groups) - 1:
            blocks += button_blocks(buttons)
        # `text` is what notifications and screen readers get; it must never be empty.
        fallback = "\n".join(group) or ", ".join(b.label for b in buttons) or " "
        bodies.append({"text": fallback, "blocks": blocks})
    return bodies


def button_blocks(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    elements, seen = [], set()
    for index, button in enumerate(buttons):
        action_id = f"{LINK_ACTION}{index}" if button.url else button.id
        if action_id in seen:  # Slack rejects the whole message for a repeated action_id
            log.warning("dropping a second button with id %s", action_id)
            continue
        seen.add(action_id)
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": plain(button.label, BUTTON_LABEL), "emoji": True},
            "action_id": action_id,
        }
        if button.url:
            element["url"] = button.url
        else:
            element["value"] = button.id
        if button.style is not ButtonStyle.SECONDARY:  # Slack knows only primary and danger
            element["style"] = button.style.value
        elements.append(element)
    return [
        {"type": "actions", "elements": elements[i : i + BUTTONS_PER_ACTIONS]}
        for i in range(0, len(elements), BUTTONS_PER_ACTIONS)
    ]


# -- modals ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FormOrigin:
    """Where a form was opened from, carried in the modal's private_metadata so a submission
    (which Slack sends without a channel) can answer in the right place."""

    state: str = ""
    channel: str = ""
    kind: str = "channel"
    thread: str = ""
    name: str = ""
    response_url: str = ""

    def encode(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v}
        text = json.dumps(data, separators=(",", ":"))
        if len(text) > METADATA_LIMIT:  # the response_url is a convenience; the state is not
            data.pop("response_url", None)
            text = json.dumps(data, separators=(",", ":"))
        if len(text) > METADATA_LIMIT:
            raise ValueError(f"form state is too long for Slack ({len(text)} characters)")
        return text

    @classmethod
    def decode(cls, text: str) -> FormOrigin:
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        known = {k: str(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def form_view(
    form: Form,
    origin: FormOrigin,
    zone: dt.tzinfo,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A modal for `form`. `values` (else the form's own) pre-fill the fields; `errors` are shown
    under their fields, for the rare case they cannot go back through `response_action`."""
    values = {**form.values, **(values or {})}
    blocks: list[dict[str, Any]] = []
    for field in form.fields:
        blocks.append(input_block(field, values.get(field.name, field.default), zone))
        if errors and field.name in errors:
            blocks.append(_error_note(errors[field.name]))
    for name, message in (errors or {}).items():
        if not form.field(name):
            blocks.insert(0, _error_note(message))
    return {
        "type": "modal",
        "callback_id": f"{FORM_CALLBACK}{form.id}",
        "title": {"type": "plain_text", "text": plain(form.title, MODAL_TITLE)},
        "submit": {"type": "plain_text", "text": plain(form.submit_label or "Submit", MODAL_TITLE)},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": origin.encode(),
        "blocks": blocks[:MODAL_BLOCKS],
    }


def _error_note(message: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "plain_text", "text": plain("⚠ " + message, 2000)}]}


def input_block(field: FormField, initial: str, zone: dt.tzinfo) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.name,  # FormErrors are keyed by field name: the same key Slack wants
        "label": {"type": "plain_text", "text": plain(field.label, 2000)},
        "optional": not field.required,
        "element": _element(field, initial or "", zone),
    }
    return block


def _element(field: FormField, initial: str, zone: dt.tzinfo) -> dict[str, Any]:
    element: dict[str, Any] = {"action_id": INPUT_ACTION}
    if field.placeholder and field.kind is not FieldKind.DATETIME:
        element["placeholder"] = {"type": "plain_text", "text": plain(field.placeholder, 150)}
    if field.kind is FieldKind.CHOICE:
        options = [_option(c.value, c.label) for c in field.choices[:SELECT_OPTIONS]]
        if len(field.choices) > SELECT_OPTIONS:
            log.warning("field %s has more than %d choices; Slack shows the first", field.name, SELECT_OPTIONS)
        element.update(type="static_select", options=options)
        chosen = next((o for o in options if o["value"] == initial), None)
        if chosen:
            element["initial_option"] = chosen
        return element
    if field.kind is FieldKind.DATETIME:
        element["type"] = "datetimepicker"
        epoch = _epoch(initial, zone)
        if epoch is not None:
            element["initial_date_time"] = epoch
        return element
    if field.kind is FieldKind.INTEGER:
        element.update(type="number_input", is_decimal_allowed=False)
        if initial.strip().lstrip("+-").isdigit() and initial.isascii():
            element["initial_value"] = initial.strip()
        return element
    if field.kind is FieldKind.EMAIL:
        element["type"] = "email_text_input"
        if initial:
            element["initial_value"] = initial
        return element
    longest = max(1, min(field.max_length, INPUT_LENGTH))
    element.update(type="plain_text_input", multiline=field.kind is FieldKind.PARAGRAPH, max_length=longest)
    if field.min_length:
        element["min_length"] = min(field.min_length, longest)
    if initial:
        # Slack refuses a view whose initial value is longer than its max_length.
        element["initial_value"] = initial[:longest]
    return element


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": plain(label, OPTION_TEXT)}, "value": value[:150]}


def _epoch(text: str, zone: dt.tzinfo) -> int | None:
    if not text.strip():
        return None
    try:
        return int(parse_instant(text, zone).timestamp())
    except ValueError:
        return None


def form_values(form: Form, state_values: dict[str, Any], zone: dt.tzinfo) -> dict[str, str]:
    """The strings the core validates, read from a submitted view's `state.values`."""
    values: dict[str, str] = {}
    for field in form.fields:
        element = (state_values.get(field.name) or {}).get(INPUT_ACTION) or {}
        values[field.name] = _value_of(element, zone)
    return values


def _value_of(element: dict[str, Any], zone: dt.tzinfo) -> str:
    kind = element.get("type")
    if kind == "static_select":
        return ((element.get("selected_option") or {}).get("value")) or ""
    if kind == "datetimepicker":
        epoch = element.get("selected_date_time")
        if epoch is None:
            return ""
        try:
            return dt.datetime.fromtimestamp(int(epoch), zone).isoformat(timespec="minutes")
        except (TypeError, ValueError, OverflowError, OSError):  # a forged value: validation explains it
            return str(epoch)
    return element.get("value") or ""


def slack_errors(form: Form, errors: dict[str, str]) -> dict[str, str]:
    """FormErrors (by field name) → `response_action=errors` (by block id). An error about the
    form as a whole goes under its first field, since Slack can only show errors on inputs."""
    mapped: dict[str, str] = {}
    for name, message in errors.items():
        block_id = name if form.field(name) else (form.fields[0].name if form.fields else name)
        mapped[block_id] = f"{mapped[block_id]} {message}" if block_id in mapped else message
    return {k: v[:2000] for k, v in mapped.items()}


def notice_view(title: str, text_mrkdwn: str) -> dict[str, Any]:
    """A modal with only text and a Close button: 'loading', 'saving', 'done'."""
    return {
        "type": "modal",
        "callback_id": "notice",
        "title": {"type": "plain_text", "text": plain(title, MODAL_TITLE)},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
            for piece in split_mrkdwn(text_mrkdwn, SECTION_LIMIT)[:MODAL_BLOCKS]
        ],
    }
