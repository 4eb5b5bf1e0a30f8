"""Parsing and writing what people type and send: times, phones, e-mails, spreadsheets."""
