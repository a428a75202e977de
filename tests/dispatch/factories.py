"""Moved to ``tests/factories.py`` (shared by every test folder); kept so existing imports work."""

from tests.factories import conversation, make_channel, make_conversation, open_counts

__all__ = ["conversation", "make_channel", "make_conversation", "open_counts"]
