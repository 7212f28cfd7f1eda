"""FAQ answers hold config facts as {placeholders}; one that str.format() cannot fill is refused."""

import datetime as dt

import pytest

from cogs.faq.knowledge import Entry, entry_problems, render_answer

NOW = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)


def test_facts_and_doubled_braces_are_fine(config):
    entry = Entry("due", "When is it due?", "By {deadline}, {time_left}. Write {{braces}} like this.")
    assert entry_problems(entry) == []
    assert "{braces}" in render_answer(entry, config, NOW) and "{deadline}" not in render_answer(entry, config, NOW)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("It costs {} dollars.", "empty {} placeholder"),
        ("Due {deadline!x}.", "{deadline!x} can only hold a fact's name"),
        ("Due {deadline!r}.", "{deadline!r} can only hold a fact's name"),
        ("Due {deadline:%Y}.", "{deadline:%Y} can only hold a fact's name"),
        ("Due {0}.", "unknown fact(s) 0"),
        ("Due {deadline.year}.", "unknown fact(s) deadline.year"),
        ("Due } soon.", "broken {placeholder}"),
    ],
)
def test_placeholders_format_cannot_fill_are_refused_by_name(answer, problem):
    problems = entry_problems(Entry("due", "When is it due?", answer))
    assert len(problems) == 1 and problem in problems[0], problems


def test_an_answer_saved_before_the_check_is_shown_as_written(config):
    entry = Entry("due", "When is it due?", "Due {deadline:%Y}, costs {}.")
    assert render_answer(entry, config, NOW) == entry.answer
