"""The project's exceptions: two roots, one per layer, caught together as ``USER_ERRORS``.

    RagError                     (this module)
    ├── ConfigError              a setting is invalid
    ├── InputError               a question or request is unusable
    │   └── NotFoundError        a named document or conversation does not exist
    ├── ModelError               a model cannot be loaded (missing file, bad checksum)
    ├── StoreError               a state database (conversations, feedback) cannot be used
    ├── LLMError                 the LLM call failed
    │   └── LLMTimeoutError      the LLM did not answer in time
    ├── OverloadedError          too much work queued; try again later
    └── RemoteError              the `rag serve` the CLI asked answered with an error

    IndexingError                (index.errors: the index layer may not import rag)
    ├── DocumentError            a document cannot be read or parsed
    └── IndexStateError          the index on disk cannot be used
        ├── IndexMissingError
        ├── IndexCorruptError
        └── IndexMismatchError

Domain errors know nothing of HTTP; ``api`` maps them to status codes in one handler.
"""

from __future__ import annotations

from index.errors import (
    DocumentError,
    IndexCorruptError,
    IndexingError,
    IndexMismatchError,
    IndexMissingError,
    IndexStateError,
)

__all__ = [
    "USER_ERRORS",
    "ConfigError",
    "DocumentError",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStateError",
    "IndexingError",
    "InputError",
    "LLMError",
    "LLMTimeoutError",
    "ModelError",
    "NotFoundError",
    "OverloadedError",
    "RagError",
    "RemoteError",
    "StoreError",
]


class RagError(Exception):
    """Base of every error the engine raises on purpose."""


class ConfigError(RagError):
    pass


class InputError(RagError):
    pass


class NotFoundError(InputError):
    pass


class ModelError(RagError):
    pass


class StoreError(RagError):
    pass


class LLMError(RagError):
    pass


class LLMTimeoutError(LLMError):
    pass


class OverloadedError(RagError):
    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# What a user can cause and fix: printed as one line by the CLI, mapped to a 4xx/503 by the API.
class RemoteError(RagError):
    pass


USER_ERRORS: tuple[type[Exception], ...] = (RagError, IndexingError)
