#!/usr/bin/env bash
# Set everything up and run the bot. Only BOT_TOKEN must be supplied (in .env or the
# environment); everything else has a default (SQLite under ./data/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -f .env ] && [ -z "${BOT_TOKEN:-}" ]; then
    cp config.example.env .env
    echo "Created .env from config.example.env: put your BOT_TOKEN from @BotFather in it." >&2
fi
exec .venv/bin/partnerbot run "$@"
