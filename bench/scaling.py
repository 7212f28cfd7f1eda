"""Scaling summary: `python -m bench scaling`.

Measures nothing itself: it reads the latest "burst", "fanout" and "process" results from
bench/results.json (run those first; `python -m bench` runs them in order) and puts their figures
side by side at their three sizes, with what they imply for one process: sustained rates per
action, time to reach everyone on each platform, SQLite write rates and database growth.
docs/scaling.md explains the numbers and where one process stops.
"""

from __future__ import annotations

from typing import Any

from bench import RESULTS_JSON, machine, read_json

NEEDED = ("burst", "fanout", "process")


def _throughput(run_: dict) -> float | None:
    """Final replies per second over the burst (answered ÷ time to the last answer or the cap)."""
    span = run_.get("span_s")
    answered = run_["final_ms"]["answered"]
    return answered / span if span else None


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    missing = [name for name in NEEDED if name not in results]
    if missing:
        raise RuntimeError(f"run these benchmarks first: {', '.join(missing)} (python -m bench {' '.join(missing)})")
    burst, fanout, process = (results[name] for name in NEEDED)
    summary: dict[str, Any] = {"burst": {}, "fanout": {}, "sources": {}}
    for name in NEEDED:
        summary["sources"][name] = results[name]["machine"]["date"]
    for adapter, data in burst["adapters"].items():
        rows = {}
        for r in data["runs"] + data.get("bare", []):
            rows.setdefault(r["action"], {})[str(r["n"])] = {
                "ack_p99_ms": r["ack_ms"]["p99"],
                "final_p50_ms": r["final_ms"]["p50"],
                "final_p99_ms": r["final_ms"]["p99"],
                "answered": r["final_ms"]["answered"],
                "no_ack_in_3s": r["not_acknowledged_in_3s"],
                "answers_per_s": _throughput(r),
                "bot_cpu_ms_per_request": 1000 * r["bot_cpu_s"] / r["n"] if r.get("bot_cpu_s") else None,
            }
        summary["burst"][adapter] = rows
    for r in fanout["runs"]:
        key = f"{r['platform']} {r['config']}"
        for part in ("dms", "channels"):
            p = r[part]
            summary["fanout"].setdefault(key, {}).setdefault(part, {})[str(p["targets"])] = {
                "wall_s": p["wall_s"],
                "floor_s": p["floor_s"] or None,  # Slack: one message per channel implies none
                "ratio": p["ratio"],
                "per_s": p["targets"] / p["wall_s"] if p["wall_s"] else None,
                "duplicates": p["duplicates"],
                "losses": p["losses"],
                "rate_limited_429": p["rate_limited_429"],
            }
    storage = process["storage"]
    summary["storage"] = {
        "mib_per_10k_intents_100k_deliveries": storage["file_mib"],
        "intent_writes_per_s": storage["intent_writes_per_s"],
        "ledger_rows_per_s": storage["ledger_rows_per_s"],
        "sends_settled_per_s": storage["sends_settled_per_s"],
    }
    summary["process"] = {
        "startup_s": process["startup"]["both_s"]["median"],
        "peak_rss_mib": process["targets"]["peak_rss_mib"]["value"],
    }
    # Time to reach N people by DM, from the limits alone (a Discord DM is two requests at 50/s;
    # Slack's per-channel limit allows any number of different people at once, so it is our pacing).
    tuned = fanout.get("tuned", {})
    summary["reach_everyone_s"] = {
        str(n): {
            "discord_limit": n * 2 / 50,
            "slack_tuned_pacing": n / tuned["slack_rate"] if tuned else None,
            "slack_shipped_pacing": n / fanout["shipped"]["slack_rate"],
        }
        for n in (1000, 5000, 20000)
    }
    return summary


def run() -> dict[str, Any]:
    return {"machine": machine(), "summary": summarize(read_json(RESULTS_JSON))}


def _v(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{unit}"


def _ms(value: float | None, cap: str = "> cap") -> str:
    if value is None:
        return cap
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = [
        "## Scaling (`python -m bench scaling`)",
        "",
        "The burst and fan-out figures at their three sizes, side by side (from the runs of "
        + ", ".join(f"{k} {v}" for k, v in s["sources"].items())
        + "); what they mean for a deployment: docs/scaling.md.",
        "",
        "| adapter | action | N | first response p99 | final reply p50 / p99 | answered in time | no ack in 3 s "
        "| answers/s | bot CPU per request |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for adapter, actions in s["burst"].items():
        for action, sizes in actions.items():
            for n, r in sizes.items():
                lines.append(
                    f"| {adapter} | {action} | {n} | {_ms(r['ack_p99_ms'])} | {_ms(r['final_p50_ms'])} / "
                    f"{_ms(r['final_p99_ms'])} | {r['answered']}/{n} | {r['no_ack_in_3s']} "
                    f"| {_v(r['answers_per_s'])} | {_v(r['bot_cpu_ms_per_request'], ' ms', 1)} |"
                )
    lines += [
        "",
        "| fan-out | part | targets | wall | limit floor | wall ÷ floor | per second | duplicates | losses | 429s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, parts in sorted(s["fanout"].items()):
        for part, sizes in parts.items():
            for n, r in sorted(sizes.items(), key=lambda item: int(item[0])):
                floor = _v(r["floor_s"], " s", 1) if r["floor_s"] else "none"
                lines.append(
                    f"| {key} | {part} | {n} | {_v(r['wall_s'], ' s', 1)} | {floor} "
                    f"| {_v(r['ratio'], '', 2)} | {_v(r['per_s'])} | {r['duplicates']} | {r['losses']} "
                    f"| {r['rate_limited_429']} |"
                )
    st = s["storage"]
    lines += [
        "",
        f"SQLite: {_v(st['intent_writes_per_s'])} intents/s, {_v(st['ledger_rows_per_s'])} ledger rows/s "
        f"expanded, {_v(st['sends_settled_per_s'])} sends claimed and settled/s; "
        f"{st['mib_per_10k_intents_100k_deliveries']:.1f} MiB for 10,000 intents and 100,000 deliveries.",
        "",
        "| people to DM | Discord (limit: 2 requests each at 50/s) | Slack at the tuned pacing | Slack as shipped |",
        "|---|---|---|---|",
    ]
    for n, r in s["reach_everyone_s"].items():
        lines.append(
            f"| {int(n):,} | {r['discord_limit'] / 60:.1f} min | {_v((r['slack_tuned_pacing'] or 0) / 60, ' min', 1)} "
            f"| {r['slack_shipped_pacing'] / 60:.1f} min |"
        )
    return "\n".join(lines) + "\n"
