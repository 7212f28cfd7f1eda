"""Ranking FAQ entries for a question, and deciding between answer, "did you mean" and fallback.

Two rankers share one interface. The embedding ranker (MiniLM, offline) understands paraphrases;
the lexical ranker (rapidfuzz) needs nothing to load and is the fallback when the model cannot be.
Each entry is indexed as its question, its alternates and question + answer; its score is the best
over those texts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz, process

from cogs.faq.knowledge import Entry

log = logging.getLogger(__name__)


class Ranker(Protocol):
    name: str

    def index(self, entries: Sequence[Entry]) -> None: ...

    def rank(self, question: str) -> list[tuple[str, float]]:
        """(entry id, score in 0..1), best first."""


@dataclass(frozen=True)
class Bands:
    """Score bands, tuned on tests/data/faq_labelled.tsv (see `python -m bot faq check`)."""

    answer: float  # at or above: answer
    suggest: float  # at or above (and below answer, or too close to the runner-up): did you mean
    margin: float  # top-1 minus top-2 below this: too close to call, suggest instead
    # A lower score still answers when it stands far above the runner-up (one clear candidate).
    clear_lead: float = 1.0
    clear_floor: float = 1.0


@dataclass(frozen=True)
class Decision:
    outcome: str  # "answer", "suggest" or "unknown"
    top: list[tuple[str, float]]

    @property
    def entry_id(self) -> str | None:
        return self.top[0][0] if self.outcome == "answer" else None

    @property
    def suggestions(self) -> list[str]:
        return [entry_id for entry_id, _ in self.top] if self.outcome == "suggest" else []


def decide(ranking: list[tuple[str, float]], bands: Bands) -> Decision:
    top = ranking[:3]
    if not top or top[0][1] < bands.suggest:
        return Decision("unknown", top)
    runner_up = top[1][1] if len(top) > 1 else 0.0
    lead = top[0][1] - runner_up
    if top[0][1] >= bands.answer and lead >= bands.margin:
        return Decision("answer", top)
    if top[0][1] >= bands.clear_floor and lead >= bands.clear_lead:
        return Decision("answer", top)
    return Decision("suggest", [t for t in top if t[1] >= bands.suggest])


# -- lexical ------------------------------------------------------------------------------------
STOPWORDS = set(
    """a an the is are was were be been am do does did i me my we our you your it its this that of to in on
    for at by with from and or but if so as what when where who whom which how can could would should will
    there here any some about into than then them they he she his her us please hi hello hey just also
    get got have has had im i'm i've id i'd need want know tell anyone ok okay""".split()
)
_WORD = re.compile(r"[a-z0-9']+")


def content_words(text: str) -> str:
    words = [w.strip("'") for w in _WORD.findall(text.lower())]
    return " ".join(w for w in words if w and w not in STOPWORDS)


class LexicalRanker:
    name = "lexical"

    def __init__(self) -> None:
        self._texts: list[tuple[str, str]] = []

    def index(self, entries: Sequence[Entry]) -> None:
        self._texts = [(e.id, content_words(t)) for e in entries for t in e.texts()]

    def rank(self, question: str) -> list[tuple[str, float]]:
        query = content_words(question)
        best: dict[str, float] = {}
        if not query:
            return []
        for entry_id, text in self._texts:
            # token_set alone saturates (any subset scores 100); token_sort penalises extra words.
            score = (fuzz.token_set_ratio(query, text) + fuzz.token_sort_ratio(query, text)) / 200
            if score > best.get(entry_id, -1.0):
                best[entry_id] = score
        return sorted(best.items(), key=lambda item: -item[1])


LEXICAL_BANDS = Bands(answer=0.65, suggest=0.45, margin=0.03)


class Speller:
    """Fixes typos against the knowledge base's own words ('deadlin' → 'deadline', 'registr' →
    'registration'), so both rankers see words they know. Words it cannot place are left alone."""

    def __init__(self, entries: Sequence[Entry] = ()):
        self.vocabulary: set[str] = set()
        self.index(entries)

    def index(self, entries: Sequence[Entry]) -> None:
        words = {w for e in entries for t in e.texts() for w in _WORD.findall(t.lower())}
        self.vocabulary = {w for w in words if len(w) >= 4}

    def correct(self, text: str) -> str:
        return _WORD.sub(lambda m: self._word(m.group(0)), text.lower())

    def _word(self, word: str) -> str:
        if len(word) < 5 or word in self.vocabulary or word in STOPWORDS:
            return word
        prefixed = sorted(v for v in self.vocabulary if v.startswith(word))
        if prefixed:
            return min(prefixed, key=len)
        found = process.extractOne(word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=80)
        return found[0] if found else word


class SpellingRanker:
    """Wraps a ranker: ranks the question as typed and as spell-corrected, keeping each entry's best."""

    def __init__(self, inner: Ranker):
        self.inner = inner
        self.name = inner.name
        self.speller = Speller()

    def index(self, entries: Sequence[Entry]) -> None:
        self.speller.index(entries)
        self.inner.index(entries)

    def rank(self, question: str) -> list[tuple[str, float]]:
        best = dict(self.inner.rank(question))
        corrected = self.speller.correct(question)
        if corrected != question.lower():
            for entry_id, score in self.inner.rank(corrected):
                best[entry_id] = max(score, best.get(entry_id, -1.0))
        return sorted(best.items(), key=lambda item: -item[1])
