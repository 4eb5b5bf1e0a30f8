"""What people read: message catalogs, screens, callback data, deep links, message limits."""
