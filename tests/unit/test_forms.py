import pytest

from bot.core.forms import check_field, choice_value, validate_form
from bot.core.model import Choice, FieldKind, Form, FormField

AREAS = (Choice("ume", "Undergraduate medical education"), Choice("gme", "Graduate medical education"))
FORM = Form(
    "intent",
    "Proposal",
    (
        FormField("title", "Working title", min_length=5, max_length=20),
        FormField("area", "Area", FieldKind.CHOICE, choices=AREAS),
        FormField("email", "Contact email", FieldKind.EMAIL),
        FormField("notes", "Notes", FieldKind.PARAGRAPH, required=False, max_length=50),
    ),
)


def test_valid_values_come_back_clean_and_unknown_keys_are_dropped():
    clean, errors = validate_form(FORM, {"title": "  Our work  ", "area": "ume", "email": "a@b.org", "evil": "x"})
    assert errors == {}
    assert clean == {"title": "Our work", "area": "ume", "email": "a@b.org", "notes": ""}


def test_every_bad_field_gets_its_own_specific_message():
    _, errors = validate_form(FORM, {"title": "abc", "area": "xyz", "email": "nope", "notes": "n" * 60})
    assert errors == {
        "title": "Working title needs at least 5 characters (you wrote 3).",
        "area": "Area must be one of: Undergraduate medical education, Graduate medical education.",
        "email": "Contact email must be an email address like name@example.org.",
        "notes": "Notes can be at most 50 characters (you wrote 60); please shorten it by 10.",
    }


def test_missing_required_fields_are_named():
    _, errors = validate_form(FORM, {})
    assert errors["title"] == "Working title is required."
    assert "notes" not in errors


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (FormField("n", "Count", FieldKind.INTEGER), "3.5", "whole number"),
        (FormField("t", "Title"), "two\nlines", "one line"),
        (FormField("t", "Title", FieldKind.PARAGRAPH), "two\nlines", None),
        (FormField("n", "Count", FieldKind.INTEGER), "-4", None),
    ],
)
def test_kinds(field, value, problem):
    result = check_field(field, value)
    assert (result is None) if problem is None else (problem in result)


def test_text_platforms_may_pick_a_choice_by_number_or_label():
    field = FORM.field("area")
    assert choice_value(field, "2") == "gme"
    assert choice_value(field, "undergraduate medical education") == "ume"
    assert choice_value(field, "other") == "other"  # left for validation to refuse
