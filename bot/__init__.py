"""A community bot for conferences, on Discord, Slack and a local console."""
