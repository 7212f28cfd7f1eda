"""Who is asking and where, on Slack: display name and time zone (users.info), organizer status
(config), and channel names (conversations.info; message events carry only ids, and features such
as the FAQ answer by channel name).

Lookups are cached: people and channels for an hour (they rarely change), the organizers' user
group for a minute (so adding someone to the group takes effect quickly). A failed lookup never
blocks a request: the person gets the payload's name, the conference zone, and organizer status
from the last good list; a channel gets no name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackSettings
from bot.core.clock import find_zone
from bot.core.model import Actor, Platform

log = logging.getLogger(__name__)

PROFILE_TTL = 3600.0
GROUP_TTL = 60.0
LOOKUP_TIMEOUT = 1.0  # seconds; a slow directory must not eat the 3 s a modal has to open


@dataclass(frozen=True)
class Profile:
    display_name: str
    timezone: ZoneInfo | None


class Directory:
    def __init__(self, client: AsyncWebClient, settings: SlackSettings, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.settings = settings
        self._clock = clock
        self._profiles: dict[str, tuple[float, Profile]] = {}
        self._group: tuple[float, frozenset[str]] | None = None
        self._group_lock = asyncio.Lock()
        self._channels: dict[str, tuple[float, str]] = {}
        # One lookup per person or channel at a time: a burst of requests shares its answer.
        self._key_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def actor(self, user_id: str, fallback_name: str = "") -> Actor:
        profile, organizer = await asyncio.gather(self.profile(user_id, fallback_name), self.is_organizer(user_id))
        return Actor(Platform.SLACK, user_id, profile.display_name, organizer, profile.timezone)

    async def profile(self, user_id: str, fallback_name: str = "") -> Profile:
        async with self._key_locks["user:" + user_id]:
            return await self._profile(user_id, fallback_name)

    async def _profile(self, user_id: str, fallback_name: str) -> Profile:
        cached = self._profiles.get(user_id)
        if cached and self._clock() - cached[0] < PROFILE_TTL:
            return cached[1]
        try:
            response = await asyncio.wait_for(self.client.users_info(user=user_id), LOOKUP_TIMEOUT)
        except (SlackApiError, TimeoutError) as exc:
            log.warning("users.info for %s failed: %s", user_id, exc.__class__.__name__)
            return Profile(fallback_name or user_id, None)
        user = response.get("user") or {}
        details = user.get("profile") or {}
        name = details.get("display_name") or details.get("real_name") or user.get("name") or fallback_name
        profile = Profile(name or user_id, _zone(user.get("tz")))
        self._profiles[user_id] = (self._clock(), profile)
        return profile

    async def is_organizer(self, user_id: str) -> bool:
        if user_id in self.settings.organizer_user_ids:
            return True
        if not self.settings.organizer_usergroup:
            return False
        return user_id in await self._group_members()

    async def _group_members(self) -> frozenset[str]:
        async with self._group_lock:  # one lookup for a burst of requests, not one each
            if self._group and self._clock() - self._group[0] < GROUP_TTL:
                return self._group[1]
            try:
                response = await asyncio.wait_for(
                    self.client.usergroups_users_list(usergroup=self.settings.organizer_usergroup),
                    LOOKUP_TIMEOUT,
                )
            except (SlackApiError, TimeoutError) as exc:
                log.warning("usergroups.users.list failed (%s); using the last known organizers", exc)
                return self._group[1] if self._group else frozenset()
            self._group = (self._clock(), frozenset(response.get("users") or []))
            return self._group[1]

    async def channel_name(self, channel_id: str) -> str:
        if not channel_id or channel_id.startswith("D"):
            return ""  # direct messages have no name
        async with self._key_locks["channel:" + channel_id]:
            return await self._channel_name(channel_id)

    async def _channel_name(self, channel_id: str) -> str:
        cached = self._channels.get(channel_id)
        if cached and self._clock() - cached[0] < PROFILE_TTL:
            return cached[1]
        try:
            response = await asyncio.wait_for(self.client.conversations_info(channel=channel_id), LOOKUP_TIMEOUT)
        except (SlackApiError, TimeoutError) as exc:
            log.warning("conversations.info for %s failed: %s", channel_id, exc.__class__.__name__)
            return ""
        name = str((response.get("channel") or {}).get("name") or "")
        self._channels[channel_id] = (self._clock(), name)
        return name


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    return find_zone(name)  # a profile's tz could be anything: unknown names are no zone
