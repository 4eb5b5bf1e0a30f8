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

scripts/setup.sh --test
export PARTNERBOT_REQUIRE_PG=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
