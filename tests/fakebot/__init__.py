"""A fake Telegram Bot API server for driving the real bot as Telegram users would."""

from .models import ApiError, Call, SentMessage, StoredFile
from .server import FakeTelegram
from .users import FakeGroup, FakeUser

__all__ = ["ApiError", "Call", "FakeGroup", "FakeTelegram", "FakeUser", "SentMessage", "StoredFile"]
