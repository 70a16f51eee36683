"""Telegram adapter: turns updates into conversation events and replies into messages."""
