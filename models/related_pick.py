"""Choosing a related list from ranked candidates (for models/similarity.py): diversity, no
near-twins of the story or of one another, and the fill of a short list. Arrays in, rows out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from models.vectors import jaccard

# Diversity: a candidate's score is lowered by this much of its cosine with the closest story
# already chosen (maximal marginal relevance), so a list is not five tellings of one event.
DIVERSITY = 0.1
# Near-twins (see models/similarity.py, where the story's own are left out by headline and cosine).
NEAR_TWIN = 0.5
TWIN_COSINE = 0.5
TWIN_ALONE = 0.9
# The cosine alone says "twin" only over a corpus where TF-IDF weights mean something: with a
# handful of stories every shared word is common and two stories on one subject score 0.95.
TWIN_ALONE_CORPUS = 20
# Between candidates, on sketched vectors (see `vectors.sketch`), with room for their error.
SKETCH_TWIN_COSINE = 0.35


class Picker:
    """Picks lists over one snapshot of the corpus: row i of each array is one story."""

    def __init__(
        self,
        ids: np.ndarray,
        tfidf: sp.csr_matrix,
        sketch: np.ndarray,
        headlines: np.ndarray,
        shingles: Callable[[int], np.ndarray],
    ) -> None:
        self.ids, self.tfidf, self.sketch = ids, tfidf, sketch
        self.headlines, self.shingles = headlines, shingles

    def twins(self, a: int, b: int) -> bool:
        """Whether the stories of rows a and b are near-twins. Their sketched cosine decides
        which exact measures are worth taking (it is within about 0.06 of the cosine)."""
        if self.headlines[a] != 0 and self.headlines[a] == self.headlines[b]:
            return True
        approximate = float(self.sketch[a] @ self.sketch[b])
        if approximate < SKETCH_TWIN_COSINE:
            return False
        if jaccard(self.shingles(a), self.shingles(b)) >= NEAR_TWIN:
            return True
        if len(self.ids) < TWIN_ALONE_CORPUS:
            return False
        return approximate >= TWIN_ALONE - 0.1 and self._cosine(a, b) >= TWIN_ALONE

    def _cosine(self, a: int, b: int) -> float:
        """Of two rows, from the matrix's own arrays (slicing a sparse matrix costs 100 µs)."""
        ptr, indices, data = self.tfidf.indptr, self.tfidf.indices, self.tfidf.data
        span_a, span_b = slice(ptr[a], ptr[a + 1]), slice(ptr[b], ptr[b + 1])
        _, in_a, in_b = np.intersect1d(
            indices[span_a], indices[span_b], assume_unique=True, return_indices=True
        )
        return float(data[span_a][in_a] @ data[span_b][in_b])

    def choose(
        self, row: int, cosine: np.ndarray, scores: np.ndarray, candidates: np.ndarray, size: int
    ) -> list[int]:
        """Best first, each pick lowered by its likeness to those already picked; near-twins
        of the story, or of a story picked, left out. Answers rows."""
        if not len(candidates):
            return []
        vectors = self.sketch[candidates]
        between = vectors @ vectors.T
        base = scores[candidates]
        own = self.shingles(row)
        open_ = np.ones(len(candidates), dtype=bool)
        for c in np.flatnonzero(cosine[candidates] >= TWIN_COSINE).tolist():
            if jaccard(own, self.shingles(int(candidates[c]))) >= NEAR_TWIN:
                open_[c] = False
        headlines = self.headlines[candidates]
        closest = np.zeros(len(candidates))  # cosine with the closest story picked so far
        chosen: list[int] = []
        while len(chosen) < size and open_.any():
            pick = int(np.where(open_, base - DIVERSITY * closest, -np.inf).argmax())
            open_[pick] = False
            alike = (between[pick, chosen] >= SKETCH_TWIN_COSINE) | (
                headlines[chosen] == headlines[pick]
            )  # `twins` would say no to the others
            if any(
                self.twins(int(candidates[pick]), int(candidates[chosen[k]]))
                for k in np.flatnonzero(alike).tolist()
            ):
                continue  # a near-twin of a story already picked
            chosen.append(pick)
            np.maximum(closest, between[pick], out=closest)
        return [int(candidates[c]) for c in chosen]

    def fill(
        self, row: int, cosine: np.ndarray, order: np.ndarray, chosen: list[int], size: int
    ) -> list[int]:
        """`chosen`, then stories of `order` (best first) until `size`, leaving out near-twins
        of the story and of the stories in the list."""
        filled = list(chosen)
        own = self.shingles(row)
        for candidate in order.tolist():
            if len(filled) >= size:
                break
            if cosine[candidate] >= TWIN_COSINE and jaccard(own, self.shingles(candidate)) >= (
                NEAR_TWIN
            ):
                continue
            if any(self.twins(candidate, other) for other in filled):
                continue
            filled.append(candidate)
        return filled
