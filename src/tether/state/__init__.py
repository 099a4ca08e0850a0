"""Conversation state: Redis (or memory) first, a database behind it, one façade in front."""

from tether.state.factory import StoreOptions, open_store, open_store_with
from tether.state.store import ConversationStore

__all__ = ["ConversationStore", "StoreOptions", "open_store", "open_store_with"]
