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
    substrings: tuple[tuple[str, str], ...]  # CJK alias, organisation name
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
        return cls(single, {k: tuple(v) for k, v in multi.items()}, tuple(substrings), ignore_case)

    @staticmethod
    def _fold(text: str, ignore_case: bool) -> str:
        return text.casefold() if ignore_case else text

    def find(self, text: str) -> set[str]:
        found = {name for alias, name in self.substrings if alias in text}
        words = set(_WORD.findall(self._fold(text, self.ignore_case)))
        found.update(self.single[w] for w in words & self.single.keys())
        for first in words & self.multi.keys():
            found.update(name for pattern, name in self.multi[first] if pattern.search(text))
        return found


@dataclass(frozen=True)
class Watchlist:
    """Watched entities and the known organisations, compiled once per configuration."""

    watched: frozenset[str]
    _watched_aliases: _AliasSet
    _known_aliases: _AliasSet

    @classmethod
    def build(cls, entities: Mapping[str, Iterable[str]]) -> Watchlist:
        entities = {name: tuple(aliases) for name, aliases in entities.items()}
        # A watched entity's configured aliases replace the gazetteer's for the same name;
        # gazetteer organisations that a watched alias already covers are dropped.
        watched_spellings = {s.casefold() for spellings in entities.values() for s in spellings}
        known = {
            name: spellings
            for name, spellings in ORGANISATIONS.items()
            if name not in entities
            and not any(s.casefold() in watched_spellings for s in spellings)
        }
        # Watched aliases match in any case, as configured. Gazetteer names are matched as
        # written, because several are common words in lower case (apple, arm, meta, flex).
        return cls(
            frozenset(entities),
            _AliasSet.build(entities, ignore_case=True),
            _AliasSet.build(known, ignore_case=False),
        )

    def organisations_in(self, text: str) -> set[str]:
        return self._watched_aliases.find(text) | self._known_aliases.find(text)
