"""The announcements wing: compose, audience, send or schedule, progress and report."""
