"""The next-steps wing: agreed steps, their reminders, digests and the calendar file."""
