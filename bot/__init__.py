"""partnerbot: the application layer (settings, services, views, engines)."""
