"""The work nobody asked for in this update: the outbox sender and the heartbeat that
shares SEND_RATE, and the jobs that wake on APScheduler (wakeup.py) to hand what falls due
to the outbox (jobs.py); lifecycle.py starts and stops them.
"""
