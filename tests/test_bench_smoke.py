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
    assert json.loads(path.read_text()) == merged == {"other": {"kept": True}, "faq": json.loads(json.dumps(result))}

    report = bench_main.render(merged)
    assert "| lexical | tiny |" in report and "## other" in report
    assert "faq" in bench_main.BENCHMARKS


def test_percentile_is_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [bench.percentile(values, p) for p in (0, 50, 95, 100)] == [1.0, 3.0, 5.0, 5.0]


# -- the platform benchmarks (burst, fanout, process, scaling) on tiny sizes -------------------------------
# Each starts `python -m bot run` (and the bare SDK apps) as child processes against the in-repo fakes on
# 127.0.0.1. They run side by side in threads, so the whole check costs about one Discord start-up.
def run_platform_benchmarks_tiny() -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from bench import burst, fanout, process

    tiny = {"sizes": (3,), "cap": 5.0, "faq_engine": "lexical", "warmups": 1}
    jobs = {
        "burst discord": lambda: burst.run(adapters=("discord",), what_if=(), **tiny),
        "burst slack": lambda: burst.run(adapters=("slack",), what_if=(("slack", "click", 2),), **tiny),
        "fanout": lambda: fanout.run(sizes=((3, 2),), default_sizes=(), stagger=0.0),
        "process": lambda: process.run(startup_runs=1, intents=30, deliveries=120, profile=False, faq_engine="lexical"),
    }

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        done = {name: future.result(timeout=120) for name, future in futures.items()}
    merged = done.pop("burst discord")
    slack = done.pop("burst slack")
    merged["adapters"].update(slack["adapters"])
    merged["what_if"] = slack["what_if"]
    return {"burst": merged, **done}


def burst_targets(result: dict) -> list[dict]:
    from bench import burst

    return burst.targets(result)


def check_burst(result: dict) -> None:
    assert set(result["adapters"]) == {"discord", "slack"}
    for adapter, data in result["adapters"].items():
        runs = {r["action"]: r for r in data["runs"]}
        assert set(runs) == {"faq", "coalition_join", "propose_submit", "click"}, adapter
        for action, r in runs.items():
            assert r["n"] == 3 and r["complete"], (adapter, action, r)
            assert r["ack_ms"]["answered"] == r["final_ms"]["answered"] == 3, (adapter, action)
            assert 0 < r["ack_ms"]["p50"] <= r["ack_ms"]["p99"] <= r["ack_ms"]["max"]
            assert 0 < r["final_ms"]["p50"] <= r["final_ms"]["p99"] <= r["final_ms"]["max"]
            assert r["not_acknowledged_in_3s"] == 0, (adapter, action)
        (bare,) = data["bare"]
        assert bare["action"] == "bare" and bare["final_ms"]["answered"] == 3
    (what_if,) = result["what_if"]
    assert what_if["adapter"] == "slack" and what_if["final_ms"]["answered"] == 2
    assert any(t["target"].startswith("first response p99") for t in burst_targets(result))


def check_fanout(result: dict) -> None:
    assert {(r["platform"], r["config"]) for r in result["runs"]} == {("discord", "tuned"), ("slack", "tuned")}
    for r in result["runs"]:
        assert r["settled"], r["scenario"]
        for part, count in (("dms", 3), ("channels", 2)):
            p = r[part]
            assert (p["targets"], p["delivered"], p["duplicates"], p["losses"]) == (count, count, 0, 0), (r, part)
            assert p["ledger"] == {"sent": count}
            assert p["wall_s"] is not None and p["wall_s"] >= 0
        floor = r["dms"]["floor_s"]
        assert floor == (3 * 2 / 50 if r["platform"] == "discord" else 0.0)


def check_process(result: dict) -> None:
    (run,) = result["runs"]
    ready = run["ready"]
    assert 0 < ready["slack_s"] and 0 < ready["discord_s"] <= ready["both_s"]
    assert ready["discord_first_answer_s"] is not None
    assert run["exit_code"] in (0, 130) and run["faq_burst_complete"]  # 130: stopped by SIGINT, as with Ctrl-C
    assert run["after_faq"]["peak"] >= ready["rss_mib"] > 0
    assert 0 < result["console"]["ready_s"] <= result["console"]["first_answer_s"]
    storage = result["storage"]
    assert storage["rows"] == {"intents": 30, "deliveries": 120}
    assert storage["file_mib"] > 0 and storage["intent_writes_per_s"] > 0
    assert set(result["targets"]) == {"startup_s", "peak_rss_mib"}


def test_platform_benchmarks_run_on_tiny_sizes_render_and_summarize(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the benchmarks' scratch folders
    from bench import scaling

    results = run_platform_benchmarks_tiny()
    check_burst(results["burst"])
    check_fanout(results["fanout"])
    check_process(results["process"])
    for result in results.values():
        json.dumps(result)  # storable as is

    summary = scaling.summarize(results)
    assert summary["burst"]["slack"]["click"]["3"]["answered"] == 3
    assert summary["fanout"]["discord tuned"]["dms"]["3"]["losses"] == 0
    report = bench_main.render({**results, "scaling": {"machine": bench.machine(), "summary": summary}})
    for heading in ("## Burst", "## Fan-out", "## Process", "## Scaling"):
        assert heading in report
    assert set(bench_main.BENCHMARKS) >= {"faq", "burst", "fanout", "process", "scaling"}
