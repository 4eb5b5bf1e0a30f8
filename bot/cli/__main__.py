"""`python -m bot.cli …`: the same as the `partnerbot` command."""

from bot.cli import main

raise SystemExit(main())
