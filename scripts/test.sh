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

scripts/setup.sh --test
export PARTNERBOT_REQUIRE_PG=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache  # the layers of DESIGN.md, [tool.importlinter]
.venv/bin/python -m pytest "$@"
