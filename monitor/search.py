"""The search language: what a user types, turned into an FTS5 expression over the search index.

The index (``article_search_fts``, see ``monitor.schema``) uses FTS5's ``porter unicode61``
tokeniser, which stems English but reads a run of Chinese or Japanese characters, and any Latin
word glued to it, as one token: "立讯精密获OpenAI订单" would be a single word, so neither 立讯 nor
OpenAI could be found in it. So the text is indexed with a zero-width space around every CJK
character (``search_text``): each character becomes a token, Latin words glued to CJK become words
of their own, and the text still displays unchanged. A CJK term in a query becomes the phrase of
its characters, which matches exactly where the term occurs as a substring (立讯 finds 立讯精密).

Query syntax, as in FTS5 but checked first so a mistake gets a sentence, not "syntax error":

    luxshare device          both words (implicit AND), English words match their stems
    "consumer AI device"     a phrase
    luxshare OR foxconn      either; AND and NOT too (upper case), grouped with ( )
    lux*                     a prefix
    立讯                      a Chinese term, found inside longer words

Words are quoted before they reach FTS5, so punctuation in a name ("AT&T", "Co.,") cannot break
the query; lower-case and/or/not are ordinary words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.errors import QueryError
from monitor.pairs import pairs, tokeniser

# Scripts written without spaces between words: CJK ideographs (with extension A and the
# compatibility block), kana, and Hangul syllables (searched by substring the same way).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_BOUNDARY = re.compile(f"(?<=[{_CJK}])|(?=[{_CJK}])")
_CJK_CHARACTER = re.compile(f"[{_CJK}]")
# U+200B is not a token character for unicode61 (category Cf) and is invisible when displayed.
SEPARATOR = "\u200b"

_OPERATORS = ("AND", "OR", "NOT")
_LEXEME = re.compile(r'\s*(?:(?P<paren>[()])|"(?P<phrase>[^"]*)(?P<closed>"?)|(?P<word>[^\s()"]+))')
_WORD_CHARACTER = re.compile(r"\w")


def search_text(text: str | None) -> str | None:
    """The text as the index stores it: every CJK character set apart by a zero-width space."""
    if not text or not _CJK_CHARACTER.search(text):  # most text: much faster than the sub
        return text
    return _CJK_BOUNDARY.sub(SEPARATOR, text)


def display_text(indexed: str | None) -> str | None:
    """Undo ``search_text`` in what the index hands back (snippets)."""
    return indexed.replace(SEPARATOR, "") if indexed else indexed


@dataclass(frozen=True)
class _Token:
    kind: str  # "(" | ")" | "op" | "term"
    text: str  # the operator, or the FTS5 string for a term
    source: str  # what the user typed, for error messages
    words: str = ""  # a term's text as the index holds it (search_text)
    prefix: bool = False  # a term ending in *


def compile_query(query: str) -> str:
    """The FTS5 MATCH expression for ``query``; raises QueryError naming what is wrong."""
    tokens = _checked_tokens(query)
    return _expression(tokens, [token.text for token in tokens])


def pair_query(query: str) -> str | None:
    """The MATCH expression for the pair index (``monitor.pairs``), when every term of ``query``
    is a phrase of two or more tokens (the index has no single words); else None."""
    tokens = _checked_tokens(query)
    spelt = []
    for token in tokens:
        words = tokeniser().tokens(token.words)
        if token.kind == "term" and (token.prefix or len(words) < 2):
            return None
        spelt.append('"' + " ".join(pairs(words)[:-1]) + '"' if words else token.text)
    return _expression(tokens, spelt)


def _checked_tokens(query: str) -> list[_Token]:
    tokens = _tokens(query)
    if not any(t.kind == "term" for t in tokens):
        raise QueryError(_what(query), "nothing to search for: give at least one word")
    _check_grammar(query, tokens)
    return tokens


def _expression(tokens: list[_Token], spelt: list[str]) -> str:
    """The tokens as one FTS5 expression, each spelt as ``spelt`` says."""
    parts: list[str] = []
    for previous, token, spelling in zip([None, *tokens], tokens, spelt, strict=False):
        # FTS5 joins adjacent phrases with an implicit AND, but not a phrase and a group.
        if previous and previous.kind in ("term", ")") and token.kind in ("term", "("):
            parts.append("AND")
        parts.append(spelling)
    return " ".join(parts)


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(query.rstrip()):
        lexeme = _LEXEME.match(query, position)
        assert lexeme is not None  # every non-space character starts some lexeme
        position = lexeme.end()
        source = lexeme.group().strip()
        if lexeme["paren"]:
            tokens.append(_Token(lexeme["paren"], lexeme["paren"], source))
        elif lexeme["phrase"] is not None:
            if not lexeme["closed"]:
                raise QueryError(_what(query), f"the quote before {source[:30]!r} is never closed")
            if _WORD_CHARACTER.search(lexeme["phrase"]):
                tokens.append(_term(lexeme["phrase"], source, prefix=False))
        elif lexeme["word"] in _OPERATORS:
            tokens.append(_Token("op", lexeme["word"], source))
        else:
            word = lexeme["word"]
            prefix = word.endswith("*")
            word = word.rstrip("*")
            if _WORD_CHARACTER.search(word):  # "-" or "&" alone would be an empty phrase
                tokens.append(_term(word, source, prefix=prefix))
    return tokens


def _term(text: str, source: str, *, prefix: bool) -> _Token:
    segmented = search_text(text) or ""
    quoted = '"' + segmented.replace('"', '""') + '"' + ("*" if prefix else "")
    return _Token("term", quoted, source, segmented, prefix)


def _check_grammar(query: str, tokens: list[_Token]) -> None:
    """Operators need an operand on each side; parentheses must pair and not be empty."""
    depth = 0
    previous: _Token | None = None
    for token in tokens:
        operand_expected = previous is None or previous.kind in ("(", "op")
        if token.kind == "op" and operand_expected:
            where = "at the start" if previous is None else f"after {previous.source!r}"
            raise QueryError(_what(query), f"{token.source} {where} has nothing to its left")
        if token.kind == ")":
            if depth == 0:
                raise QueryError(_what(query), "a ')' has no '(' to close")
            if operand_expected:
                raise QueryError(_what(query), "empty parentheses, or an operator before ')'")
            depth -= 1
        if token.kind == "(":
            depth += 1
        previous = token
    if previous is not None and previous.kind in ("op", "("):
        raise QueryError(_what(query), f"{previous.source} at the end has nothing to its right")
    if depth:
        raise QueryError(_what(query), "a '(' is never closed")


def _what(query: str) -> str:
    return f"search query {query!r}"
