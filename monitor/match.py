"""Match stage: which watched entities an article mentions, and whether it reads as a
hardware-partnership story. Pure: article and watch list in, Match out.

First version, deliberately simple and explainable: an article is alert-worthy when a sentence in
its title or lead carries a partnership cue (deal, agreement, tie-up, to assemble, 签署, 代工, ...)
together with a hardware cue (chip, server, device, 芯片, ...), and a watched entity is named in
the title or in that sentence (so a passing mention does not count). ``match_article`` is the one
entry point a later scored detector replaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.gazetteer import ORGANISATIONS
from monitor.records import Article, Match

LEAD_SENTENCES = 3  # sentences of the body, after the title, that count as the lead
ALERT_THRESHOLD = 0.5

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；])|\n+")

# Partnership cues: words that announce two parties doing something together.
_PARTNERSHIP = (
    r"deals?",
    r"agreements?",
    r"pacts?",
    r"partnership",
    r"alliance",
    r"tie-?ups?",
    r"tie up",
    r"joint venture",
    r"memorandum of understanding",
    r"mou",
    r"partner(?:s|ed|ing)? (?:with|on)",
    r"teams? up",
    r"teamed up",
    r"join(?:s|ed)? forces",
    r"taps?",
    r"tapped",
    r"tapping",
    r"picks?",
    r"picked",
    r"selects?",
    r"selected",
    r"enlists?",
    r"enlisted",
    r"hires?",
    r"hired",
    r"chooses",
    r"chose",
    r"signs?",
    r"signed",
    r"inks?",
    r"inked",
    r"contract to",
    r"(?:wins?|won|secures?|secured|lands?|landed|awarded) (?:an? |the )?(?:\w+ ){0,2}"
    r"(?:contract|orders?)",
    r"(?:to|will|would|could|is to|are to) (?:supply|manufacture|assemble|build|produce|make|"
    r"fabricate|co-develop|develop|design|package)",
    r"co-?develop(?:s|ed|ing|ment)?",
    r"co-?design(?:s|ed|ing)?",
    r"invest(?:s|ed|ing)? in",
    r"supply (?:deal|agreement|contract)",
    r"supplier for",
    r"assembl(?:e|es|ed|ing) (?:the|its|a|an)",
    r"manufactur(?:e|es|ed|ing) (?:the|its|a|an)",
)
_PARTNERSHIP_CJK = (
    "合作",
    "协议",
    "協議",
    "签署",
    "簽署",
    "签约",
    "簽約",
    "联手",
    "聯手",
    "携手",
    "攜手",
    "牵手",
    "代工",
    "合资",
    "结盟",
    "入股",
    "委托",
    "承接",
    "敲定",
    "达成",
    "拿下",
    "订单",
)
# Hardware cues: the physical thing the partnership is about.
_HARDWARE = (
    r"chips?",
    r"chipsets?",
    r"semiconductors?",
    r"asics?",
    r"gpus?",
    r"tpus?",
    r"npus?",
    r"accelerators?",
    r"processors?",
    r"silicon",
    r"wafers?",
    r"foundry",
    r"hbm\d?e?",
    r"dram",
    r"nand",
    r"memory",
    r"servers?",
    r"server racks?",
    r"racks?",
    r"data[- ]cent(?:er|re) hardware",
    r"devices?",
    r"gadgets?",
    r"hardware",
    r"smartphones?",
    r"wearables?",
    r"earbuds",
    r"smart glasses",
    r"headsets?",
    r"supercomputers?",
    r"assembly",
    r"packaging",
    r"cowos",
    r"substrates?",
    r"modules?",
    r"handsets?",
    r"laptops?",
    r"robots?",
    r"sensors?",
)
_HARDWARE_CJK = (
    "芯片",
    "晶片",
    "半导体",
    "半導體",
    "处理器",
    "加速器",
    "服务器",
    "伺服器",
    "设备",
    "設備",
    "硬件",
    "硬體",
    "装置",
    "裝置",
    "晶圆",
    "内存",
    "存储",
    "组装",
    "組裝",
    "机柜",
    "终端",
    "封装",
)


# Word boundaries for Latin-script words. Not \b: Python counts CJK characters as word
# characters, so "OpenAI与立讯精密" would hide "OpenAI".
_NOT_AFTER_LETTER = r"(?<![0-9A-Za-z\u00c0-\u024f_])"
_NOT_BEFORE_LETTER = r"(?![0-9A-Za-z\u00c0-\u024f_])"


def _latin_pattern(alias: str) -> str:
    # Words separated by spaces or hyphens in any amount; a possessive may follow.
    words = [re.escape(w) for w in re.split(r"[\s\-]+", alias.strip()) if w]
    return _NOT_AFTER_LETTER + r"[\s\-]+".join(words) + r"(?:['’]s)?" + _NOT_BEFORE_LETTER


@dataclass(frozen=True)
class _Alias:
    name: str  # the organisation it names
    pattern: re.Pattern[str] | None  # Latin aliases: word-bounded, case-insensitive
    substring: str | None  # CJK aliases: plain substring


def _compile_aliases(
    names: Mapping[str, Iterable[str]], *, ignore_case: bool
) -> tuple[_Alias, ...]:
    flags = re.I if ignore_case else 0
    aliases = []
    for name, spellings in names.items():
        for spelling in spellings:
            if _CJK.search(spelling):
                aliases.append(_Alias(name, None, spelling))
            else:
                aliases.append(_Alias(name, re.compile(_latin_pattern(spelling), flags), None))
    return tuple(aliases)


def _compile_cues(latin: Iterable[str], cjk: Iterable[str]) -> re.Pattern[str]:
    words = _NOT_AFTER_LETTER + r"(?<!-)(?:" + "|".join(latin) + r")(?!-)" + _NOT_BEFORE_LETTER
    return re.compile(words + "|" + "|".join(re.escape(c) for c in cjk), re.I)


_PARTNERSHIP_RE = _compile_cues(_PARTNERSHIP, _PARTNERSHIP_CJK)
_HARDWARE_RE = _compile_cues(_HARDWARE, _HARDWARE_CJK)


@dataclass(frozen=True)
class Watchlist:
    """Watched entities and the known organisations, compiled once per configuration."""

    watched: frozenset[str]
    aliases: tuple[_Alias, ...]

    @classmethod
    def build(cls, entities: Mapping[str, Iterable[str]]) -> Watchlist:
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
            _compile_aliases(entities, ignore_case=True)
            + _compile_aliases(known, ignore_case=False),
        )

    def organisations_in(self, text: str) -> set[str]:
        found = set()
        for alias in self.aliases:
            if alias.name in found:
                continue
            if (alias.substring is not None and alias.substring in text) or (
                alias.pattern is not None and alias.pattern.search(text)
            ):
                found.add(alias.name)
        return found


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


@dataclass(frozen=True)
class _Sentence:
    where: str  # "title", "lead" or "body"
    text: str
    partnership: tuple[str, ...]
    hardware: tuple[str, ...]
    organisations: frozenset[str]


def _sentence(where: str, text: str, watchlist: Watchlist) -> _Sentence:
    return _Sentence(
        where,
        text,
        tuple(dict.fromkeys(m.group(0).lower() for m in _PARTNERSHIP_RE.finditer(text))),
        tuple(dict.fromkeys(m.group(0).lower() for m in _HARDWARE_RE.finditer(text))),
        frozenset(watchlist.organisations_in(text)),
    )


def _body_text(article: Article) -> str:
    # The summary is usually the lead; content may start with the same words. Use content when
    # it is richer, else the summary.
    return article.content if len(article.content) > len(article.summary) else article.summary


def match_article(article: Article, watchlist: Watchlist) -> Match:
    """Decide whether an article is an alert-worthy hardware-partnership story, and explain why."""
    body = split_sentences(_body_text(article))
    title = _sentence("title", article.title, watchlist)
    head = [title] + [_sentence("lead", s, watchlist) for s in body[:LEAD_SENTENCES]]
    rest_orgs = watchlist.organisations_in(" ".join(body[LEAD_SENTENCES:]))

    organisations = set(rest_orgs).union(*(s.organisations for s in head))
    entities = tuple(sorted(organisations & watchlist.watched))

    # Evidence: a title/lead sentence with both cues; the title's cues also pair with a lead
    # sentence's (headlines are terse: "OpenAI taps Luxshare" over "... to build its device").
    evidence = [s for s in head if s.partnership and s.hardware]
    if not evidence and title.partnership:
        evidence = [s for s in head[1:] if s.hardware]
    salient = title.organisations | frozenset().union(*(s.organisations for s in evidence))
    salient_watched = sorted(salient & watchlist.watched)

    score = 0.0
    if evidence:
        score += 0.4
    if title.partnership:
        score += 0.2
    if title.hardware:
        score += 0.15
    if any(len(s.organisations | title.organisations) >= 2 for s in evidence):
        score += 0.15
    if title.organisations & watchlist.watched:
        score += 0.1
    score = round(min(score, 1.0), 2)

    alert_worthy = bool(evidence and salient_watched and score >= ALERT_THRESHOLD)
    why = _explain(title, evidence, salient_watched, entities, organisations)
    return Match(entities, tuple(sorted(organisations)), alert_worthy, score, tuple(why))


def _explain(
    title: _Sentence,
    evidence: list[_Sentence],
    salient_watched: list[str],
    entities: tuple[str, ...],
    organisations: set[str],
) -> list[str]:
    why = []
    if evidence:
        cues_p = sorted({c for s in [*evidence, title] for c in s.partnership})
        cues_h = sorted({c for s in [*evidence, title] for c in s.hardware})
        why.append(f"partnership cues: {', '.join(cues_p)}; hardware cues: {', '.join(cues_h)}")
        why.append(f"evidence ({evidence[0].where}): {evidence[0].text}")
    else:
        why.append("no sentence in the title or lead pairs a partnership cue with a hardware cue")
    if salient_watched:
        why.append(f"watched: {', '.join(salient_watched)}")
    elif entities:
        why.append(f"watched entities only in passing: {', '.join(entities)}")
    others = sorted(organisations - set(entities))
    if others:
        why.append(f"also involved: {', '.join(others)}")
    return why
