"""Errors of the index layer, rooted at ``IndexingError`` (``rag.errors`` draws the whole tree).

IndexingError
├── DocumentError        a document cannot be read or parsed
├── UnknownDocumentError a named doc_id is not in the index
├── DocumentExistsError  a doc_id to add is in the index already (and replacing was not asked)
├── ModelLoadError       the embedding model cannot be loaded
├── IndexBusyError       another process holds the index write lock too long
└── IndexStateError      the index on disk cannot be used
    ├── IndexMissingError    no index yet
    ├── IndexCorruptError    a file is missing, truncated or unreadable
    └── IndexMismatchError   built with another embedding model, dimension or format
"""

from __future__ import annotations


class IndexingError(Exception):
    """Base of every error the index layer raises on purpose."""


class DocumentError(IndexingError):
    pass


class IndexStateError(IndexingError):
    pass


class IndexMissingError(IndexStateError):
    pass


class IndexCorruptError(IndexStateError):
    pass


class IndexMismatchError(IndexStateError):
    pass


class UnknownDocumentError(IndexingError):
    pass


class DocumentExistsError(IndexingError):
    def __init__(self, message: str, doc_ids: list[str]) -> None:
        super().__init__(message)
        self.doc_ids = doc_ids


class ModelLoadError(IndexingError):
    pass


class IndexBusyError(IndexingError):
    pass
