"""The work nobody asked for in this update: the outbox sender, the jobs the scheduler
wakes.
"""
