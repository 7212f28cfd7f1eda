"""Discord rendering of the core vocabulary: replies as messages, forms as modals, buttons as
persistent dynamic items, and the drafts that keep what people typed.

Nothing here decides anything: it only translates between `bot.core.model` values and Discord
components. The bot (`bot.adapters.discord`) wires it to interactions.

Custom ids. A registry button's custom_id is its `Button.id` (`PREFIX:ARG`), so a click routes by
prefix through `Dispatcher.click` on any run of the bot. The adapter's own ids start with `~`,
which registry prefixes may not:
- `~f:TOKEN:PAGE:FORM_ID:STATE`  a modal showing page PAGE of form FORM_ID;
- `~d:TOKEN:PAGE`                 the same when form id and state do not fit in 100 characters
                                  (they are kept in the draft TOKEN instead);
- `~o:TOKEN`                      a button that opens the draft TOKEN as a modal ("Fix it",
                                  "Continue", "Open the form").
TOKEN is random per invocation, so two people filling the same form never share a modal id.
"""

from __future__ import annotations

import io
import json
import re
import secrets
from dataclasses import asdict, dataclass, field

import discord

from bot.core.forms import choice_value
from bot.core.model import MAX_CHOICES, Button, ButtonStyle, FieldKind, Form, FormField, Reply
from bot.core.text import split_text
from storage import meta
from storage.db import Database

MESSAGE_LIMIT = 2000  # characters of content per message
MAX_SPLIT_MESSAGES = 4  # a reply longer than this many messages is sent as a file instead
MAX_BUTTONS = 25  # 5 rows of 5
MODAL_TITLE = 45
MODAL_INPUTS = 5
LABEL_TEXT = 45
TEXT_INPUT_MAX = 4000
CUSTOM_ID_MAX = 100
RESERVED = "~"

_MODAL_ID = re.compile(r"^~f:(?P<token>[0-9a-f]{12}):(?P<page>\d+):(?P<form>[^:]+):(?P<state>.*)$", re.DOTALL)
_DRAFT_MODAL_ID = re.compile(r"^~d:(?P<token>[0-9a-f]{12}):(?P<page>\d+)$")
_HINTS = {
    FieldKind.EMAIL: "name@example.org",
    FieldKind.INTEGER: "a whole number",
    FieldKind.DATETIME: "2023-06-30 17:00",
}
_STYLES = {
    ButtonStyle.PRIMARY: discord.ButtonStyle.primary,
    ButtonStyle.SECONDARY: discord.ButtonStyle.secondary,
    ButtonStyle.DANGER: discord.ButtonStyle.danger,
}


def new_token() -> str:
    return secrets.token_hex(6)


# -- drafts: what someone typed, kept server-side so a retry or a restart loses nothing ---------
@dataclass
class Draft:
    form_id: str
    state: str
    user_id: str
    values: dict[str, str] = field(default_factory=dict)
    page: int = 0  # the page to open next
    complete: bool = False  # every page was seen once: the next page submit submits the form


class Drafts:
    """Drafts in the meta table, so a "Fix it" button works after a restart too."""

    PREFIX = "discord.draft."

    def __init__(self, db: Database):
        self.db = db

    async def save(self, token: str, draft: Draft) -> None:
        await meta.put(self.db, self.PREFIX + token, json.dumps(asdict(draft)))

    async def load(self, token: str) -> Draft | None:
        raw = await meta.get(self.db, self.PREFIX + token)
        return Draft(**json.loads(raw)) if raw else None

    async def finish(self, token: str) -> None:
        # What people typed (emails included) is kept no longer than the form needs it.
        await meta.delete(self.db, self.PREFIX + token)


# -- buttons ------------------------------------------------------------------------------------
class RegistryButton(discord.ui.DynamicItem[discord.ui.Button], template=r"(?s)(?P<id>[^~].{0,99})"):
    """A cog's button: its custom_id is the Button.id, routed by `Dispatcher.click`. Being a
    DynamicItem registered at start-up, it works on messages sent by any earlier run."""

    def __init__(self, button_id: str, label: str = "…", style=discord.ButtonStyle.secondary):
        super().__init__(discord.ui.Button(custom_id=button_id, label=label[:80], style=style))

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["id"], item.label or "…", item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_registry_button(interaction, self.item.custom_id)


class DraftButton(discord.ui.DynamicItem[discord.ui.Button], template=r"~o:(?P<token>[0-9a-f]{12})"):
    """Opens a saved draft as a modal (a modal can only answer a fresh click)."""

    def __init__(self, token: str, label: str = "Open the form", style=discord.ButtonStyle.primary):
        super().__init__(discord.ui.Button(custom_id=f"~o:{token}", label=label[:80], style=style))

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str]):
        return cls(match["token"], item.label or "…", item.style)

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.on_open_draft(interaction, self.item.custom_id.split(":", 1)[1])


def draft_button(token: str, label: str) -> Button:
    """A core Button that renders as a DraftButton."""
    return Button(f"~o:{token}", label, ButtonStyle.PRIMARY)


def button_view(buttons: tuple[Button, ...] | list[Button]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        if button.url:
            view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=button.label[:80], url=button.url))
        elif button.id.startswith("~o:"):
            view.add_item(DraftButton(button.id[3:], button.label, _STYLES[button.style]))
        else:
            view.add_item(RegistryButton(button.id, button.label, _STYLES[button.style]))
    # A view is only a renderer here: clicks route through the DynamicItems registered at
    # start-up. A stopped view is not stored, so its expiry can never unregister those patterns.
    view.stop()
    return view


# -- replies ------------------------------------------------------------------------------------
@dataclass
class Outgoing:
    """One Discord message of a reply."""

    content: str
    view: discord.ui.View | None = None
    files: list[discord.File] = field(default_factory=list)

    def kwargs(self) -> dict:
        found: dict = {"content": self.content}
        if self.view is not None:
            found["view"] = self.view
        if self.files:
            found["files"] = self.files
        return found


def render(reply: Reply) -> list[Outgoing]:
    """A reply as one or more messages of ≤ 2000 characters; buttons and files go on the last.

    Text is split at line breaks; a reply that would take more than a few messages is sent as its
    first part plus the whole text as a Markdown file, so a channel is never flooded.
    """
    text = reply.text or ("Done." if not reply.files else "")
    pieces = split_text(text, MESSAGE_LIMIT) if text else [""]
    extra: list[discord.File] = []
    if len(pieces) > MAX_SPLIT_MESSAGES:
        note = "\n…(the full text is in the attached file)"
        pieces = [split_text(text, MESSAGE_LIMIT - len(note))[0] + note]
        extra.append(discord.File(io.BytesIO(text.encode()), filename="reply.md"))
    messages = [Outgoing(piece) for piece in pieces]
    messages[-1].view = button_view(reply.buttons)
    messages[-1].files = [discord.File(io.BytesIO(f.content), filename=f.name) for f in reply.files] + extra
    return messages


# -- forms as modals ----------------------------------------------------------------------------
def pages(form: Form) -> list[tuple[FormField, ...]]:
    """A modal holds five inputs; a longer form becomes several modals filled in turn."""
    fields = form.fields
    return [fields[i : i + MODAL_INPUTS] for i in range(0, len(fields), MODAL_INPUTS)] or [()]


def page_of(form: Form, field_name: str) -> int:
    for number, page in enumerate(pages(form)):
        if any(f.name == field_name for f in page):
            return number
    return 0


def modal_id(token: str, page: int, form: Form) -> str | None:
    """The modal's custom_id, or None when form id and state do not fit (use `draft_modal_id`)."""
    custom_id = f"~f:{token}:{page}:{form.id}:{form.state}"
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def draft_modal_id(token: str, page: int) -> str:
    return f"~d:{token}:{page}"


@dataclass(frozen=True)
class ModalRef:
    token: str
    page: int
    form_id: str | None  # None: look it up in the draft
    state: str | None


def parse_modal_id(custom_id: str) -> ModalRef | None:
    if match := _MODAL_ID.match(custom_id):
        return ModalRef(match["token"], int(match["page"]), match["form"], match["state"])
    if match := _DRAFT_MODAL_ID.match(custom_id):
        return ModalRef(match["token"], int(match["page"]), None, None)
    return None


def build_modal(form: Form, page: int, custom_id: str) -> discord.ui.Modal:
    """One page of `form` as a modal, pre-filled with `form.values` (else each field's default)."""
    page_list = pages(form)
    title = form.title or "Form"
    if len(page_list) > 1:
        suffix = f" ({page + 1}/{len(page_list)})"
        title = title[: MODAL_TITLE - len(suffix)] + suffix
    modal = discord.ui.Modal(title=title[:MODAL_TITLE], custom_id=custom_id, timeout=None)
    for form_field in page_list[page]:
        value = form.values.get(form_field.name, form_field.default)
        described = form_field.label if len(form_field.label) > LABEL_TEXT else None
        modal.add_item(
            discord.ui.Label(
                text=form_field.label[:LABEL_TEXT],
                description=described[:100] if described else None,
                component=_input(form_field, value),
            )
        )
    # Submissions are read from the interaction by the bot (see `submitted_values`), not by this
    # object: that way a modal opened before a restart still submits after it.
    modal.stop()
    return modal


def _input(form_field: FormField, value: str) -> discord.ui.Item:
    if form_field.kind is FieldKind.CHOICE and 0 < len(form_field.choices) <= MAX_CHOICES:
        return discord.ui.Select(
            custom_id=form_field.name,
            placeholder=(form_field.placeholder or "Choose one")[:150],
            options=[
                discord.SelectOption(label=c.label[:100], value=c.value[:100], default=c.value == value)
                for c in form_field.choices
            ],
            min_values=1 if form_field.required else 0,
            max_values=1,
            required=form_field.required,
        )
    limit = min(max(form_field.max_length, 1), TEXT_INPUT_MAX)
    value = (value or "")[:TEXT_INPUT_MAX]
    placeholder = form_field.placeholder or _HINTS.get(form_field.kind, "")
    if form_field.kind is FieldKind.CHOICE:  # too many choices for a select: type one
        placeholder = placeholder or ", ".join(c.label for c in form_field.choices)
    return discord.ui.TextInput(
        custom_id=form_field.name,
        style=discord.TextStyle.paragraph if form_field.kind is FieldKind.PARAGRAPH else discord.TextStyle.short,
        placeholder=placeholder[:100] or None,
        default=value or None,
        required=form_field.required,
        # Discord's client enforces lengths as people type; never below what is pre-filled.
        min_length=min(form_field.min_length, limit) or None,
        max_length=max(limit, len(value)),
    )


def submitted_values(components: list[dict]) -> dict[str, str]:
    """Values by input custom_id (the field name) from a modal submit's components."""
    values: dict[str, str] = {}
    for component in components:
        kind = component.get("type")
        if kind == 1:
            values.update(submitted_values(component.get("components", [])))
        elif kind == 18:
            values.update(submitted_values([component["component"]]))
        elif kind == 4:
            values[component["custom_id"]] = component.get("value") or ""
        elif kind == 3:
            chosen = component.get("values") or []
            values[component["custom_id"]] = chosen[0] if chosen else ""
    return values


def typed_values(form: Form, values: dict[str, str]) -> dict[str, str]:
    """Map a choice typed as text (label or number) to its value; selects already send values."""
    found = {}
    for name, value in values.items():
        form_field = form.field(name)
        found[name] = choice_value(form_field, value) if form_field and form_field.choices else value
    return found
