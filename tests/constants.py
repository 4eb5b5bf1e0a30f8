"""Values shared by tests and fixtures."""

TOKEN = "123456:TEST-t0ken-SHOULD-never-leak"
ADMIN_ID = 9001
