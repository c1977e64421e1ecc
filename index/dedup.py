"""Near-duplicate passages across documents: MinHash signatures over word shingles, LSH groups."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

NUM_PERM = 64
SHINGLE_WORDS = 3
_SEED = 7
_SCHEME = "affine32"
_WORD_RE = re.compile(r"\w+")


def shingles(text: str) -> set[bytes]:
    """Overlapping runs of ``SHINGLE_WORDS`` lower-cased words."""
    words = _WORD_RE.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        return {" ".join(words).encode()}
    return {
        " ".join(words[i : i + SHINGLE_WORDS]).encode()
        for i in range(len(words) - SHINGLE_WORDS + 1)
    }


def signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures, one uint32 row of ``NUM_PERM`` values per text."""
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint32)
    template = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
    for row, text in enumerate(texts):
        minhash = MinHash(
            num_perm=NUM_PERM, seed=_SEED, permutations=template.permutations, scheme=_SCHEME
        )
        minhash.update_batch(list(shingles(text)))
        out[row] = minhash.hashvalues
    return out


def duplicate_groups(
    sigs: np.ndarray, chunk_ids: np.ndarray, doc_rows: np.ndarray, threshold: float
) -> np.ndarray:
    """A group id per chunk: chunks of different documents whose estimated Jaccard similarity
    reaches ``threshold`` share a group (transitively); the id is the smallest chunk id in
    the group, so a chunk without duplicates is a group of its own named by its own id."""
    count = len(chunk_ids)
    parent = np.arange(count)
    if count > 1:
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        minhashes = [
            LeanMinHash(seed=_SEED, hashvalues=sigs[row], scheme=_SCHEME) for row in range(count)
        ]
        for row, minhash in enumerate(minhashes):
            lsh.insert(row, minhash, check_duplication=False)
        for row, minhash in enumerate(minhashes):
            for other in lsh.query(minhash):
                if other <= row or doc_rows[other] == doc_rows[row]:
                    continue
                if float(np.mean(sigs[row] == sigs[other])) >= threshold:
                    _union(parent, row, other)
    roots = np.array([_find(parent, row) for row in range(count)], dtype=np.int64)
    groups = np.asarray(chunk_ids, dtype=np.int64).copy()
    # Name every group by its smallest chunk id.
    for row in range(count):
        root = roots[row]
        groups[root] = min(groups[root], chunk_ids[row])
    return groups[roots] if count else groups


def _find(parent: np.ndarray, row: int) -> int:
    while parent[row] != row:
        parent[row] = parent[parent[row]]
        row = int(parent[row])
    return row


def _union(parent: np.ndarray, a: int, b: int) -> None:
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)
