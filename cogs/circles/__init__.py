"""Coalition circles: opt-in small groups that mix roles, matched in announced rounds."""

from cogs.circles.cog import CirclesCog

__all__ = ["CirclesCog"]
