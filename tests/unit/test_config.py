import datetime as dt
import subprocess
import sys

import pytest

from bot.config import ConfigError, load_config
from tests.conftest import CONFIG_PATH, ROOT


def test_shipped_config_describes_the_announced_conference(config):
    assert config.conference.dates == [dt.date(2023, 10, 13), dt.date(2023, 10, 14)]
    assert [d.strftime("%A") for d in config.conference.dates] == ["Friday", "Saturday"]
    assert config.conference.timezone == "America/New_York"
    assert {t.label for t in config.proposals.types} == {
        "Poster abstract",
        "Personal narrative",
        "Workshop",
        "Fireside Chat",
    }
    assert len(config.areas) == 3


def test_deadline_is_the_last_second_of_june_30_in_new_york(config):
    deadline = config.deadline
    assert deadline.isoformat() == "2023-06-30T23:59:59-04:00"
    assert deadline.astimezone(dt.UTC) == dt.datetime(2023, 7, 1, 3, 59, 59, tzinfo=dt.UTC)


def write_broken(tmp_path, transform) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(transform(CONFIG_PATH.read_text()))
    return str(path)


def break_three_ways(text: str) -> str:
    text = text.replace("dates = [2023-10-13, 2023-10-14]", 'dates = ["Oct 13", 2023-10-14]')
    text = text.replace("virtual = true", "virtual = true\nvenue = 'Zoom'")
    return text.replace("deadline = 2023-06-30\n", "")


def test_every_problem_is_reported_by_key(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(write_broken(tmp_path, break_three_ways))
    problems = caught.value.problems
    assert len(problems) == 3
    assert any(p.startswith("conference.dates.0:") and "2023-10-13" in p for p in problems)
    assert not any("Oct 13" in p for p in problems)  # the key and what it expects, never the value
    assert "conference.venue: unknown key (check the spelling, or remove it)" in problems
    assert "proposals.deadline: required but missing" in problems


def test_check_config_prints_all_problems_and_exits_2_without_traceback(tmp_path):
    path = write_broken(tmp_path, break_three_ways)
    done = subprocess.run([sys.executable, "-m", "bot", "check-config", path], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "3 problem(s)" in done.stderr
    for key in ("conference.dates.0", "conference.venue", "proposals.deadline"):
        assert key in done.stderr
    assert "Traceback" not in done.stderr


def test_check_config_accepts_the_shipped_file():
    done = subprocess.run([sys.executable, "-m", "bot", "check-config"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout
    assert "2023-06-30 23:59 EDT" in done.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda t: t.replace('"America/New_York"', '"Mars/Olympus"'),
            "conference.timezone: unknown time zone",
        ),
        (lambda t: t.replace('"America/New_York"', '"America"'), "conference.timezone: unknown time zone"),
        (lambda t: t.replace('"America/New_York"', '"' + "a" * 300 + '"'), "conference.timezone: unknown time zone"),
        (
            lambda t: t.replace("deadline = 2023-06-30", "deadline = 2023-11-30"),
            "before the first conference",
        ),
        (lambda t: t.replace('id = "gme"', 'id = "ume"'), "areas: ids must be unique; repeated: ume"),
        (lambda t: t.replace('@mssm.edu"', ' at mssm"'), "links.contact_email"),
        (lambda t: t.replace("[conference]", "[conference\n"), "not valid TOML"),
    ],
)
def test_specific_messages(tmp_path, change, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(write_broken(tmp_path, change))
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert caught.value.problems == ["file not found"]


def test_changing_config_changes_the_facts(tmp_path):
    path = write_broken(tmp_path, lambda t: t.replace("deadline = 2023-06-30", "deadline = 2023-07-15"))
    assert load_config(path).deadline.date() == dt.date(2023, 7, 15)
