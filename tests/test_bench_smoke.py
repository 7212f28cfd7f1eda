"""The FAQ benchmark still runs: five questions, lexical engine (no model), in-process and in a
fresh process, rendered and merged into results.json without touching other keys."""

from __future__ import annotations

import json

import bench
from bench import __main__ as bench_main
from bench import faq

LATENCY_KEYS = {"n", "p50", "p95", "max", "mean"}
SET_KEYS = {
    "questions",
    "in_domain",
    "top1",
    "top3",
    "answered_right",
    "answered_wrong",
    "off_topic",
    "rejected",
    "latency_ms",
    "misses",
}


def tiny_set() -> dict[str, faq.Labelled]:
    """Four in-domain questions and one off-topic one, from the shipped sets."""
    sets = faq.load_sets()
    off_topic = next(pair for pair in sets["heldout"] if pair[0] == "-")
    return {"tiny": [*sets["labelled"][:4], off_topic]}


def check_measured(result: dict) -> None:
    assert result["engine"] == "lexical"
    assert result["entries"] > 0
    for key in ("imports_s", "model_s", "index_s", "load_s", "peak_rss_loaded_mib"):
        assert result[key] >= 0, key
    tiny = result["sets"]["tiny"]
    assert set(tiny) == SET_KEYS
    assert (tiny["questions"], tiny["in_domain"], tiny["off_topic"]) == (5, 4, 1)
    assert 0 <= tiny["answered_right"] + tiny["answered_wrong"] <= tiny["in_domain"]
    assert 0 <= tiny["top1"] <= tiny["top3"] <= tiny["in_domain"]
    for latency in (tiny["latency_ms"], result["latency_ms"]):
        assert set(latency) == LATENCY_KEYS and latency["n"] == 5
        assert 0 < latency["p50"] <= latency["p95"] <= latency["max"]
    assert result["peak_rss_after_questions_mib"] >= result["peak_rss_loaded_mib"] > 0


def test_measure_in_process():
    check_measured(faq.measure("lexical", tiny_set(), warmup=faq.WARMUP[:2]))


def test_run_in_a_fresh_process_renders_and_merges(tmp_path):
    result = faq.run(engines=("lexical",), sets=tiny_set(), cold_runs=1, warmup=faq.WARMUP[:2])
    json.dumps(result)  # storable as is
    engine = result["engines"]["lexical"]
    check_measured(engine)
    assert set(engine["cold"]["load_s"]) == {"median", "min", "max"}
    assert {"date", "cores", "python"} <= set(result["machine"])
    if engine["vm_hwm_mib"] is not None:  # Linux: ru_maxrss is the child's own, not pytest's
        assert abs(engine["peak_rss_after_questions_mib"] - engine["vm_hwm_mib"]) < 8

    path = tmp_path / "results.json"
    path.write_text(json.dumps({"other": {"kept": True}}))
    merged = bench.update_json(path, "faq", result)
    assert (
        json.loads(path.read_text())
        == merged
        == {"other": {"kept": True}, "faq": json.loads(json.dumps(result))}
    )

    report = bench_main.render(merged)
    assert "| lexical | tiny |" in report and "## other" in report
    assert "faq" in bench_main.BENCHMARKS


def test_percentile_is_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [bench.percentile(values, p) for p in (0, 50, 95, 100)] == [1.0, 3.0, 5.0, 5.0]
