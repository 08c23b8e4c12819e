"""Errors of the storage layer, bilingual: a clerk reads Vietnamese, an operator may read English.

Every error says what was wrong and what to do; ``str(err)`` gives ``"vi (en)"``. Callers catch
``StorageError`` (or a subclass) and never see an SDK or driver exception for a foreseen failure.
"""

from __future__ import annotations

from edoc.errors import EdocError


class StorageError(EdocError):
    """Base of every foreseen storage failure, with a Vietnamese and an English message."""

    def message(self, lang: str = "vi") -> str:
        return self.message_en if lang == "en" else self.message_vi


class InvalidKey(StorageError):
    """A key that is not ``sha256/ab/cd/<64 hex>``."""


class ObjectNotFound(StorageError):
    """No object under that key."""


class IntegrityError(StorageError):
    """The bytes read (or offered) do not hash to the key: tampering or corruption."""


class KeyConflict(IntegrityError):
    """A different object already sits under the key: refused, the existing one is kept."""


class StoreConfigError(StorageError):
    """The store is wrongly configured (bad URL, bucket without object lock, ...)."""


class StoreUnavailable(StorageError):
    """The server cannot be reached (down, wrong host/port, network)."""


class StoreAuthError(StorageError):
    """The server refused our credentials."""


class StoreFull(StorageError):
    """No space left: nothing was written."""
