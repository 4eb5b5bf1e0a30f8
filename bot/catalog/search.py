"""Search normalisation shared by every writer of programmes and by the search itself."""

from __future__ import annotations

import unicodedata

from storage.models import Department, Program

MAX_QUERY_CHARS = 100


def normalize(text: str) -> str:
    """Case-fold and unify full-width forms (ＡＢＣ → abc), so 'AI', 'ai' and 'ＡＩ' match."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def search_text_for(program: Program, department: Department | None) -> str:
    """The text a programme is found by: titles, summaries, tags, department, both languages."""
    parts = [
        program.code,
        program.title_zh,
        program.title_en,
        program.summary_zh,
        program.summary_en,
        program.tags,
    ]
    if department is not None:
        parts += [department.name_zh, department.name_en]
    return normalize(" \n ".join(p for p in parts if p))


def clean_query(raw: str) -> str:
    # Control characters become spaces: NUL in a saved search crashed PostgreSQL (text
    # cannot hold it), and none of them ever helps a search.
    spaced = "".join(" " if unicodedata.category(c) == "Cc" else c for c in raw)
    return normalize(spaced)[:MAX_QUERY_CHARS]
