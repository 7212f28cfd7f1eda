"""The FAQ feature: knowledge base, matching, the /faq commands and the organizers' escalation loop."""

from cogs.faq.cog import FaqCog

__all__ = ["FaqCog"]
