"""The bot's web side: the webhook door (and the Mini App)."""
