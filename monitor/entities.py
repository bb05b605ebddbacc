"""Finding organisations in text: the watched entities from the config plus the gazetteer.

Latin-script aliases match on word boundaries (watched ones in any case, gazetteer ones as
written); CJK aliases match as substrings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.gazetteer import ORGANISATIONS

# What a Latin-script word is made of. Not \w: Python counts CJK characters as word characters,
# so with \b "OpenAI与立讯精密" would hide "OpenAI".
_LATIN = r"0-9A-Za-z\u00c0-\u024f_"
NOT_AFTER_LETTER = rf"(?<![{_LATIN}])"
NOT_BEFORE_LETTER = rf"(?![{_LATIN}])"
_WORD = re.compile(rf"[{_LATIN}]+")

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SEPARATORS = re.compile(r"[\s\-]+")


def _regex_pattern(alias: str) -> str:
    """Word-bounded; spaces and hyphens between words match any run of either."""
    words = [re.escape(w) for w in _SEPARATORS.split(alias.strip()) if w]
    return NOT_AFTER_LETTER + r"[\s\-]+".join(words) + r"(?:['’]s)?" + NOT_BEFORE_LETTER


@dataclass(frozen=True)
class _AliasSet:
    """Every alias of one kind, and the organisation each spelling names.

    A text is split into words once (in C); one-word aliases are then set lookups, and the few
    multi-word aliases whose first word occurs are confirmed with their own regular expression.
    That stays fast on long articles, where one regular expression with hundreds of alternatives
    (or a Python loop over every word) does not. CJK aliases are substrings.
    """

    single: Mapping[str, str]  # folded one-word alias -> organisation name
    multi: Mapping[str, tuple[tuple[re.Pattern[str], str], ...]]  # folded first word -> patterns
    substrings: Mapping[str, tuple[tuple[str, str], ...]]  # first character -> (alias, name)
    ignore_case: bool

    @classmethod
    def build(cls, names: Mapping[str, Iterable[str]], *, ignore_case: bool) -> _AliasSet:
        single: dict[str, str] = {}
        multi: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        substrings: list[tuple[str, str]] = []
        flags = re.I if ignore_case else 0
        for name, aliases in names.items():
            for alias in (a.strip() for a in aliases if a.strip()):
                words = _WORD.findall(cls._fold(alias, ignore_case))
                if _CJK.search(alias) or not words:
                    substrings.append((alias, name))
                elif _WORD.fullmatch(alias):
                    single[words[0]] = name
                else:
                    pattern = re.compile(_regex_pattern(alias), flags)
                    multi.setdefault(words[0], []).append((pattern, name))
        by_first: dict[str, list[tuple[str, str]]] = {}
        for alias, name in substrings:
            by_first.setdefault(alias[0], []).append((alias, name))
        return cls(
            single,
            {k: tuple(v) for k, v in multi.items()},
            {k: tuple(v) for k, v in by_first.items()},
            ignore_case,
        )

    @staticmethod
    def _fold(text: str, ignore_case: bool) -> str:
        return text.casefold() if ignore_case else text

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """Every mention as (start, end, organisation), in no particular order."""
        found: list[tuple[int, int, str]] = []
        for alias, name in self._substrings_in(text):
            at = text.find(alias)
            while at >= 0:
                found.append((at, at + len(alias), name))
                at = text.find(alias, at + len(alias))
        # Most sentences name no organisation: one C-level pass says so before a Python loop.
        words = self._words(text)
        if words.isdisjoint(self.single.keys()) and words.isdisjoint(self.multi.keys()):
            return found
        for m in _WORD.finditer(text):
            word = self._fold(m.group(0), self.ignore_case)
            if word in self.single:
                found.append((m.start(), m.end(), self.single[word]))
            for pattern, name in self.multi.get(word, ()):
                if (hit := pattern.match(text, m.start())) is not None:
                    found.append((hit.start(), hit.end(), name))
        return found

    def _substrings_in(self, text: str) -> list[tuple[str, str]]:
        """The CJK aliases whose first character occurs in the text: few, even for long text."""
        firsts = self.substrings.keys() & set(text) if self.substrings else ()
        return [pair for ch in firsts for pair in self.substrings[ch]]

    def _words(self, text: str) -> set[str]:
        return set(_WORD.findall(self._fold(text, self.ignore_case)))

    def find(self, text: str, words: set[str] | None = None) -> set[str]:
        """Organisations named in the text; ``words`` is its word set, folded as this set folds."""
        found = {name for alias, name in self._substrings_in(text) if alias in text}
        words = self._words(text) if words is None else words
        found.update(self.single[w] for w in words & self.single.keys())
        for first in words & self.multi.keys():
            found.update(name for pattern, name in self.multi[first] if pattern.search(text))
        return found


@dataclass(frozen=True)
class _Exclusions:
    """One watched entity's negative contexts.

    A phrase that contains one of the entity's aliases ("apple pie", "open AI model") hides the
    mentions inside it; a phrase that does not ("fruit", "orchard") hides every mention of the
    entity in a text that contains it.
    """

    masks: re.Pattern[str] | None
    vetoes: re.Pattern[str] | None

    def keep(self, text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        if self.vetoes is not None and self.vetoes.search(text):
            return []
        if self.masks is None:
            return spans
        hidden = [(m.start(), m.end()) for m in self.masks.finditer(text)]
        return [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in hidden)]


def _phrases(phrases: Iterable[str]) -> re.Pattern[str] | None:
    parts = [re.escape(p) if _CJK.search(p) else _regex_pattern(p) for p in phrases if p.strip()]
    return re.compile("|".join(parts), re.I) if parts else None


@dataclass(frozen=True)
class Watchlist:
    """Watched entities and the known organisations, compiled once per configuration."""

    watched: frozenset[str]
    _watched_aliases: _AliasSet
    _exact_aliases: _AliasSet  # watched entities configured as case-sensitive
    _known_aliases: _AliasSet
    _exclusions: Mapping[str, _Exclusions]

    @classmethod
    def build(
        cls,
        entities: Mapping[str, Iterable[str]],
        exclude: Mapping[str, Iterable[str]] | None = None,
        case_sensitive: Iterable[str] = (),
    ) -> Watchlist:
        entities = {name: tuple(aliases) for name, aliases in entities.items()}
        exact = set(case_sensitive)
        # A watched entity's configured aliases replace the gazetteer's for the same name;
        # gazetteer organisations that a watched alias already covers are dropped.
        watched_spellings = {s.casefold() for spellings in entities.values() for s in spellings}
        known = {
            name: spellings
            for name, spellings in ORGANISATIONS.items()
            if name not in entities
            and not any(s.casefold() in watched_spellings for s in spellings)
        }
        exclusions = {}
        for name, phrases in (exclude or {}).items():
            one = _AliasSet.build({name: entities.get(name, ())}, ignore_case=True)
            masks = [p for p in phrases if one.find(p)]
            vetoes = [p for p in phrases if not one.find(p)]
            exclusions[name] = _Exclusions(_phrases(masks), _phrases(vetoes))
        # Watched aliases match in any case, as configured, unless the entity is declared
        # case-sensitive. Gazetteer names are matched as written, because several are common
        # words in lower case (apple, arm, meta, flex).
        return cls(
            frozenset(entities),
            _AliasSet.build(
                {n: a for n, a in entities.items() if n not in exact}, ignore_case=True
            ),
            _AliasSet.build({n: a for n, a in entities.items() if n in exact}, ignore_case=False),
            _AliasSet.build(known, ignore_case=False),
            exclusions,
        )

    def organisations_in(self, text: str) -> set[str]:
        as_written = set(_WORD.findall(text))
        found = (
            self._watched_aliases.find(text)
            | self._exact_aliases.find(text, as_written)
            | self._known_aliases.find(text, as_written)
        )
        for name in found & self._exclusions.keys():
            if not self._watched_mentions(text, name):
                found.discard(name)
        return found

    def mentions(self, text: str) -> list[tuple[int, int, str]]:
        """Every mention as (start, end, organisation), sorted by position; negative contexts
        applied, and a shorter alias inside a longer one ("立讯" in "立讯精密") counted once."""
        spans = self._watched_aliases.mentions(text) + self._exact_aliases.mentions(text)
        for name in {n for _, _, n in spans} & self._exclusions.keys():
            kept = self._exclusions[name].keep(text, [s for s in spans if s[2] == name])
            spans = [s for s in spans if s[2] != name] + kept
        spans += self._known_aliases.mentions(text)
        spans.sort(key=lambda s: (s[0], -s[1]))
        out: list[tuple[int, int, str]] = []
        for span in spans:
            if out and span[0] < out[-1][1]:
                continue
            out.append(span)
        return out

    def _watched_mentions(self, text: str, name: str) -> list[tuple[int, int, str]]:
        spans = [
            s
            for s in self._watched_aliases.mentions(text) + self._exact_aliases.mentions(text)
            if s[2] == name
        ]
        return self._exclusions[name].keep(text, spans)
