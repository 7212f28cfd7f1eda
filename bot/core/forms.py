"""Form validation, done once in the core so every platform gives the same specific messages."""

from __future__ import annotations

import datetime as dt
import re

from bot.core.clock import OutOfRangeError, parse_instant
from bot.core.model import FieldKind, Form, FormField

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]{2,}$")


def validate_form(form: Form, values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return (clean values, errors by field name). Unknown keys are ignored, never stored."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in form.fields:
        value = (values.get(field.name) or "").strip()
        problem = check_field(field, value)
        if problem:
            errors[field.name] = problem
        else:
            clean[field.name] = value
    return clean, errors


def check_field(field: FormField, value: str) -> str | None:
    """The problem with `value` for `field`, as a sentence a person can act on, or None."""
    if not value:
        return f"{field.label} is required." if field.required else None
    if len(value) < field.min_length:
        return f"{field.label} needs at least {field.min_length} characters (you wrote {len(value)})."
    if len(value) > field.max_length:
        return (
            f"{field.label} can be at most {field.max_length} characters "
            f"(you wrote {len(value)}); please shorten it by {len(value) - field.max_length}."
        )
    if field.kind == FieldKind.SHORT and "\n" in value:
        return f"{field.label} must fit on one line."
    if field.kind == FieldKind.EMAIL and not _EMAIL.match(value):
        return f"{field.label} must be an email address like name@example.org."
    if field.kind == FieldKind.INTEGER and not re.fullmatch(r"[+-]?\d+", value):
        return f"{field.label} must be a whole number."
    if field.kind == FieldKind.DATETIME:
        try:
            parse_instant(value, dt.UTC)
        except OutOfRangeError as exc:
            return f"{field.label}: {exc}."
        except ValueError:
            return f"{field.label}: write a date and time like 2023-06-23 09:00."
    if field.kind == FieldKind.CHOICE and value not in {c.value for c in field.choices}:
        options = ", ".join(c.label for c in field.choices)
        return f"{field.label} must be one of: {options}."
    return None


def choice_value(field: FormField, typed: str) -> str:
    """Accept a choice by its value, its label or its 1-based number (for text platforms)."""
    typed = typed.strip()
    for number, choice in enumerate(field.choices, 1):
        if typed.lower() in {choice.value.lower(), choice.label.lower(), str(number)}:
            return choice.value
    return typed
