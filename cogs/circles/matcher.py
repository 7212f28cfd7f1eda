"""Forming circles: a pure, seeded function, so a dry run shows exactly what a round will post.

Groups mix roles and institutions as much as possible, share an area of interest when they can,
and never repeat a pair from earlier rounds when any alternative exists. Sizes are `size` or
`size + 1` (never a group of one); fewer than two people make no group.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REPEAT_PENALTY = 1000.0


@dataclass(frozen=True)
class Person:
    id: str
    role: str
    areas: frozenset[str] = frozenset()
    institution: str = ""


Pair = frozenset[str]


def group_sizes(count: int, size: int) -> list[int]:
    """Balanced sizes, each `size` or `size + 1` where possible, never below 2."""
    if count < 2:
        return []
    groups = count // size
    if groups == 0 or count % size > groups:
        groups += 1  # too many left over to add one to each group: one more, smaller group
    base, extra = divmod(count, groups)
    return [base + 1] * extra + [base] * (groups - extra)


def pairs(group: Iterable[str]) -> set[Pair]:
    return {frozenset(p) for p in itertools.combinations(group, 2)}


def group_score(group: Sequence[Person], history: set[Pair]) -> float:
    repeats = sum(1 for a, b in itertools.combinations(group, 2) if frozenset((a.id, b.id)) in history)
    roles = len({p.role for p in group})
    institutions = len({p.institution.strip().lower() for p in group if p.institution.strip()})
    shared_by_all = frozenset.intersection(*(p.areas for p in group)) if group else frozenset()
    shared_by_some = any(a.areas & b.areas for a, b in itertools.combinations(group, 2))
    area_bonus = 2.0 if shared_by_all else 1.0 if shared_by_some else 0.0
    return 3.0 * roles + 1.0 * institutions + area_bonus - REPEAT_PENALTY * repeats


def match(people: Sequence[Person], size: int, history: set[Pair], seed: int) -> list[list[str]]:
    """Groups of person ids. Deterministic for the same people, size, history and seed."""
    rng = random.Random(seed)
    ordered = sorted(people, key=lambda p: p.id)
    sizes = group_sizes(len(ordered), size)
    best: list[list[Person]] = []
    best_score = float("-inf")
    # A few seeded restarts, only while a pair still repeats (one pass is the usual case).
    for _attempt in range(6):
        rng.shuffle(ordered)
        groups = _slices(ordered, sizes)
        scores = [group_score(g, history) for g in groups]
        if len(groups) > 1:
            for _ in range(min(20000, 30 * len(ordered))):
                a, b = rng.sample(range(len(groups)), 2)
                _try_swap(groups, scores, a, b, rng.randrange(len(groups[a])), rng.randrange(len(groups[b])), history)
            _remove_repeats(groups, scores, history)
        if sum(scores) > best_score:
            best, best_score = groups, sum(scores)
        if repeated_pairs(([p.id for p in g] for g in best), history) == 0:
            break
    return [sorted(p.id for p in g) for g in best]


def _slices(ordered: list[Person], sizes: list[int]) -> list[list[Person]]:
    groups, start = [], 0
    for n in sizes:
        groups.append(ordered[start : start + n])
        start += n
    return groups


def _try_swap(groups, scores, a: int, b: int, i: int, j: int, history: set[Pair]) -> bool:
    new_a = [*groups[a][:i], groups[b][j], *groups[a][i + 1 :]]
    new_b = [*groups[b][:j], groups[a][i], *groups[b][j + 1 :]]
    return _accept(groups, scores, a, b, new_a, new_b, history)


def _try_move(groups, scores, a: int, b: int, i: int, history: set[Pair]) -> bool:
    """Move one person from a group to one a person smaller: the set of sizes stays the same."""
    if len(groups[a]) != len(groups[b]) + 1:
        return False
    new_a = [*groups[a][:i], *groups[a][i + 1 :]]
    new_b = [*groups[b], groups[a][i]]
    return _accept(groups, scores, a, b, new_a, new_b, history)


def _accept(groups, scores, a, b, new_a, new_b, history) -> bool:
    score_a, score_b = group_score(new_a, history), group_score(new_b, history)
    if score_a + score_b > scores[a] + scores[b] + 1e-9:
        groups[a], groups[b], scores[a], scores[b] = new_a, new_b, score_a, score_b
        return True
    return False


def _remove_repeats(groups, scores, history: set[Pair]) -> None:
    """For each group that still repeats a pair, try every swap and move until none helps."""
    improved = True
    while improved:
        improved = False
        for a in range(len(groups)):
            if scores[a] > -REPEAT_PENALTY / 2:
                continue
            for i, b in itertools.product(range(len(groups[a])), range(len(groups))):
                if b == a or i >= len(groups[a]):
                    continue
                if _try_move(groups, scores, a, b, i, history) or any(
                    _try_swap(groups, scores, a, b, i, j, history) for j in range(len(groups[b]))
                ):
                    improved = True
                    break


def repeated_pairs(groups: Iterable[Iterable[str]], history: set[Pair]) -> int:
    return sum(len(pairs(g) & history) for g in groups)
