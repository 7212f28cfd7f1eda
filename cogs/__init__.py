"""Features, written once against the core vocabulary; none of them knows a platform."""

from cogs.announcements import AnnouncementsCog
from cogs.circles import CirclesCog
from cogs.event import ActivityCog, CoalitionsCog, EventCog
from cogs.faq import FaqCog
from cogs.general import GeneralCog
from cogs.proposals import ProposalsCog
from cogs.reminders import RemindersCog
from cogs.safety import SafetyCog

ALL_COGS: list[type] = [
    GeneralCog,
    FaqCog,
    ProposalsCog,
    RemindersCog,
    AnnouncementsCog,
    EventCog,
    CoalitionsCog,
    ActivityCog,
    CirclesCog,
    SafetyCog,
]
