"""The ``hardware_partnership`` detector: reads one article and returns a typed, scored event.

Pure: title and body text and a watch list in, a Detection out. How it scores, so that every
number in an explanation can be traced back here:

1. The text is split into sentences: the title, the lead (the first LEAD_SENTENCES sentences of
   the body) and the rest. Each place has a weight (WEIGHTS): the title counts most.
2. In each sentence it finds partnership cues (strong: "deal", "signs", "代工"; weak: "taps",
   "to build"), hardware cues (each naming an object: "HBM" memory supply, "ASIC" custom chip),
   organisations, stage cues and contrary cues. A terse title ("OpenAI taps Luxshare") borrows
   the missing kind of cue from the first lead sentence.
3. A sentence with both kinds of cue is evidence. Its strength is
   ``weight * (0.5 * partnership + 0.3 * hardware) * proximity + weight * parties``, where
   proximity falls from 1 as the cues stand further apart, and ``parties`` adds up to 0.2 for
   organisations that are named in it (not in passing), near a cue.
4. The article's score is its best evidence, plus a little for corroborating evidence; a
   partnership with only one known party and only weak cues ("OpenAI picks a design") is
   discounted; contrary cues in the title or the evidence (a lawsuit, a funding round, a stock
   move, a price report, a launch, an acquisition, a software or cloud deal) subtract their
   penalty. The result is clamped to [0, 1].

Parties are the organisations named in the title or in evidence, minus passing mentions ("rivals
like OpenAI", "包括英伟达在内"); watched ones are marked and listed first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from monitor.cues import CONTRARY_CUES, HARDWARE_CUES, PARTNERSHIP_CUES, PASSING_RE, STAGE_CUES
from monitor.entities import Watchlist
from monitor.records import Event, Party

KIND = "hardware_partnership"
LEAD_SENTENCES = 3  # sentences of the body, after the title, that count as the lead
# Sentences after the lead still read for evidence. At their weight they only corroborate: alone
# they cannot reach the default threshold.
BODY_SENTENCES = 6
WEIGHTS = {"title": 1.0, "lead": 0.9, "body": 0.45}
LEAD_DECAY = 0.07  # each later lead sentence weighs this much less
STRENGTH = {"strong": 1.0, "weak": 0.7, "for": 0.7}  # "for": "chips for Apple"
# What each kind of look-alike costs when it stands in the title or the evidence.
PENALTY = {
    "lawsuit": 0.45,
    "funding": 0.4,
    "stock move": 0.55,
    "results": 0.3,
    "price report": 0.35,
    "launch": 0.35,
    "policy": 0.45,
    "acquisition": 0.4,
    "software or cloud": 0.45,
}
# Event objects, most specific first: the first one named by the evidence wins.
OBJECTS = (
    "memory supply",
    "custom chip",
    "packaging",
    "foundry",
    "servers",
    "assembly",
    "device",
    "chips",
    "components",
)
STAGES = ("rumoured", "announced", "confirmed", "ended")
STAGE_PRIORITY = ("ended", "confirmed", "rumoured")  # what wins when several are named

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；])|\n+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


_FOR = re.compile(r"(?:\bfor |为|為|给|給)$", re.I)
_FOR_ANY = re.compile(r"\bfor [A-Z0-9]|[为為给給]", re.I)
BODY_CHARS = 4000  # enough for the lead and BODY_SENTENCES more
# A capitalised word right after a weak cue names the other party, even one we do not know:
# "Amazon selects Alchip", "OpenAI taps a start-up" does not.
_NAMED_AFTER = re.compile(r"\s+(?!(?:The|Its|Their|A|An|Up|To)\b)[A-Z][\w&.\-]+")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


Cue = tuple[int, int, str, str]  # start, end, category, text as written


@dataclass(frozen=True)
class Sentence:
    """One sentence and what was found in it."""

    where: str  # "title", "lead" or "body"
    text: str
    weight: float
    partnership: tuple[Cue, ...]
    hardware: tuple[Cue, ...]
    mentions: tuple[tuple[int, int, str], ...]  # (start, end, organisation), passing ones out
    passing: frozenset[str]  # organisations named here only in passing

    @property
    def organisations(self) -> frozenset[str]:
        return frozenset(name for _, _, name in self.mentions)

    # Read only for the few sentences that say what the story is (title, lead, evidence).
    @cached_property
    def stage(self) -> tuple[Cue, ...]:
        return tuple(STAGE_CUES.scan(self.text))

    @cached_property
    def contrary(self) -> tuple[Cue, ...]:
        return tuple(CONTRARY_CUES.scan(self.text))


@dataclass(frozen=True)
class Evidence:
    sentence: Sentence
    strength: float
    partnership: tuple[Cue, ...]  # the cues that count, borrowed ones included
    hardware: tuple[Cue, ...]


@dataclass(frozen=True)
class Detection:
    """What the detector read in one article, whether or not it found an event."""

    event: Event | None  # None when no sentence pairs a partnership with hardware
    score: float
    organisations: frozenset[str]  # known organisations named in the sentences read (none when
    # the title and lead pair no cues, and the article was not read further)
    passing: frozenset[str]  # named, but never as a party
    contrary: tuple[tuple[str, str], ...]  # (category, cue) that lowered the score
    where: str  # where the best evidence stands, "" without evidence


def read_sentence(where: str, text: str, weight: float, watchlist: Watchlist) -> Sentence:
    mentions = []
    passing = set()
    beneficiaries: list[Cue] = []
    for start, end, name in watchlist.mentions(text):
        if PASSING_RE.search(text, max(0, start - 80), start):
            passing.add(name)
            continue
        mentions.append((start, end, name))
        # "chips for Apple", "为苹果代工": the organisation a thing is made for is a party.
        if (hit := _FOR.search(text, max(0, start - 5), start)) is not None:
            beneficiaries.append((hit.start(), end, "for", text[hit.start() : end]))
    parties = {n for _, _, n in mentions}
    partnership = tuple(PARTNERSHIP_CUES.scan(text)) + tuple(beneficiaries)
    # A body sentence counts only as evidence, which needs a partnership cue first.
    hardware = tuple(HARDWARE_CUES.scan(text)) if partnership or where != "body" else ()
    return Sentence(
        where, text, weight, partnership, hardware, tuple(mentions), frozenset(passing - parties)
    )


def sentences_read(title: str, body: str) -> list[tuple[str, str, float]]:
    """(where, text, weight) of the title, the lead and the first body sentences."""
    # Only the first sentences are read: splitting all of a long article would be wasted.
    sentences = split_sentences(body[:BODY_CHARS])
    # Feeds often repeat the title as the first line of the summary.
    if sentences and sentences[0].casefold() == title.strip().casefold():
        sentences = sentences[1:]
    read = [("title", title, WEIGHTS["title"])] if title.strip() else []
    for i, text in enumerate(sentences[:LEAD_SENTENCES]):
        read.append(("lead", text, WEIGHTS["lead"] - LEAD_DECAY * i))
    for text in sentences[LEAD_SENTENCES : LEAD_SENTENCES + BODY_SENTENCES]:
        read.append(("body", text, WEIGHTS["body"]))
    return read


def read_article(title: str, body: str, watchlist: Watchlist) -> list[Sentence]:
    """The title, the lead and the first body sentences, each read once."""
    return [read_sentence(w, t, weight, watchlist) for w, t, weight in sentences_read(title, body)]


def _may_pair(text: str) -> bool:
    """False only when no sentence of the text can pair a partnership cue with a hardware cue:
    most articles, which are then not read sentence by sentence."""
    has_partnership = _FOR_ANY.search(text) or PARTNERSHIP_CUES.holds(text)
    return bool(has_partnership) and HARDWARE_CUES.may_hold(text)


def _words_apart(text: str, a: tuple[int, int], b: tuple[int, int]) -> float:
    """Roughly how many words stand between two spans (Chinese: about two characters a word)."""
    lo, hi = (a[1], b[0]) if a[0] <= b[0] else (b[1], a[0])
    if hi <= lo:
        return 0.0
    gap = text[lo:hi]
    cjk = len(_CJK.findall(gap))
    return len(gap[: hi - lo].split()) + cjk / 2


def _proximity(distance: float) -> float:
    if distance <= 6:
        return 1.0
    if distance <= 12:
        return 0.85
    return 0.7


def _closest(text: str, cues: tuple[Cue, ...], others: tuple[Cue, ...]) -> float:
    return min(
        (_words_apart(text, (a[0], a[1]), (b[0], b[1])) for a in cues for b in others),
        default=99.0,
    )


def _strength(
    sentence: Sentence,
    partnership: tuple[Cue, ...],
    hardware: tuple[Cue, ...],
    borrowed: bool,
    title_orgs: frozenset[str],
) -> float:
    best = max(STRENGTH[c[2]] for c in partnership)
    core = 0.5 * best + 0.3
    proximity = 0.8 if borrowed else _proximity(_closest(sentence.text, partnership, hardware))
    parties = sentence.organisations | (title_orgs if sentence.where != "title" else frozenset())
    org_bonus = 0.2 if len(parties) >= 2 else 0.12 if parties else 0.0
    if sentence.mentions and not borrowed:
        spans = tuple((s, e, "", "") for s, e, _ in sentence.mentions)
        if _closest(sentence.text, partnership, spans) > 8:
            org_bonus *= 0.75
    return sentence.weight * (core * proximity + org_bonus)


def find_evidence(sentences: list[Sentence]) -> list[Evidence]:
    """Sentences that pair a partnership cue with a hardware cue, strongest first."""
    if not sentences:
        return []
    title = sentences[0] if sentences[0].where == "title" else None
    title_orgs = title.organisations if title else frozenset()
    found = []
    for s in sentences:
        if s.partnership and s.hardware:
            found.append(
                Evidence(
                    s,
                    _strength(s, s.partnership, s.hardware, False, title_orgs),
                    s.partnership,
                    s.hardware,
                )
            )
    # Headlines are terse: "OpenAI taps Luxshare" over "... to build its first device".
    lead = next((s for s in sentences if s.where == "lead"), None)
    if title and lead and not (title.partnership and title.hardware):
        p = title.partnership or lead.partnership
        h = title.hardware or lead.hardware
        if p and h and (title.partnership or title.hardware):
            found.append(Evidence(title, _strength(title, p, h, True, title_orgs), p, h))
    return sorted(found, key=lambda e: -e.strength)


def _contrary(
    sentences: list[Sentence], salient: list[Sentence]
) -> tuple[tuple[tuple[str, str], ...], float]:
    """The look-alike cues that stand where they say what the story is, and what they cost.

    A look-alike in a title without a strong partnership cue ("Apple unveils iPhone 17 with new
    A19 chip") says the story is that thing: it costs half as much again. In the title or the
    evidence it costs its penalty; in the first lead sentence alone, a little over half.
    """
    title = sentences[0] if sentences[0].where == "title" else None
    lead = next((s for s in sentences if s.where == "lead"), None)
    title_is_deal = title is not None and any(c[2] == "strong" for c in title.partnership)
    factors: dict[str, float] = {}
    cues: dict[tuple[str, str], None] = {}
    for s, factor in [
        *((s, 1.0) for s in salient),
        *([(title, 1.0 if title_is_deal else 1.5)] if title else []),
        *([(lead, 0.6)] if lead else []),
    ]:
        for c in s.contrary:
            cues[(c[2], c[3])] = None
            factors[c[2]] = max(factors.get(c[2], 0.0), factor)
    return tuple(cues), sum(PENALTY[cat] * f for cat, f in factors.items())


def _two_sided(evidence: Evidence) -> bool:
    """A strong cue, or a weak one followed by a name, implies a second party. "for Apple" does
    not: the name after it is Apple's own ("servers for Apple Intelligence")."""
    text = evidence.sentence.text
    return any(
        c[2] == "strong" or (c[2] == "weak" and _NAMED_AFTER.match(text, c[1]) is not None)
        for c in evidence.partnership
    )


def _object(evidence: list[Evidence]) -> str:
    """The most specific object the best evidence names, else any evidence."""
    for group in (evidence[:1], evidence):
        named = {c[2] for e in group for c in e.hardware}
        if found := next((o for o in OBJECTS if o in named), None):
            return found
    return "hardware"


def _stage(sentences: list[Sentence]) -> str:
    named = {c[2] for s in sentences for c in s.stage}
    return next((s for s in STAGE_PRIORITY if s in named), "announced")


def _parties(salient: list[Sentence], watchlist: Watchlist) -> tuple[Party, ...]:
    """A title that names two organisations names the parties; the lead's asides ("Luxshare,
    best known for assembling iPhones for Apple") do not add to them. Otherwise the title's and
    the evidence's organisations, in order of appearance."""
    head = [s for s in salient if s.where == "title"]
    if head and len(head[0].organisations) >= 2:
        salient = head
    names: dict[str, None] = {}
    for s in salient:
        for _, _, name in sorted(s.mentions):
            names[name] = None
    watched = [n for n in names if n in watchlist.watched]
    others = [n for n in names if n not in watchlist.watched]
    return tuple(Party(n, True) for n in watched) + tuple(Party(n, False) for n in others)


def detect(title: str, body: str, watchlist: Watchlist) -> Detection:
    """Read an article for a hardware partnership: the event, its score, and what lowered it."""
    texts = sentences_read(title, body)
    # A story is told in its title and lead: when they pair no cues, the article is not read.
    if not _may_pair("\n".join(text for where, text, _ in texts if where != "body")):
        return Detection(None, 0.0, frozenset(), frozenset(), (), "")
    sentences = [read_sentence(w, t, weight, watchlist) for w, t, weight in texts]
    organisations = frozenset().union(*(s.organisations | s.passing for s in sentences))
    evidence = find_evidence(sentences)
    if not evidence:
        passing = frozenset().union(*(s.passing for s in sentences))
        return Detection(None, 0.0, organisations, passing, (), "")

    best = evidence[0]
    score = best.strength + 0.05 * min(len(evidence) - 1, 2)
    strong_sentences = [e.sentence for e in evidence if e.strength >= best.strength * 0.6]
    head = sentences[0] if sentences[0].where == "title" else None
    salient = ([head] if head else []) + [s for s in strong_sentences if s is not head]
    parties = _parties(salient, watchlist)
    if not parties:
        score *= 0.6  # a deal between nobody we can name: "companies like OpenAI are ..."
    elif len(parties) < 2 and not _two_sided(best):
        score *= 0.6  # "OpenAI to build its own chips": one company acting alone

    contrary, penalty = _contrary(sentences, salient)
    score = round(max(0.0, min(1.0, score - penalty)), 2)

    named = frozenset(p.name for p in parties)
    passing = frozenset().union(*(s.passing for s in sentences)) - named
    ordered = [best.sentence] + [s for s in strong_sentences if s is not best.sentence]
    event = Event(
        kind=KIND,
        parties=parties,
        object=_object(evidence),
        stage=_stage(salient),
        score=score,
        evidence=tuple(dict.fromkeys(s.text for s in ordered)),
        partnership_cues=tuple(dict.fromkeys(c[3] for e in evidence for c in e.partnership)),
        hardware_cues=tuple(dict.fromkeys(c[3] for e in evidence for c in e.hardware)),
        where=best.sentence.where,
    )
    return Detection(event, score, organisations, passing, contrary, best.sentence.where)
