"""The plain refusal every service raises: a message key and its values.

Handlers turn it into words in the reader's language; a form shows it on the step (or
the check screen) it concerns. Defined apart so the permission path and the form engine
can both use it without importing each other.
"""

from __future__ import annotations


class FieldError(Exception):
    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values
