"""Word pairs: an index in which a phrase is a rare token instead of two common ones.

FTS5 finds a phrase by walking the position lists of each of its words: "AI device" costs as
much as every article holding "AI" and every article holding "device", although under 1 % of
them hold the two together, and bm25 walks them all once more to count the articles the phrase
is in. ``article_pair_fts`` (``monitor.schema``) indexes, at each position of each column, the
pair of the word there and the word after it (``ai_devic``; the last word of a column pairs
with nothing: ``devic_``), so a two-word phrase is one token whose postings are the phrase's
own, and a longer phrase is a phrase of consecutive pairs.

Every column keeps its number of tokens, and a phrase its articles and its instances, so bm25
on the pair index gives the very score it gives on the word index: a query made only of phrases
is ranked there, with the same numbers (tests/test_pairs.py checks both).

That only holds if the words are FTS5's own: ``porter unicode61`` tokens, stemmed (``devices``
is ``devic``) and folded. Rather than re-implement that tokeniser and stemmer, and drift from
the SQLite they run on, ``Tokeniser`` asks SQLite: every word it has not met is indexed in a
private in-memory FTS5 table with the same tokeniser and read back from fts5vocab, and the
answer is cached. Text is split into candidate words only at characters SQLite is known to
treat as separators (ASCII punctuation, white space, and characters it was asked about), so a
candidate word holds zero or more of SQLite's tokens, never part of one.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

PAIR_JOIN = "_"  # never in a token of the word index (a separator for unicode61)
# The pair index's tokeniser: a pair is one token, and what it holds was folded already.
PAIR_TOKENIZER = f"unicode61 remove_diacritics 0 tokenchars '{PAIR_JOIN}'"
WORD_TOKENIZER = "porter unicode61"  # the word indexes' (schema._create_search_table)

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")  # unicode61's token characters below U+0080
# Distinct words remembered (names and numbers keep coming): about 16 MB at 100,000.
_CACHE_LIMIT = 100_000


class Tokeniser:
    """FTS5's ``porter unicode61`` tokens of a text, learnt from SQLite word by word."""

    def __init__(self) -> None:
        self._probe = sqlite3.connect(":memory:", check_same_thread=False)
        self._probe.execute(
            f"create virtual table probe using fts5(t, tokenize = '{WORD_TOKENIZER}')"
        )
        self._probe.execute("create virtual table probe_terms using fts5vocab(probe, instance)")
        self._lock = threading.Lock()  # the probe, and changes to the cache
        # word -> its tokens, joined by spaces: most words are one token, some none or several
        self._words: dict[str, str] = {}
        # For str.translate: every character known to separate words, to a space.
        self._separators = {c: " " for c in range(128) if not chr(c).isalnum()}
        self._non_separators: set[str] = set()

    def tokens(self, text: str | None) -> list[str]:
        """The tokens FTS5 makes of ``text``, in order (one per position)."""
        if not text:
            return []
        if text.isascii():
            words = _ASCII_WORD.findall(text)
        else:
            self._learn_separators(set(text))
            words = text.translate(self._separators).split()
        try:
            spelt = map(self._words.__getitem__, words)
            return " ".join(spelt).split()
        except KeyError:
            spelling = self._learn_words(set(words))
            return " ".join(map(spelling.__getitem__, words)).split()

    def _learn_separators(self, characters: Iterable[str]) -> None:
        """Ask SQLite which of these characters (not met before, not ASCII) separate words."""
        new = [
            c
            for c in characters
            if ord(c) not in self._separators
            and c not in self._non_separators
            and not c.isascii()
            and not c.isspace()
        ]
        if not new:
            return
        with self._lock:
            tokenised = self._ask([f"a{c}a" for c in new])
        for character, tokens in zip(new, tokenised, strict=True):
            if len(tokens) == 2:
                self._separators[ord(character)] = " "
            else:
                self._non_separators.add(character)

    def _learn_words(self, needed: set[str]) -> dict[str, str]:
        """The tokens of each needed word, asking SQLite about those not known. When the cache
        would overflow, every word is forgotten first (and the needed ones asked again)."""
        with self._lock:
            known = self._words
            missing = [word for word in needed if word not in known]
            if len(known) + len(missing) > _CACHE_LIMIT:
                known.clear()
                missing = list(needed)
            known.update(zip(missing, map(" ".join, self._ask(missing)), strict=True))
            return {word: known[word] for word in needed}

    def _ask(self, texts: list[str]) -> list[tuple[str, ...]]:
        """SQLite's tokens of each text (the caller holds the lock)."""
        probe = self._probe
        probe.executemany("insert into probe (rowid, t) values (?, ?)", enumerate(texts))
        found: list[list[str]] = [[] for _ in texts]
        for doc, term in probe.execute("select doc, term from probe_terms order by doc, offset"):
            found[doc].append(term)
        probe.execute("delete from probe")
        return [tuple(tokens) for tokens in found]


_tokeniser: Tokeniser | None = None
_creating = threading.Lock()


def tokeniser() -> Tokeniser:
    """The process's tokeniser (one in-memory SQLite connection and its cache)."""
    global _tokeniser
    with _creating:
        if _tokeniser is None:
            _tokeniser = Tokeniser()
    return _tokeniser


def pairs(tokens: list[str]) -> list[str]:
    """Each token paired with the next; the last with nothing."""
    following = tokens[1:]
    following.append("")
    return [f"{a}{PAIR_JOIN}{b}" for a, b in zip(tokens, following)]  # noqa: B905 same length


def pair_text(indexed: str | None) -> str | None:
    """A column as the pair index holds it, from the text the word index holds (search_text)."""
    if not indexed:
        return indexed
    made = _made_ahead.get(indexed)
    if made is not None:
        return made
    return " ".join(pairs(tokeniser().tokens(indexed)))


# Pair texts made elsewhere (the parse processes make those of the articles they hand back),
# for pair_text to answer from: the store thread, which a poll waits on, spent a sixth of its
# time making them. Shared by every thread, which is safe: an answer made ahead is the one
# pair_text would give.
_made_ahead: dict[str, str] = {}


@contextmanager
def made_ahead(made: Iterable[Mapping[str, str]]) -> Iterator[None]:
    """Within the block, ``pair_text`` answers from ``made`` (indexed text: its pair text)."""
    for texts in made:
        _made_ahead.update(texts)
    try:
        yield
    finally:
        _made_ahead.clear()
