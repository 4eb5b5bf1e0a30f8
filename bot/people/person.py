"""The person behind an update, as the rest of the app needs to know them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from storage.models import Role


@dataclass(frozen=True, slots=True)
class Person:
    """The user behind an update, as the rest of the app needs to know them."""

    id: int
    first_name: str
    language: str
    role: Role
    form: str | None = None  # the form this person is filling in, if any

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.TEACHER)

    def in_form(self, form: str | None) -> Person:
        return replace(self, form=form)

    def with_role(self, role: Role) -> Person:
        return replace(self, role=role)


def effective_role(user_id: int, stored: Role, admin_ids: frozenset[int]) -> Role:
    """ADMIN_IDS always wins; otherwise the role stored in the database."""
    return Role.ADMIN if user_id in admin_ids else stored
