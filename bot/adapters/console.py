"""The console adapter: the bot in a terminal, or driven by a script on stdin.

Each input line is a slash command (`/faq where is it`), a plain message in the current channel,
or a directive (`:as NAME [organizer]`, `:channel NAME`, `:click ID|N`, `:advance 3d`, `:help`).
Forms become field-by-field prompts that read the following lines; their fields can also be given
inline as `key=value`. Every input gets one block of plain-text output.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.core.clock import parse_duration
from bot.core.dispatch import UsageError, parse_option_text, resolve_command, usage
from bot.core.forms import choice_value
from bot.core.ids import parse_id
from bot.core.model import (
    Actor,
    Button,
    FieldKind,
    File,
    Form,
    FormErrors,
    FormField,
    Message,
    Outcome,
    Place,
    PlaceKind,
    Platform,
    Posted,
    Reply,
)
from bot.core.text import to_plain

DIRECTIVES = """Console directives:
  :as NAME [organizer]   speak as another person (add 'organizer' for organizer rights)
  :channel NAME          move to another channel
  :click ID|N            press a button by its id, or by its number in the last reply
  :advance 3d|6h|1h30m   move the bot's clock forward
  :now                   show the bot's clock
  :cancel                (inside a form) stop filling it in
  :quit                  leave (so does end of input)"""


class InputEnded(Exception):
    pass


class LineReader:
    """Reads lines from a terminal (with line editing) or a pipe, without blocking the loop."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = stream.isatty()
        if self.interactive:
            import readline  # noqa: F401  (importing it gives input() history and editing)

    async def read(self, prompt: str) -> str:
        if self.interactive:
            try:
                return await asyncio.to_thread(input, prompt)
            except EOFError:
                raise InputEnded from None
        line = await asyncio.to_thread(self.stream.readline)
        if not line:
            raise InputEnded
        return line.rstrip("\n")


class ConsolePort:
    """The Platform port for the console: side effects are printed and remembered in memory."""

    platform = Platform.CONSOLE

    def __init__(self, write: Callable[[str], None], render: Callable[[str], str], files_dir: Path):
        self._write = write
        self._render = render
        self.files_dir = files_dir
        self.channels: dict[str, str] = {}  # id -> name
        self._ids = itertools.count(1)
        self.archived: set[str] = set()

    def channel(self, name: str) -> Place:
        name = name.lstrip("#")
        for channel_id, known in self.channels.items():
            if known == name:
                return Place(Platform.CONSOLE, channel_id, name=name)
        channel_id = f"C{next(self._ids)}"
        self.channels[channel_id] = name
        return Place(Platform.CONSOLE, channel_id, name=name)

    def _label(self, place: Place) -> str:
        name = self.channels.get(place.channel_id, place.channel_id)
        return f"#{name} › {place.thread_id}" if place.thread_id else f"#{name}"

    def _show(self, header: str, message: Message) -> str:
        message_id = f"M{next(self._ids)}"
        pings = ([f"@{message.notify_role}"] if message.notify_role else []) + [
            f"@{user}" for user in message.mention_users
        ]
        prefix = " ".join(pings) + " " if pings else ""
        self._write(f"[{header}] {prefix}{self._render(message.text)}")
        for button in message.buttons:
            self._write(f"  ({button.label} → :click {button.id})")
        for file in message.files:
            self._write(f"  file: {self.save(file)}")
        return message_id

    async def post(self, place: Place, message: Message) -> Posted:
        return Posted(place, self._show(self._label(place), message))

    async def dm(self, user_id: str, message: Message) -> Posted:
        place = Place(Platform.CONSOLE, f"D-{user_id}", PlaceKind.DM, name=user_id)
        return Posted(place, self._show(f"DM to {user_id}", message))

    async def find_channel(self, name: str) -> Place | None:
        name = name.lstrip("#")
        return next(
            (Place(Platform.CONSOLE, i, name=n) for i, n in self.channels.items() if n == name),
            None,
        )

    async def create_category(self, name: str) -> str:
        category_id = f"K{next(self._ids)}"
        self._write(f"[created category {name}]")
        return category_id

    async def create_channel(
        self, name: str, *, category_id: str = "", private: bool = False, topic: str = ""
    ) -> Place:
        place = self.channel(name)
        self._write(f"[created {'private ' if private else ''}channel #{name}]")
        return place

    async def create_thread(self, place: Place, name: str, message: Message) -> Place:
        thread = Place(Platform.CONSOLE, place.channel_id, PlaceKind.THREAD, name, name=name)
        self._show(self._label(thread), message)
        return thread

    async def add_member(self, place: Place, user_id: str) -> None:
        self._write(f"[{user_id} added to {self._label(place)}]")

    async def remove_member(self, place: Place, user_id: str) -> None:
        self._write(f"[{user_id} removed from {self._label(place)}]")

    async def archive(self, place: Place) -> None:
        self.archived.add(place.thread_id or place.channel_id)
        self._write(f"[archived {self._label(place)}]")

    async def upload(self, place: Place, file: File, text: str = "") -> Posted:
        return await self.post(place, Message(text or file.name, files=(file,)))

    def save(self, file: File) -> str:
        """Files are written next to the database so a console user can open them."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        target = self.files_dir / Path(file.name).name
        target.write_bytes(file.content)
        return f"{file.name} ({len(file.content)} bytes) saved to {target}"


class Console:
    def __init__(
        self,
        app,
        user: str = "you",
        organizer: bool = False,
        channel: str = "lobby",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ):
        self.app = app
        self.out = stdout or sys.stdout
        self.reader = LineReader(stdin or sys.stdin)
        files_dir = app.config.database_path().parent / "console-files"
        self.port = ConsolePort(self._print, self.render, files_dir)
        app.platforms[Platform.CONSOLE] = self.port
        self.actor = self._actor(user, organizer)
        # The console stands in for a workspace that has the configured channels.
        for name in (
            app.config.channels.announcements,
            app.config.channels.organizers,
            app.config.channels.help,
        ):
            self.port.channel(name)
        self.place = self.port.channel(channel)
        self.last_buttons: list[Button] = []
        self.zone = app.config.zone

    # -- output -----------------------------------------------------------------------------
    def _print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def render(self, text: str) -> str:
        return to_plain(text, self.zone, self.app.clock.now())

    def greeting(self) -> str:
        role = "an organizer" if self.actor.is_organizer else "a participant"
        return (
            f"Welcome to the {self.app.config.conference.short_name} bot (console).\n"
            f"You are {self.actor.display_name}, {role}, in #{self.place.name}.\n"
            "Type /help to see the commands, /about for the conference, :help for console "
            "directives. End input (Ctrl-D) to leave."
        )

    def show(self, outcome: Outcome) -> None:
        if isinstance(outcome, FormErrors):  # only reached when a form is abandoned
            for message in outcome.errors.values():
                self._print(f"! {message}")
            return
        assert isinstance(outcome, Reply)
        prefix = "(only you can see this)\n" if outcome.private else ""
        self._print(prefix + self.render(outcome.text))
        self.last_buttons = [b for b in outcome.buttons if not b.url]
        number = 0
        for button in outcome.buttons:
            if button.url:
                self._print(f"  {button.label}: {button.url}")
            else:
                number += 1
                self._print(f"  [{number}] {button.label}  (:click {number} or :click {button.id})")
        for file in outcome.files:
            self._print(f"  file: {self.port.save(file)}")

    # -- input ------------------------------------------------------------------------------
    async def run(self) -> int:
        self._print(self.greeting())
        await self.app.start_timer()
        while True:
            try:
                line = await self.reader.read(f"{self.actor.display_name}@#{self.place.name}> ")
            except InputEnded:
                return 0
            if not self.reader.interactive and line.strip():
                self._print(f"\n> {line}")
            try:
                if await self.handle(line) is False:
                    return 0
            except InputEnded:
                self._print("Input ended before the form was finished; nothing was submitted.")
                return 0

    async def handle(self, line: str) -> bool | None:
        text = line.strip()
        if not text:
            return None
        self.zone = await self.app.dispatcher.reader_zone(self.actor)
        if text.startswith(":"):
            return await self.directive(text[1:])
        if text.startswith("/"):
            await self.command(text)
            return None
        for reply in await self.app.dispatcher.message(text, self.actor, self.place, self.port):
            self.show(reply)
        return None

    async def directive(self, text: str) -> bool | None:
        words = text.split()
        name, args = (words[0].lower(), words[1:]) if words else ("help", [])
        if name in ("quit", "exit", "q"):
            return False
        if name == "as" and args:
            organizer = len(args) > 1 and args[-1].lower() == "organizer"
            person = " ".join(args[:-1] if organizer else args)
            self.actor = self._actor(person, organizer)
            self.zone = await self.app.dispatcher.reader_zone(self.actor)
            self._print(f"You are now {person}{' (organizer)' if organizer else ''}.")
        elif name == "channel" and args:
            self.place = self.port.channel(args[0])
            self._print(f"You are now in #{self.place.name}.")
        elif name == "advance" and args:
            try:
                now = self.app.clock.advance(parse_duration("".join(args)))
            except ValueError as exc:
                self._print(f"! {exc}")
            else:
                self._print(f"The clock now shows {self.render(f'<t:{int(now.timestamp())}:F>')}.")
                if self.app.timer:
                    await self.app.timer.wake()  # whatever fell due in the jump goes out now
        elif name == "now":
            self._print(self.render(f"<t:{int(self.app.clock.now().timestamp())}:F>"))
        elif name == "click" and args:
            await self._click_target(args[0])
        else:
            self._print(DIRECTIVES)
        return None

    async def _click_target(self, target: str) -> None:
        number = parse_id(target)
        if number is not None or target.isdigit():
            index = (number or 0) - 1
            if not 0 <= index < len(self.last_buttons):
                self._print(f"! There is no button {target} in the last reply.")
                return
            target = self.last_buttons[index].id
        await self.click(target)

    async def command(self, text: str) -> None:
        registry = self.app.registry
        name, rest = resolve_command(registry, text)
        if name is None:
            word = text.split()[0]
            self._print(f"I don't know {word}. Type /help to see what I can do.")
            return
        command = registry.get(name)
        if command is None:  # a group named without a valid subcommand
            subs = registry.subcommands(name)
            self._print(f"/{name} needs one of: " + ", ".join(usage(c) for c in subs))
            return
        inline: dict[str, str] = {}  # key=value words naming no option pre-fill the command's form
        try:
            raw = parse_option_text(command, rest, form_values=inline)
        except UsageError as exc:
            self._print(f"{exc}\nUsage: {usage(command)}")
            return
        outcome = await self.app.dispatcher.run_command(name, raw, self.actor, self.place, self.port)
        await self.follow(outcome, inline)

    async def follow(self, outcome: Outcome, inline: dict[str, str] | None = None) -> None:
        if isinstance(outcome, Form):
            outcome = await self.fill(outcome, inline or {})
            if outcome is None:
                return
        self.show(outcome)

    async def click(self, button_id: str) -> None:
        outcome = await self.app.dispatcher.click(button_id, self.actor, self.place, self.port)
        await self.follow(outcome)

    async def fill(self, form: Form, inline: dict[str, str]) -> Outcome | None:
        """Prompt for each field, submit, and on errors ask again for just the fields at fault."""
        values = {f.name: form.values.get(f.name, f.default) for f in form.fields}
        given = {k: v for k, v in inline.items() if form.field(k)}
        values.update({k: choice_value(form.field(k), v) for k, v in given.items()})
        # Fields typed inline are answered; with any inline, only missing required fields are asked.
        known = set(given) | ({k for k, v in form.values.items() if v} if given else set())
        todo = [f for f in form.fields if f.name not in known and (f.required or not given)]
        if todo:
            self._print(f"{form.title}: answer each prompt (Enter keeps the value in brackets; :cancel stops).")
        while True:
            for field in todo:
                answer = await self._ask(field, values.get(field.name, ""))
                if answer is None:
                    self._print("Cancelled; nothing was submitted.")
                    return None
                values[field.name] = answer
            outcome = await self.app.dispatcher.submit(form.id, form.state, values, self.actor, self.place, self.port)
            if not isinstance(outcome, FormErrors):
                return outcome
            for message in outcome.errors.values():
                self._print(f"! {message}")
            todo = [f for f in form.fields if f.name in outcome.errors]
            if not todo:  # an error about the form as a whole: nothing to re-ask
                return None
            self._print("Everything else you typed is kept. Please fix:")

    async def _ask(self, field: FormField, current: str) -> str | None:
        hint = "required" if field.required else "optional"
        if field.kind in (FieldKind.SHORT, FieldKind.PARAGRAPH) and field.max_length:
            hint += f", up to {field.max_length} characters"
        if field.choices:
            for number, choice in enumerate(field.choices, 1):
                self._print(f"  {number}. {choice.label}")
        if field.placeholder and not current:
            hint += f"; e.g. {field.placeholder}"
        shown = f" [{current}]" if current else ""
        prompt = f"{field.label} ({hint}){shown}: "
        answer = await self.reader.read(prompt)
        if not self.reader.interactive:  # a transcript shows each prompt with its answer
            self._print(prompt + answer)
        if answer.strip() == ":cancel":
            return None
        if field.kind == FieldKind.PARAGRAPH:
            answer = answer.replace("\\n", "\n")  # one input line; \n marks a line break
        if not answer.strip():
            return current
        return choice_value(field, answer) if field.choices else answer

    def _actor(self, name: str, organizer: bool) -> Actor:
        user_id = name.strip().lower().replace(" ", "-") or "you"
        return Actor(Platform.CONSOLE, user_id, name.strip() or "you", organizer)
