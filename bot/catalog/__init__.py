"""The catalogue wing: programmes, browsing and search, admin changes, files in and out."""
