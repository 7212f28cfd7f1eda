"""The FAQ engine: the current entries, the best ranker that loads, and the answer bands.

Shared by the cog and the organizer tools (`python -m bot faq ask|check|export`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cogs.faq.knowledge import Entry
from cogs.faq.matching import (
    LEXICAL_BANDS,
    Bands,
    Decision,
    LexicalRanker,
    Ranker,
    SpellingRanker,
    decide,
)

log = logging.getLogger(__name__)


def best_ranker(engine: str = "auto", cache: Path | None = None) -> tuple[Ranker, Bands]:
    """The embedding ranker when it loads (or is asked for), else the lexical one. `cache`: a file
    keeping the knowledge base's vectors across restarts."""
    if engine != "lexical":
        from cogs.faq.embedding import EMBEDDING_BANDS, EmbeddingRanker, ModelUnavailable

        try:
            return SpellingRanker(EmbeddingRanker(cache=cache)), EMBEDDING_BANDS
        except ModelUnavailable as exc:
            if engine == "embedding":
                raise
            log.warning("FAQ model unavailable (%s); answering with lexical matching", exc)
    return SpellingRanker(LexicalRanker()), LEXICAL_BANDS


class FaqEngine:
    REMEMBERED = 1024  # recent questions whose decision is kept until the entries change

    def __init__(self, entries: Sequence[Entry], ranker: Ranker, bands: Bands):
        self.ranker = ranker
        self.bands = bands
        self.entries: dict[str, Entry] = {}
        self._decisions: OrderedDict[str, Decision] = OrderedDict()
        self.reindex(entries)

    def reindex(self, entries: Iterable[Entry]) -> None:
        self.entries = {e.id: e for e in entries}
        self.ranker.index(list(self.entries.values()))
        self._decisions.clear()

    def ask(self, question: str) -> Decision:
        """The decision for `question`; in a rush many people ask the same thing, so recent ones are
        remembered (not thread-safe: the cog asks from its one model thread)."""
        decision = self._decisions.get(question)
        if decision is None:
            decision = self._decisions[question] = decide(self.ranker.rank(question), self.bands)
            if len(self._decisions) > self.REMEMBERED:
                self._decisions.popitem(last=False)
        else:
            self._decisions.move_to_end(question)
        return decision


@dataclass
class CheckReport:
    in_domain: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    off_topic: int = 0
    rejected: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.top1 / self.in_domain if self.in_domain else 0.0

    @property
    def rejection(self) -> float:
        return self.rejected / self.off_topic if self.off_topic else 0.0

    def lines(self) -> list[str]:
        pct = lambda n, d: f"{100 * n / d:.1f} %" if d else "n/a"  # noqa: E731
        return [
            f"in-domain questions: {self.in_domain}",
            f"top-1 accuracy: {pct(self.top1, self.in_domain)} ({self.top1}/{self.in_domain})",
            f"top-3 accuracy: {pct(self.top3, self.in_domain)}",
            f"answered directly and right: {pct(self.answered_right, self.in_domain)}",
            f"off-topic questions: {self.off_topic}",
            f"off-topic rejection: {pct(self.rejected, self.off_topic)} ({self.rejected}/{self.off_topic})",
            *(f"miss: {m}" for m in self.misses),
        ]


def check(engine: FaqEngine, labelled: Iterable[tuple[str, str]]) -> CheckReport:
    """Score labelled (expected id or '-', question) pairs.

    In-domain: top-1 is the best-ranked entry whatever the band. Off-topic: rejected when the
    decision is not a direct answer (a "did you mean" is an honest hedge, not a wrong answer)."""
    report = CheckReport()
    for expected, question in labelled:
        decision = engine.ask(question)
        ranked = [entry_id for entry_id, _ in decision.top]
        shown = ", ".join(f"{i} {s:.2f}" for i, s in decision.top)
        if expected == "-":
            report.off_topic += 1
            if decision.outcome != "answer":
                report.rejected += 1
            else:
                report.misses.append(f"- {question!r} answered with {shown}")
            continue
        report.in_domain += 1
        report.top1 += bool(ranked) and ranked[0] == expected
        report.top3 += expected in ranked
        report.answered_right += decision.entry_id == expected
        if not ranked or ranked[0] != expected:
            report.misses.append(f"{expected} {question!r} ranked {shown} ({decision.outcome})")
    return report


def read_labelled(text: str) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        expected, sep, question = line.partition("\t")
        if not sep or not question.strip():
            raise ValueError(f"line {number}: expected 'id<TAB>question'")
        pairs.append((expected.strip(), question.strip()))
    return pairs
