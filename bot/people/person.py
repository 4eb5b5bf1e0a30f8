"""The person behind an update, as the rest of the app needs to know them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from storage.models import Role

# A form left aside (a command, a menu button, a link) waits this long to be continued;
# older, it is as if there were none (and it is dropped when the next form begins).
PAUSED_FORM_TTL = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Person:
    """The user behind an update, as the rest of the app needs to know them."""

    id: int
    first_name: str
    language: str
    role: Role
    form: str | None = None  # the form this person is filling in, if any
    paused: bool = False  # that form was left aside: the next text is not its answer

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.TEACHER)

    def in_form(self, form: str | None, *, paused: bool = False) -> Person:
        return replace(self, form=form, paused=paused and form is not None)

    @property
    def answering(self) -> bool:
        """In a form that takes the next text as its answer."""
        return self.form is not None and not self.paused

    def with_role(self, role: Role) -> Person:
        return replace(self, role=role)


def draft_state(draft: tuple[str, bool, datetime] | None, now: datetime) -> tuple[str | None, bool]:
    """(form, paused) of a stored draft; a paused one past PAUSED_FORM_TTL is none."""
    if draft is None:
        return None, False
    form, paused, touched = draft
    if paused and now - touched > PAUSED_FORM_TTL:
        return None, False
    return form, paused


def effective_role(user_id: int, stored: Role, admin_ids: frozenset[int]) -> Role:
    """ADMIN_IDS always wins; otherwise the role stored in the database."""
    return Role.ADMIN if user_id in admin_ids else stored
