"""Alert rules: a small boolean query language over article text, plus entity, detector and
score conditions, each rule routed to channels. Pure.

Query syntax (operators in capitals; anything else is a search word)::

    luxshare AND (device OR "smart glasses") AND NOT lawsuit
    hbm NEAR/5 (supply OR contract)      -- within 5 words of each other
    chip* foundry                        -- a trailing * matches any ending; a space means AND

Words and phrases match case-insensitively on word boundaries, anywhere in the title, summary
or content; Chinese and Japanese are matched character by character, so "代工" is a two-token
phrase and NEAR counts characters there. NOT binds tightest, then NEAR, AND, OR.
A query that does not parse raises RuleSyntaxError with the 1-based column of the problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from monitor.detect import KIND, Detection
from monitor.errors import RuleSyntaxError

DEFAULT_THRESHOLD = 0.5
DETECTORS = (KIND, "none")
_TOKEN = re.compile(
    r"[0-9a-z\u00c0-\u024f_]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


# --- the query tree


@dataclass(frozen=True)
class Term:
    tokens: tuple[str, ...]  # folded tokens; several for a phrase or a CJK word
    prefix: bool = False  # trailing *: the last token may continue


@dataclass(frozen=True)
class Not:
    operand: Query


@dataclass(frozen=True)
class And:
    operands: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Query, ...]


@dataclass(frozen=True)
class Near:
    left: Query  # a Term, or an OR of Terms
    right: Query
    distance: int  # most words allowed between them


Query = Term | Not | And | Or | Near


def tokens_of(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


# --- parsing

_LEX = re.compile(
    r"""(?P<space>\s+)|(?P<lparen>\()|(?P<rparen>\))|(?P<near>NEAR/(?P<n>\d+))
    |(?P<quoted>"[^"]*"?)|(?P<word>[^\s()"]+)""",
    re.X,
)


@dataclass
class _Parser:
    text: str
    tokens: list[tuple[str, str, int]] = field(default_factory=list)  # kind, text, column
    at: int = 0

    def lex(self) -> None:
        for m in _LEX.finditer(self.text):
            kind = m.lastgroup or ""
            column = m.start() + 1
            if kind == "space":
                continue
            if kind == "n":
                kind = "near"
            word = m.group(0)
            if kind == "word" and word in ("AND", "OR", "NOT"):
                kind = word.lower()
            if kind == "word" and word.startswith("NEAR"):
                raise RuleSyntaxError(column, f"expected NEAR/<number>, got {word!r}")
            if kind == "quoted" and (len(word) < 2 or not word.endswith('"')):
                raise RuleSyntaxError(column, "unclosed quote")
            self.tokens.append((kind, word, column))

    def peek(self) -> tuple[str, str, int]:
        if self.at < len(self.tokens):
            return self.tokens[self.at]
        return ("end", "", len(self.text) + 1)

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.at += 1
        return token

    def parse(self) -> Query:
        self.lex()
        if not self.tokens:
            raise RuleSyntaxError(1, "the query is empty")
        query = self.or_()
        kind, word, column = self.peek()
        if kind != "end":
            raise RuleSyntaxError(column, f"unexpected {word!r}")
        return query

    def or_(self) -> Query:
        operands = [self.and_()]
        while self.peek()[0] == "or":
            self.take()
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self) -> Query:
        operands = [self.near()]
        while self.peek()[0] in ("and", "not", "word", "quoted", "lparen"):
            if self.peek()[0] == "and":
                self.take()
            operands.append(self.near())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def near(self) -> Query:
        left = self.unary()
        while self.peek()[0] == "near":
            _, word, column = self.take()
            right = self.unary()
            for side in (left, right):
                if not _near_operand(side):
                    raise RuleSyntaxError(column, "NEAR joins words, phrases or (a OR b) only")
            left = Near(left, right, int(word.split("/")[1]))
        return left

    def unary(self) -> Query:
        kind, word, column = self.take()
        if kind == "not":
            return Not(self.unary())
        if kind == "lparen":
            inner = self.or_()
            closing, got, at = self.take()
            if closing != "rparen":
                raise RuleSyntaxError(
                    at,
                    f"expected ')' to close the '(' at column {column}"
                    + (f", got {got!r}" if got else ""),
                )
            return inner
        if kind == "word":
            return _term(word, column, quoted=False)
        if kind == "quoted":
            return _term(word[1:-1], column, quoted=True)
        if kind == "end":
            raise RuleSyntaxError(column, "the query ends where a word was expected")
        raise RuleSyntaxError(column, f"expected a word, a phrase or '(', got {word!r}")


def _term(text: str, column: int, *, quoted: bool) -> Term:
    prefix = not quoted and text.endswith("*")
    tokens = tuple(tokens_of(text.rstrip("*") if prefix else text))
    if not tokens:
        raise RuleSyntaxError(column, f"{text!r} has no letters or digits to search for")
    return Term(tokens, prefix)


def _near_operand(query: Query) -> bool:
    if isinstance(query, Term):
        return True
    return isinstance(query, Or) and all(isinstance(q, Term) for q in query.operands)


def parse_query(text: str) -> Query:
    return _Parser(text).parse()


# --- evaluation


class Document:
    """An article's text as folded tokens, indexed once for every rule that asks."""

    def __init__(self, text: str) -> None:
        self.tokens = tokens_of(text)

    @cached_property
    def positions(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for i, token in enumerate(self.tokens):
            index.setdefault(token, []).append(i)
        return index

    def starts(self, term: Term) -> list[int]:
        """Where the term starts (token index)."""
        first, rest = term.tokens[0], term.tokens[1:]
        if term.prefix and not rest:
            return sorted(i for t, ps in self.positions.items() if t.startswith(first) for i in ps)
        hits = []
        for i in self.positions.get(first, ()):
            window = self.tokens[i + 1 : i + 1 + len(rest)]
            if len(window) != len(rest):
                continue
            if term.prefix:
                ok = window[:-1] == list(rest[:-1]) and window[-1].startswith(rest[-1])
            else:
                ok = window == list(rest)
            if ok:
                hits.append(i)
        return hits

    def spans(self, query: Query) -> list[tuple[int, int]]:
        if isinstance(query, Term):
            n = len(query.tokens)
            return [(i, i + n - 1) for i in self.starts(query)]
        assert isinstance(query, Or)
        return [s for q in query.operands for s in self.spans(q)]

    def holds(self, query: Query) -> bool:
        if isinstance(query, Term):
            return bool(self.starts(query))
        if isinstance(query, Not):
            return not self.holds(query.operand)
        if isinstance(query, And):
            return all(self.holds(q) for q in query.operands)
        if isinstance(query, Or):
            return any(self.holds(q) for q in query.operands)
        lefts, rights = self.spans(query.left), self.spans(query.right)
        return any(
            max(b[0] - a[1], a[0] - b[1]) - 1 <= query.distance for a in lefts for b in rights
        )


# --- rules


@dataclass(frozen=True)
class Rule:
    name: str
    query: Query | None  # None: no condition on the text
    channels: tuple[str, ...]  # where its alerts go (resolved: never empty when channels exist)
    entities: tuple[str, ...] | None = None  # None: any watched entity
    detector: str = KIND  # "hardware_partnership", or "none" for a text-only rule
    min_score: float = DEFAULT_THRESHOLD
    query_text: str = ""  # as configured, for explanations


def default_rule(threshold: float = DEFAULT_THRESHOLD, channels: Iterable[str] = ()) -> Rule:
    """A watched entity is a party of a hardware partnership scoring at least the threshold."""
    return Rule("default", None, tuple(channels), None, KIND, threshold)


def describe(rule: Rule) -> str:
    """One line for check-config and explanations: the conditions, then the channels."""
    conditions = [rule.query_text] if rule.query_text else []
    if rule.detector == KIND:
        if rule.entities is None:
            conditions.append("a watched entity is a party")
        else:
            conditions.append(f"a party among {', '.join(rule.entities)}")
        conditions.append(f"{KIND} >= {rule.min_score:.2f}")
    elif rule.entities is None:
        conditions.append("names a watched entity")
    else:
        conditions.append(f"names one of {', '.join(rule.entities)}")
    return f"{rule.name}: {'; '.join(conditions)} -> {', '.join(rule.channels) or 'every channel'}"


def rule_matches(
    rule: Rule,
    detection: Detection,
    entities: Sequence[str],
    organisations: Iterable[str],
    document: Document | None,
) -> bool:
    """Whether an article satisfies a rule. With a detector, the entities must be parties of
    the event (a passing mention is not enough); without, named anywhere. ``document`` is the
    article's text, needed when the rule has a query."""
    return why_not(rule, detection, entities, organisations, document) is None


def why_not(
    rule: Rule,
    detection: Detection,
    entities: Sequence[str],
    organisations: Iterable[str],
    document: Document | None,
) -> str | None:
    """None when the article satisfies the rule, else the first condition it fails."""
    if rule.detector == KIND:
        event = detection.event
        if event is None:
            return f"no {KIND} event"
        if detection.score < rule.min_score:
            return f"{KIND} {detection.score:.2f} < {rule.min_score:.2f}"
        names = {p.name for p in event.parties}
        if rule.entities is None and not any(p.watched for p in event.parties):
            return "no watched entity is a party"
        if rule.entities is not None and not names & set(rule.entities):
            return f"none of {', '.join(rule.entities)} is a party"
    elif rule.entities is None and not entities:
        return "names no watched entity"
    elif rule.entities is not None and not set(organisations) & set(rule.entities):
        return f"names none of {', '.join(rule.entities)}"
    if rule.query is None:
        return None
    assert document is not None, "a rule with a query needs the article's text"
    return None if document.holds(rule.query) else f"query not satisfied: {rule.query_text}"
