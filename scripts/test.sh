#!/usr/bin/env bash
# Set everything up and run the whole suite: lint, format check, types, and the tests
# against a SQLite file and a throwaway PostgreSQL server the test session starts.
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
if [ -z "${PARTNERBOT_TEST_PG_URL:-}" ] && ! have_postgres; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing the PostgreSQL server from Debian packages for the tests..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        echo "PostgreSQL server binaries (initdb, pg_ctl) are needed: install the 'postgresql' package" >&2
        exit 1
    fi
fi

# HAProxy, for the test of several webhook instances behind a proxy (deploy/). Not
# fatal when it cannot be installed: that one test is skipped, with a note.
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing HAProxy from Debian packages for the tests..." >&2
        if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; then
            export PARTNERBOT_REQUIRE_HAPROXY=1
        else
            echo "Note: could not install haproxy; the multi-instance webhook test is skipped" >&2
        fi
    else
        echo "Note: haproxy is not installed; the multi-instance webhook test is skipped" >&2
    fi
else
    export PARTNERBOT_REQUIRE_HAPROXY=1
fi

# A font with Chinese characters, for the /stats chart in Chinese (bot/inquiries/charts.py):
# Debian's fonts-wqy-microhei (5 MB; fonts-noto-cjk, also fine, is 60 MB). Without one a
# Chinese chart is not drawn, the figures come as text, and the chart tests fail.
have_cjk_font() {
    fc-list :lang=zh 2>/dev/null | grep -q . \
        || ls /usr/share/fonts/truetype/wqy/*.ttc /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1
}
if ! have_cjk_font; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing a Chinese font (fonts-wqy-microhei) for the chart tests..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null
    else
        echo "Note: no Chinese font (install fonts-wqy-microhei): the Chinese chart tests fail" >&2
    fi
fi

# Chromium and its WebDriver, for the Mini App's tests in a real browser
# (tests/test_miniapp_browser.py, driven by Selenium): Debian's own packages, never a
# browser build downloaded by a tool. Once they are there the tests are mandatory.
have_chromium() { command -v chromium >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ]; }
if ! have_chromium; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "Installing chromium and chromium-driver from Debian packages for the browser tests..." >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "Note: chromium and chromium-driver are not installed; the browser tests are skipped" >&2
    fi
fi
if have_chromium; then
    export PARTNERBOT_REQUIRE_BROWSER=1
fi

scripts/setup.sh --test
export PARTNERBOT_REQUIRE_PG=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers of DESIGN.md, [tool.importlinter]
.venv/bin/python -m pytest "$@"
