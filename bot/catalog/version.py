"""The catalogue's version (latest change, latest id), as the process's copies check it.

The search copy (bot/catalog/search.py) and the Mini App's counts (bot/catalog/miniapp.py)
are each valid for one version. Reading it was the only database work left in a list
page, and the unit of work around it three hand-offs to aiosqlite's thread: most of a
press's time (issue 15). A version read is therefore trusted for CHECK_EVERY, and no
longer than until this process commits a programme write (storage.programs counts them
whichever path wrote), so a change made here shows at once. A change made by another
process (the admin CLI's import, a second webhook instance) shows within CHECK_EVERY,
as a role change there shows within SENDER_TTL (bot/people/senders.py).
"""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession

from storage import programs as repo

CHECK_EVERY = 1.0  # seconds


class CatalogVersion:
    def __init__(self, check_every: float = CHECK_EVERY) -> None:
        self.check_every = check_every
        # per database: (version, when it was read, this process's writes by then)
        self._known: dict[str, tuple[tuple[object, ...], float, int]] = {}

    async def current(self, session: AsyncSession) -> tuple[object, ...]:
        key = session.get_bind().engine.url.render_as_string(hide_password=True)
        now, writes = time.monotonic(), repo.committed_writes()
        known = self._known.get(key)
        if known is not None and known[2] == writes and 0 <= now - known[1] < self.check_every:
            return known[0]
        # `writes` is taken before the read: a write committed while it runs counts as
        # unseen, so the next use reads again.
        version = await repo.catalog_version(session)
        self._known[key] = (version, now, writes)
        return version
