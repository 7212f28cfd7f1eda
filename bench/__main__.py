"""`python -m bench [NAME ...]`: run benchmarks (all registered ones by default) and record them.

Each result is merged into bench/results.json under the benchmark's name (other keys are kept),
and bench/results.md is rewritten from the whole JSON, one section per benchmark.

To add a benchmark, write a module with
    run() -> dict            # JSON-serialisable; include when and where it ran (bench.machine())
    markdown(result) -> str  # a Markdown section for results.md
and add it to BENCHMARKS. Modules are imported only when run or rendered.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

from bench import RESULTS_JSON, RESULTS_MD, read_json, update_json, write_text

BENCHMARKS: dict[str, str] = {
    "faq": "bench.faq",  # FAQ matching: cold load, peak RSS, latency, accuracy per engine
    "burst": "bench.burst",  # N simultaneous commands per adapter: first response and final reply vs bare SDKs
    "fanout": "bench.fanout",  # a nudge to 5,000 DMs and an announcement to 50 channels under the rate limits
    "process": "bench.process",  # start-up, peak RSS and where it goes, database size
    "scaling": "bench.scaling",  # burst and fan-out at three sizes side by side (reads the three above)
}


def module(name: str) -> ModuleType:
    return importlib.import_module(BENCHMARKS[name])


def render(results: dict) -> str:
    sections = [
        "# Benchmarks",
        "",
        "Written by `python -m bench`; each section is that benchmark's latest run. Raw numbers: results.json.",
    ]
    for name, result in results.items():
        if name in BENCHMARKS:
            sections += ["", module(name).markdown(result).rstrip("\n")]
        else:
            sections += ["", f"## {name}", "", "No renderer registered; see results.json."]
    return "\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--no-write", action="store_true", help="print the JSON; leave results.* alone")
    parser.add_argument("--json", type=Path, default=RESULTS_JSON, help="results file (default: %(default)s)")
    parser.add_argument("--markdown", type=Path, default=RESULTS_MD, help="report (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    for name in args.names or list(BENCHMARKS):
        print(f"running {name}…", file=sys.stderr, flush=True)
        result = module(name).run()
        if args.no_write:
            print(json.dumps({name: result}, indent=2, ensure_ascii=False))
            continue
        update_json(args.json, name, result)
        write_text(args.markdown, render(read_json(args.json)))
        print(module(name).markdown(result))
    if not args.no_write:
        print(f"wrote {args.json} and {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
