"""The virtual event: the program, the event's channels, session Q&A threads and coalitions."""

from cogs.event.activity import ActivityCog
from cogs.event.coalitions import CoalitionsCog
from cogs.event.cog import EventCog

__all__ = ["ActivityCog", "CoalitionsCog", "EventCog"]
