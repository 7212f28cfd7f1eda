"""Stopping on SIGINT / SIGTERM: tidy when possible, bounded when not, at once on a second signal.

Each case runs `bot.stopping.run_until_signalled` in a child process (it installs signal handlers and
may exit the process), with work that reports its progress on stdout."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.asyncio

CHILD = """
import asyncio, logging, sys
from bot.stopping import run_until_signalled
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

async def work():
    print("serving", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        {finally_}

async def main():
    return await run_until_signalled(work(), patience={patience})

sys.exit(asyncio.run(main()))
"""


async def _start(finally_: str, patience: float = 20.0) -> asyncio.subprocess.Process:
    code = textwrap.dedent(CHILD).format(finally_=finally_, patience=patience)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert line == b"serving\n", (line, await process.stderr.read())
    return process


async def _finish(process: asyncio.subprocess.Process, within: float) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), within)
    return process.returncode, out.decode(), err.decode()


async def test_sigterm_stops_tidily_like_ctrl_c():
    process = await _start('print("closed tidily", flush=True)')
    process.send_signal(signal.SIGTERM)
    code, out, err = await _finish(process, 30)
    assert code == 128 + signal.SIGTERM, err
    assert "closed tidily" in out
    assert "SIGTERM: stopping" in err


async def test_ctrl_c_stops_tidily_with_the_shells_code():
    process = await _start('print("closed tidily", flush=True)')
    process.send_signal(signal.SIGINT)
    code, out, err = await _finish(process, 30)
    assert code == 130, err
    assert "closed tidily" in out
    assert "Traceback" not in err


async def test_a_stop_that_hangs_ends_after_the_patience_saying_where_it_hung():
    process = await _start("await asyncio.sleep(600)  # a close that never returns", patience=2.0)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, _, err = await _finish(process, 60)
    assert code == 1, err  # not a clean stop: a service manager should notice
    assert time.monotonic() - started < 30
    assert "still stopping; waiting on" in err and "work()" in err  # the stuck coroutine, by name
    assert "Thread" in err and "most recent call first" in err  # every thread's stack


async def test_a_second_signal_stops_at_once():
    process = await _start("await asyncio.sleep(600)  # a slow close")
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.stderr.readline(), 30)  # "SIGINT: stopping (at most 20 s)"
    process.send_signal(signal.SIGINT)
    code, _, err = await _finish(process, 15)
    assert code == 130
    assert "SIGINT again: stopping at once" in err
