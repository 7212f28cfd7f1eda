"""Fan-out pacing: one gate per platform on the App, shared by the ledger and a port pacing its own
requests (Discord's, each REST request once), and a ledger-paced platform booked once per send."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time

import pytest

from bot.adapters.discord_port import pace_requests
from bot.core.model import Message, Place, Platform, Posted
from bot.delivery import Occurrence, RateLimiter, Target


def test_each_platform_has_one_gate_shared_by_the_ledger(app):
    gates = app.rate_limits
    assert app.deliveries.limiters is gates
    assert gates[Platform.DISCORD].interval == pytest.approx(1 / app.config.delivery.discord_rate)
    assert gates[Platform.SLACK].interval == pytest.approx(1 / app.config.delivery.slack_rate)
    assert gates[Platform.CONSOLE].interval == 0  # the console: unpaced


async def test_the_rate_is_a_ceiling_not_a_schedule():
    limiter = RateLimiter(20)
    began = time.monotonic()
    await limiter.wait(2)
    assert time.monotonic() - began < 0.05  # free: at once
    await limiter.wait()
    assert time.monotonic() - began >= 0.1 - 0.001  # after the two requests' turn at 20/s
    await asyncio.sleep(0.2)  # idle for a while: the next goes at once, with no burst saved up
    began = time.monotonic()
    await limiter.wait()
    await limiter.wait()
    assert time.monotonic() - began >= 0.05 - 0.001
    began = time.monotonic()
    for _ in range(100):
        await RateLimiter(0).wait(2)  # the console: unpaced
    assert time.monotonic() - began < 0.05


async def test_work_under_way_goes_before_work_that_started_after_it():
    limiter = RateLimiter(200)
    done: list[str] = []

    async def join(n: int) -> None:  # two requests: add the person to the space, then post the welcome
        await limiter.wait()
        done.append(f"add {n}")
        await limiter.wait()
        done.append(f"post {n}")

    await asyncio.gather(*(join(n) for n in range(4)))
    assert done == ["add 0", "post 0", "add 1", "post 1", "add 2", "post 2", "add 3", "post 3"]


async def test_a_busy_event_loop_delays_turns_rather_than_bunching_them():
    limiter = RateLimiter(100)  # a turn every 10 ms
    went: list[float] = []

    async def request() -> None:
        await limiter.wait()
        went.append(time.monotonic())

    waiting = [asyncio.create_task(request()) for _ in range(10)]
    await asyncio.sleep(0.001)  # the first went at once; the others wait
    time.sleep(0.1)  # noqa: ASYNC251 (the loop blocked for ten turns' worth: booked turns would all go at once)
    await asyncio.gather(*waiting)
    gaps = [b - a for a, b in itertools.pairwise(went)]
    assert gaps[0] >= 0.1 and min(gaps[1:]) >= 0.003  # half a turn at least (timer slack aside)


async def test_a_cancelled_wait_gives_its_turn_to_the_next():
    limiter = RateLimiter(50)
    await limiter.wait()  # the next turn is 20 ms away
    first, second = asyncio.create_task(limiter.wait()), asyncio.create_task(limiter.wait())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.wait_for(second, 1)
    assert first.cancelled()


class Port:
    platform = Platform.DISCORD

    async def post(self, place: Place, message: Message) -> Posted:
        return Posted(place, "m1")

    async def dm(self, user_id: str, message: Message) -> Posted:
        return Posted(Place(Platform.DISCORD, "D1"), "m2")


class Booking(RateLimiter):
    """A gate that records the cost of each turn asked for."""

    def __init__(self, rate: float = 0):
        super().__init__(rate)
        self.costs: list[int] = []

    async def wait(self, cost: int = 1) -> None:
        self.costs.append(cost)
        await super().wait(cost)


async def hello(target: Target, late: bool) -> Message:
    return Message("Hello")


def occurrence(app, key: str, targets: list[Target]) -> Occurrence:
    async def listed() -> list[Target]:
        return targets

    return Occurrence("test", key, app.clock.now(), "a test", "everyone", listed, hello)


async def test_a_port_paced_by_the_ledger_is_booked_once_a_send(app):
    app.platforms[Platform.DISCORD] = Port()
    app.rate_limits[Platform.DISCORD] = booking = Booking()
    targets = [Target("discord", "user", "1"), Target("discord", "channel", "2")]
    report = await app.deliveries.run_occurrence(occurrence(app, "1", targets))
    assert report.sent == 2 and booking.costs == [1, 1]


class FakeHTTP:
    """discord.py's HTTP client, reduced to the method every REST request goes through."""

    def __init__(self):
        self.sent: list[tuple[float, str]] = []

    async def request(self, route: str, **kwargs) -> dict:
        self.sent.append((time.monotonic(), route))
        return {}


class PacedPort(Port):
    """Like DiscordPort: each of its requests waits at the gate on its own (a DM takes two)."""

    paces_requests = True

    def __init__(self, http: FakeHTTP):
        self.http = http

    async def post(self, place: Place, message: Message) -> Posted:
        await self.http.request("POST /channels/{id}/messages")
        return Posted(place, "m1")

    async def dm(self, user_id: str, message: Message) -> Posted:
        await self.http.request("POST /users/@me/channels")
        await self.http.request("POST /channels/{id}/messages")
        return Posted(Place(Platform.DISCORD, "D1"), "m2")


async def test_a_fan_out_and_direct_calls_share_the_gate_each_request_booked_once(app):
    rate = 200.0
    app.rate_limits[Platform.DISCORD] = gate = Booking(rate)
    http = FakeHTTP()
    pace_requests(http, gate)  # as DiscordBot does with the App's gate
    app.platforms[Platform.DISCORD] = port = PacedPort(http)
    people = [Target("discord", "user", str(n)) for n in range(20)]
    place = Place(Platform.DISCORD, "C1", name="coalition")

    began = time.monotonic()
    report, *_ = await asyncio.gather(
        app.deliveries.run_occurrence(occurrence(app, "fan-out", people)),  # 40 requests
        *(port.post(place, Message(f"Welcome {n}")) for n in range(20)),  # 20 made while answering commands
    )
    elapsed = time.monotonic() - began

    assert report.sent == 20 and len(http.sent) == 60
    assert gate.costs == [1] * 60  # each request booked once: the ledger did not book its sends again
    assert elapsed >= 59 / rate - 0.001  # one turn every 1/rate s
    sent = [at for at, _ in http.sent]
    assert max(bisect.bisect_left(sent, at + 0.1) - n for n, at in enumerate(sent)) <= 0.1 * rate + 2  # spread evenly
