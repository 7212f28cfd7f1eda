"""Coalition circles: the matcher's properties, and rounds from opt-in to follow-up and stats."""

import dataclasses
import datetime as dt
import itertools
import random
import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.model import Place, Platform
from cogs.circles.matcher import Person, group_sizes, match, pairs, repeated_pairs
from tests.cogs.test_reminders import world  # noqa: F401  (fixture)
from tests.conftest import console_actor

ROLES = ["medical student", "house staff", "faculty", "dean or director", "community member", "postdoc"]
AREAS = ["ume", "gme", "community"]

people_strategy = st.lists(
    st.builds(
        lambda i, role, areas, inst: Person(f"p{i}", role, frozenset(areas), inst),
        st.integers(0, 10_000),
        st.sampled_from(ROLES),
        st.sets(st.sampled_from(AREAS), min_size=1),
        st.sampled_from(["", "Sinai", "Columbia", "NYU", "Howard"]),
    ),
    min_size=0,
    max_size=40,
    unique_by=lambda p: p.id,
)


@settings(max_examples=1000, deadline=None)
@given(people=people_strategy, size=st.sampled_from([3, 4]), seed=st.integers(0, 2**31))
def test_everyone_is_placed_exactly_once_in_groups_of_a_sane_size(people, size, seed):
    groups = match(people, size, set(), seed)
    placed = [p for g in groups for p in g]
    if len(people) < 2:
        assert groups == []
        return
    assert sorted(placed) == sorted(p.id for p in people)
    assert all(2 <= len(g) <= size + 1 for g in groups)
    assert match(people, size, set(), seed) == groups  # deterministic: a dry run shows what will be posted


@settings(max_examples=300, deadline=None)
@given(
    people=people_strategy.filter(lambda p: len(p) >= 15) | st.just([]),
    size=st.sampled_from([3, 4]),
    seed=st.integers(0, 2**31),
)
def test_no_pair_repeats_when_an_alternative_exists(people, size, seed):
    if len(people) < size * (size + 2):
        # Below this, a group can be larger than the number of earlier groups, and then some pair
        # must meet again (pigeonhole): no repeat-free alternative exists.
        return
    first = match(people, size, set(), seed)
    history = set().union(*(pairs(g) for g in first))
    second = match(people, size, history, seed + 1)
    assert repeated_pairs(second, history) == 0


def test_group_sizes_never_leave_anyone_alone():
    for count in range(2, 200):
        for size in (3, 4):
            sizes = group_sizes(count, size)
            assert sum(sizes) == count and min(sizes) >= 2 and max(sizes) <= size + 1
    assert group_sizes(1, 3) == [] and group_sizes(0, 3) == []


def test_roles_mix_better_than_random_on_average():
    rng = random.Random(7)
    ours, baseline = [], []
    for trial in range(60):
        people = [Person(f"p{i}", rng.choice(ROLES[:3]), frozenset({rng.choice(AREAS)})) for i in range(24)]
        groups = match(people, 3, set(), trial)
        roles = {p.id: p.role for p in people}
        ours.append(statistics.mean(len({roles[m] for m in g}) for g in groups))
        shuffled = [p.id for p in people]
        rng.shuffle(shuffled)
        random_groups = [shuffled[i : i + 3] for i in range(0, 24, 3)]
        baseline.append(statistics.mean(len({roles[m] for m in g}) for g in random_groups))
    assert statistics.mean(ours) > statistics.mean(baseline) + 0.3


# -- rounds through the dispatcher ----------------------------------------------------------
def slack_person(name):
    return dataclasses.replace(console_actor(name), platform=Platform.SLACK)


async def join(app, actor, role, areas="all", institution=""):
    form = await app.dispatcher.run_command("circles join", {}, actor, Place(Platform.SLACK, "S1"))
    values = {"role": role, "areas": areas, "institution": institution, "timezone": ""}
    return await app.dispatcher.submit(form.id, form.state, values, actor, Place(Platform.SLACK, "S1"))


async def test_a_round_from_opt_in_to_follow_up_and_stats(world):  # noqa: F811
    app, lobby = world.app, Place(Platform.SLACK, "S1")
    olu = console_actor("olu", organizer=True)
    names = [f"person{i}" for i in range(7)]
    for i, name in enumerate(names):
        reply = await join(app, slack_person(name), ROLES[i % 3], "ume, community" if i % 2 else "gme")
        assert "You're in!" in reply.text
    bad = await join(app, slack_person("zed"), "faculty", "dentistry")
    assert bad.errors["areas"].startswith("Unknown area(s): dentistry")
    await app.dispatcher.run_command("circles pause", {}, slack_person("person6"), lobby)

    dry = await app.dispatcher.run_command("circles match", {"dry-run": "yes"}, olu, lobby)
    assert "**Dry run**" in dry.text and "person6" not in dry.text
    dry_groups = sorted(line for line in dry.text.splitlines() if line.startswith("- "))
    assert world.slack.sent == []

    announced = await app.dispatcher.run_command("circles match", {}, olu, lobby)
    assert "Round #1 is announced" in announced.text and "6 member(s) were told" in announced.text
    warned = [t for kind, t, m in world.slack.sent if kind == "user" and "/circles pause" in m.text]
    assert sorted(warned) == sorted(names[:6])
    again = await app.dispatcher.run_command("circles match", {"dry-run": "yes"}, olu, lobby)
    assert sorted(line for line in again.text.splitlines() if line.startswith("- ")) == dry_groups

    await world.at(app.clock.now() + dt.timedelta(hours=24))
    intros = [(t, m.text) for kind, t, m in world.slack.sent if kind == "user" and "Your coalition circle" in m.text]
    assert len(intros) == 6  # no group space on this port: each member hears about their circle
    groups = await app.db.fetchall("SELECT * FROM circle_groups")
    assert len(groups) == 2
    posted = sorted(
        "- " + ", ".join(sorted(t for t, text in intros if text == body)) for body in {b for _, b in intros}
    )
    assert posted == dry_groups  # exactly what the dry run showed

    await world.restart()
    await world.app.deliveries.run_due()
    assert len([m for kind, _, m in world.slack.sent if "Your coalition circle" in m.text]) == 6  # not twice

    await world.at(world.app.clock.now() + dt.timedelta(days=7))
    followups = [m for kind, t, m in world.slack.sent if "get to meet" in m.text]
    assert len(followups) == 6
    yes = followups[0].buttons[0].id
    target = next(t for kind, t, m in world.slack.sent if m is followups[0])
    answer = await world.app.dispatcher.click(yes, slack_person(target), lobby)
    assert "Thanks for telling us" in answer.text
    assert "someone else's circle" in (await world.app.dispatcher.click(yes, slack_person("zed"), lobby)).text
    stats = await world.app.dispatcher.run_command("circles stats", {}, olu, lobby)
    assert "6 active members; 1 round(s), 2 circle(s)" in stats.text and "met: 100 % of 1 who answered" in stats.text


async def test_nobody_is_matched_without_opting_in_and_leaving_works(world):  # noqa: F811
    app, lobby = world.app, Place(Platform.SLACK, "S1")
    status = await app.dispatcher.run_command("circles status", {}, slack_person("ana"), lobby)
    assert "not in circles" in status.text
    assert "not in circles" in (await app.dispatcher.run_command("circles leave", {}, slack_person("ana"), lobby)).text
    await join(app, slack_person("ana"), "faculty")
    left = await app.dispatcher.run_command("circles leave", {}, slack_person("ana"), lobby)
    assert "You left circles" in left.text
    olu = console_actor("olu", organizer=True)
    dry = await app.dispatcher.run_command("circles match", {"dry-run": "yes"}, olu, lobby)
    assert "ana" not in dry.text
    for name in ("circles match", "circles stats"):
        assert "only organizers" in (await app.dispatcher.run_command(name, {}, slack_person("ana"), lobby)).text


def test_history_pairs_are_unordered():
    assert pairs(["a", "b", "c"]) == {frozenset(p) for p in itertools.combinations("abc", 2)}
