"""Secrets come only from the environment, and are kept out of every log line."""

from __future__ import annotations

import logging
import os
import re

SECRET_VARIABLES = (
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
)
# Token shapes, in case one arrives some other way (an error message echoing a header, say).
_TOKEN_SHAPES = re.compile(
    r"xox[abposr]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}"
    r"|[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}"
)


def secret(name: str) -> str:
    """The value of a secret variable, or '' when unset."""
    return os.environ.get(name, "").strip()


def redact(text: str) -> str:
    for name in SECRET_VARIABLES:
        value = secret(name)
        if len(value) >= 6:
            text = text.replace(value, f"[{name} redacted]")
    return _TOKEN_SHAPES.sub("[token redacted]", text)


class RedactingFormatter(logging.Formatter):
    """One line per event (tracebacks folded), with secrets removed."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record)).replace("\n", " | ")


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter at INFO can include request URLs with ids; keep it at WARNING.
    for noisy in ("discord", "slack_bolt", "slack_sdk", "aiohttp.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
