"""The Mini App page's script and the catalogs agree (no browser needed; the page itself
is tested in a real one, tests/test_miniapp_browser.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.ui.i18n import LANGUAGES, catalog

SCRIPT = Path(__file__).parent.parent / "bot" / "web" / "static" / "app.js"


def test_every_page_word_is_in_both_catalogs() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    used = re.findall(r"""\bt\("(web\.[a-z_]+)"|texts\["(web\.[a-z_]+)"\]""", script)
    keys = {a or b for a, b in used}
    assert len(keys) > 50
    for lang in LANGUAGES:
        missing = sorted(keys - set(catalog(lang)))
        assert not missing, f"{lang} lacks {missing}"


def test_the_first_refusal_says_the_catalogs_sentence() -> None:
    """Before /api/me answers the page has no texts: its own copy of web.reopen is shown."""
    script = SCRIPT.read_text(encoding="utf-8")
    for lang in LANGUAGES:
        assert f"{lang}: {json.dumps(catalog(lang)['web.reopen'], ensure_ascii=False)}," in script


def test_the_page_inserts_no_html() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)
