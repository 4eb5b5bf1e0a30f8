"""SQLAlchemy storage: engine, models, queries and migrations. No Telegram here."""
