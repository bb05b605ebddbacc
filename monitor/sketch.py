"""Similarity sketches: MinHash signatures and LSH band keys over an article's words.

Pure functions. An article's text becomes a set of shingles (each word and each pair of
neighbouring words; Chinese, Japanese and Korean, written without spaces, count each character as
a word), the set becomes a MinHash signature of ``PERMUTATIONS`` values, and the signature is cut
into ``BANDS`` bands whose hashes the store indexes. Two articles that agree on a whole band are
candidates; the share of equal signature values then estimates their Jaccard similarity.

The signature uses one-permutation hashing (each shingle hashed once, the hash space split into
bins, empty bins filled from their right-hand neighbour), so sketching costs one pass over the
shingles rather than one per permutation.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Iterable
from itertools import pairwise
from operator import eq

from monitor.anchors import anchors
from monitor.records import Article, Sketch

PERMUTATIONS = 64
MAX_WORDS = 3000  # of a long article's text: copies differ little in their first pages
BANDS = 32
ROWS = PERMUTATIONS // BANDS  # with 2 rows a pair at Jaccard 0.3 is a candidate 95% of the time

_MASK64 = (1 << 64) - 1
_BIN_BITS = 6  # log2(PERMUTATIONS)
_EMPTY = _MASK64
_WORD = re.compile(
    r"[0-9a-z\u00e0-\u024f\u0370-\u03ff\u0400-\u04ff]+"  # Latin, Greek, Cyrillic words
    r"|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"  # one CJK character
)
_SIGNATURE = struct.Struct(f"<{PERMUTATIONS}Q")


def words(text: str) -> list[str]:
    """The text's words, folded (width, case); each CJK character is a word of its own."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str) -> set[str]:
    """Every word and every pair of neighbouring words."""
    return _shingles_of(words(text))


def _hash64(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "little")


def minhash(items: Iterable[str]) -> tuple[int, ...]:
    """The MinHash signature of a set of shingles (all bins empty for an empty set)."""
    bins = [_EMPTY] * PERMUTATIONS
    shift = 64 - _BIN_BITS
    for item in items:
        h = _hash64(item)
        b, value = h >> shift, h & ((1 << shift) - 1)
        if value < bins[b]:
            bins[b] = value
    return _densify(bins)


def _densify(bins: list[int]) -> tuple[int, ...]:
    """Fill each empty bin from the next filled one to its right (wrapping round), offset by the
    distance, so two sets with the same filled bins get the same filled values."""
    if all(v == _EMPTY for v in bins):
        return tuple(bins)
    out = list(bins)
    n = len(bins)
    for i, value in enumerate(bins):
        if value != _EMPTY:
            continue
        step = 1
        while bins[(i + step) % n] == _EMPTY:
            step += 1
        out[i] = (bins[(i + step) % n] + step * 0x9E3779B97F4A7C15) & _MASK64
    return tuple(out)


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of the two shingle sets (0 when either was empty)."""
    if a[0] == _EMPTY or b[0] == _EMPTY:
        return 0.0
    equal: int = sum(map(eq, a, b))
    return equal / len(a)


def band_keys(signature: tuple[int, ...]) -> list[int]:
    """One signed 64-bit key per band (SQLite integers are signed); none for an empty sketch."""
    if signature[0] == _EMPTY and len(set(signature)) == 1:
        return []
    keys = []
    for band in range(BANDS):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        digest = hashlib.blake2b(struct.pack(f"<H{ROWS}Q", band, *rows), digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def pack(signature: tuple[int, ...]) -> bytes:
    return _SIGNATURE.pack(*signature)


def unpack(blob: bytes) -> tuple[int, ...]:
    return tuple(_SIGNATURE.unpack(blob))


def sketch_article(article: Article) -> Sketch:
    """The article's MinHash, band keys and anchors, over its title and full text."""
    text = f"{article.title}\n{article.content or article.summary}"
    signature = minhash(_shingles_of(words(text)[:MAX_WORDS]))
    return Sketch(signature, tuple(band_keys(signature)), anchors(text))


def _shingles_of(w: list[str]) -> set[str]:
    return set(w) | {f"{a} {b}" for a, b in pairwise(w)}
