"""Adapters translate one platform's events into the core vocabulary and render replies back."""
