"""Words as numbers for models/similarity.py: tokens and stop words, hashed counts, TF-IDF rows,
their random sketch, and the shingles near-twins are found by. Arrays in, arrays out; no stories."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.random_projection import SparseRandomProjection
from stop_words import get_stop_words

# The dimensions of the sketched vectors (see `sketch`).
SKETCH = 256
# Shingles of SHINGLE_SIZE words, over the first SHINGLE_WORDS words of the headline and body.
SHINGLE_WORDS = 400
SHINGLE_SIZE = 4
# A word in more than this share of the stories says nothing about any of them.
MAX_DOCUMENT_SHARE = 0.5
N_FEATURES = 2**20

_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern


class Counted(Protocol):
    """A story's hashed words, each once, and how often each occurs."""

    columns: np.ndarray
    counts: np.ndarray


def tokens(text: str) -> list[str]:
    """The words of two letters or more, lowercased, as scikit-learn's tokenizer finds them."""
    return _WORD.findall(text.lower())


@cache
def stop_words(language: str) -> frozenset[str]:
    """The language's stop words as `tokens` finds them; none for a language stop-words lacks."""
    try:
        words = get_stop_words(language)
    except Exception:  # stop-words raises its own error for languages it lacks
        words = []
    # In the form the tokenizer produces ("ain't" is "ain").
    return frozenset(token for word in words for token in tokens(word))


def _identity(words: list[str]) -> list[str]:
    return words


# Words are hashed into a million columns (scikit-learn's murmurhash); the words themselves are
# found by `Story.words`, once, for both TF-IDF and shingles.
HASHER = HashingVectorizer(
    n_features=N_FEATURES, analyzer=_identity, alternate_sign=False, norm=None, dtype=np.float32
)


def shingles(words: list[str]) -> np.ndarray:
    """4-word shingles of the first SHINGLE_WORDS words, hashed to 32 bits (two of a story's
    400 colliding is a chance in 50,000): sorted unique numbers."""
    words = words[:SHINGLE_WORDS]
    if len(words) < SHINGLE_SIZE:
        return np.array([], dtype=np.uint32)
    # Each word hashed once, each shingle a polynomial of its words' hashes (wrapping in 64
    # bits): a number per shingle without building the tuples.
    signed = np.fromiter((hash(w) for w in words), dtype=np.int64, count=len(words))
    hashed = signed.astype(np.uint64)
    count = len(words) - SHINGLE_SIZE + 1
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(SHINGLE_SIZE):
        combined = combined * np.uint64(1_000_003) + hashed[offset : offset + count]
    return np.unique((combined >> np.uint64(32)).astype(np.uint32))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Of two sorted arrays of unique values."""
    if not len(a) or not len(b):
        return 0.0
    found = np.minimum(np.searchsorted(b, a), len(b) - 1)
    shared = int(np.count_nonzero(b[found] == a))
    return shared / (len(a) + len(b) - shared)


def tfidf_matrix(entries: Sequence[Counted]) -> sp.csr_matrix:
    """Sublinear term frequency and smoothed IDF, as scikit-learn's TfidfTransformer computes
    them, over these stories, rows normalised; the words of one story only, or of more than
    MAX_DOCUMENT_SHARE of them, left out."""
    documents = len(entries)
    indptr = np.zeros(documents + 1, dtype=np.int64)
    np.cumsum([len(e.columns) for e in entries], out=indptr[1:])
    columns = np.concatenate([e.columns for e in entries]) if entries else np.zeros(0, np.int32)
    counts = np.concatenate([e.counts for e in entries]) if entries else np.zeros(0, np.uint16)
    frequency = np.bincount(columns, minlength=N_FEATURES)
    kept = (frequency >= 2) & (frequency <= max(2, MAX_DOCUMENT_SHARE * documents))
    idf = np.log((1 + documents) / (1 + frequency)) + 1
    # Only the words kept get a column: products over a million hashed columns would cost more
    # in bookkeeping than in arithmetic.
    remap = np.full(N_FEATURES, -1, dtype=np.int64)
    remap[kept] = np.arange(np.count_nonzero(kept))
    data = ((1 + np.log(counts.astype(np.float32))) * idf[columns]).astype(np.float32)
    data[~kept[columns]] = 0
    weighted = sp.csr_matrix(
        (data, np.maximum(remap[columns], 0).astype(np.int32), indptr),
        shape=(documents, max(int(np.count_nonzero(kept)), 1)),
    )
    weighted.eliminate_zeros()
    # scikit-learn is untyped; normalize answers a matrix of the kind it is given.
    normalized: sp.csr_matrix = normalize(weighted, copy=False)
    return normalized.astype(np.float32)


def sketch(tfidf: sp.csr_matrix) -> np.ndarray:
    """The vectors projected to SKETCH dimensions at random (Johnson-Lindenstrauss: cosines
    kept within about 0.06), so that the diversity pass compares candidates with dense products
    of microseconds instead of sparse ones of a millisecond."""
    if tfidf.shape[1] <= SKETCH:
        return tfidf.toarray()
    projection = SparseRandomProjection(n_components=SKETCH, dense_output=True, random_state=0)
    sketch = np.asarray(projection.fit_transform(tfidf), dtype=np.float32)
    normalized: np.ndarray = normalize(sketch)  # untyped scikit-learn: an array for an array
    return normalized
