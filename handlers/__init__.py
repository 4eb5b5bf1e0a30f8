"""Telegram in and out: each module reads updates for one feature and renders replies."""
