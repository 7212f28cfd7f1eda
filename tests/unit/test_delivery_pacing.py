"""Fan-out pacing: each platform's rate counts requests, and a send books the requests it makes."""

from __future__ import annotations

import time

import pytest

from bot.core.model import Message, Place, Platform, Posted
from bot.delivery import Occurrence, RateLimiter, Target, request_cost


def test_a_channel_post_costs_half_a_direct_message_on_discord():
    now = 0.0
    dms, posts = RateLimiter(48, clock=lambda: now), RateLimiter(48, clock=lambda: now)
    dm_waits = [dms.reserve(request_cost(Target("discord", "user", str(n)))) for n in range(49)]
    post_waits = [posts.reserve(request_cost(Target("discord", "channel", str(n)))) for n in range(49)]
    # 48 requests a second: 24 DMs (two requests each: open the DM channel, post) or 48 channel posts.
    assert dm_waits[24] == pytest.approx(1.0) and dm_waits[48] == pytest.approx(2.0)
    assert post_waits[24] == pytest.approx(0.5) and post_waits[48] == pytest.approx(1.0)
    assert request_cost(Target("discord", "thread", "C1/T1")) == 1


def test_slack_counts_messages_whatever_the_target():
    assert request_cost(Target("slack", "user", "U1")) == request_cost(Target("slack", "channel", "C1")) == 1


def test_the_rate_is_a_ceiling_not_a_schedule():
    now = 0.0
    limiter = RateLimiter(10, clock=lambda: now)
    assert limiter.reserve(2) == 0.0
    assert limiter.reserve() == pytest.approx(0.2)  # two requests booked at 10/s
    now = 5.0  # idle for a while: the next send goes at once, with no burst saved up
    assert limiter.reserve() == 0.0
    assert limiter.reserve() == pytest.approx(0.1)
    assert RateLimiter(0).reserve(2) == 0.0  # the console: unpaced


async def test_wait_sleeps_until_the_booked_turn():
    limiter = RateLimiter(100)
    began = time.monotonic()
    for _ in range(3):
        await limiter.wait(2)
    assert time.monotonic() - began >= 0.04 - 0.005  # the third waits for the first two's four requests


class Port:
    platform = Platform.DISCORD

    async def post(self, place: Place, message: Message) -> Posted:
        return Posted(place, "m1")

    async def dm(self, user_id: str, message: Message) -> Posted:
        return Posted(Place(Platform.DISCORD, "D1"), "m2")


class Booking(RateLimiter):
    def __init__(self):
        super().__init__(0)
        self.costs: list[int] = []

    def reserve(self, cost: int = 1) -> float:
        self.costs.append(cost)
        return 0.0


async def test_a_fan_out_books_each_send_at_its_cost(app):
    app.platforms[Platform.DISCORD] = Port()
    app.deliveries.limiters[Platform.DISCORD] = booking = Booking()

    async def targets():
        return [Target("discord", "user", "1"), Target("discord", "channel", "2")]

    async def message(target, late):
        return Message("Hello")

    now = app.clock.now()
    report = await app.deliveries.run_occurrence(Occurrence("test", "1", now, "a test", "both", targets, message))
    assert report.sent == 2 and sorted(booking.costs) == [1, 2]
