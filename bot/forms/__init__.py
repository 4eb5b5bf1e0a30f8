"""The form engine (drafts in the database) and its screens; it knows no feature."""
