"""Updates in: per-user order, flood protection; messages out: the one rate limiter."""
