"""The MiniLM model as the bot loads it: the int8 lookup rewrite changes no number, and the
knowledge base's vectors kept in a file are used after a restart, and rebuilt when they cannot be."""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from cogs.faq import embedding
from cogs.faq.embedding import Embedder, EmbeddingRanker, shared_embedder
from cogs.faq.knowledge import load_entries
from cogs.faq.model_graph import int8_lookups
from tests.conftest import ROOT

MODEL = Path(str(importlib.resources.files(embedding.MODEL_PACKAGE) / "model.onnx"))
SENTENCES = [
    "When are proposals due?",
    "Is there a fee to attend the conference?",
    "zoom link pls",
    "Can residents from other institutions present a workshop about community health?",
]


def hidden_states(model: bytes | str, embedder: Embedder) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    encoded = embedder.tokenizer.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    return session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]


def test_the_int8_lookup_rewrite_changes_no_number():
    published = MODEL.read_bytes()
    rewritten = int8_lookups(published)
    assert rewritten is not None and rewritten != published
    embedder = shared_embedder()
    assert np.array_equal(hidden_states(str(MODEL), embedder), hidden_states(rewritten, embedder))
    assert int8_lookups(rewritten) is None  # nothing left to rewrite: applying it twice is a no-op


def test_a_model_without_int8_tables_is_left_alone():
    assert int8_lookups(b"") is None
    assert int8_lookups(b"\x08\x07") is None  # a model with an ir_version and no graph


@pytest.fixture
def entries():
    return load_entries(ROOT / "faq.toml")


def test_the_knowledge_base_vectors_are_kept_and_reused_after_a_restart(tmp_path, entries, monkeypatch):
    vectors = tmp_path / "faq-vectors.npz"
    first = EmbeddingRanker(shared_embedder(), cache=vectors)
    first.index(entries)
    assert vectors.exists()

    restarted = Embedder()  # a new process's model: it remembers nothing
    embedded: list[int] = []
    shipped_embed = restarted.embed
    monkeypatch.setattr(restarted, "embed", lambda texts: embedded.append(len(texts)) or shipped_embed(texts))
    second = EmbeddingRanker(restarted, cache=vectors)
    second.index(entries)
    assert embedded == []  # nothing embedded: every text's vector came from the file
    question = "how much does it cost to attend"
    assert second.rank(question) == first.rank(question)

    changed = [entries[0].__class__(entries[0].id, "A brand new question?", entries[0].answer), *entries[1:]]
    second.index(changed)
    assert sum(embedded) == 3  # only the changed entry's texts (question, question + answer, and the query)


def test_stale_or_damaged_vectors_are_computed_again(tmp_path, entries, caplog):
    vectors = tmp_path / "faq-vectors.npz"
    embedder = shared_embedder()
    np.savez(vectors, version=np.array("an older model"), texts=np.array(["x"]), vectors=np.zeros((1, 384)))
    EmbeddingRanker(embedder, cache=vectors).index(entries)
    with np.load(vectors) as stored:
        assert str(stored["version"]) == embedder.version and len(stored["texts"]) > len(entries)

    vectors.write_bytes(b"not a numpy file")
    with caplog.at_level(logging.WARNING):
        ranker = EmbeddingRanker(embedder, cache=vectors)
        ranker.index(entries)
    assert "computing them again" in caplog.text
    assert ranker.rank("when are proposals due")[0][0] == "deadline"


def test_a_repeated_question_is_embedded_once(monkeypatch):
    embedder = Embedder()
    calls: list[list[str]] = []
    shipped_embed = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts: calls.append(list(texts)) or shipped_embed(texts))
    monkeypatch.setattr(embedding, "QUERY_CACHE", 2)
    first = embedder.embed_query("where is the zoom link")
    again = embedder.embed_query("where is the zoom link")
    assert np.array_equal(first, again) and len(calls) == 1
    embedder.embed_query("b")
    embedder.embed_query("c")  # the oldest question is forgotten
    embedder.embed_query("where is the zoom link")
    assert len(calls) == 4


def test_recent_decisions_are_remembered_until_the_entries_change(entries):
    from cogs.faq.engine import FaqEngine, best_ranker

    ranker, bands = best_ranker("lexical")
    engine = FaqEngine(entries, ranker, bands)
    ranked: list[str] = []
    shipped_rank = ranker.rank
    ranker.rank = lambda question: ranked.append(question) or shipped_rank(question)
    first = engine.ask("how much does it cost")
    assert engine.ask("how much does it cost") == first and ranked == ["how much does it cost"]
    engine.reindex([e for e in entries if e.id != first.entry_id])
    assert engine.ask("how much does it cost").entry_id != first.entry_id
    assert len(ranked) == 2
