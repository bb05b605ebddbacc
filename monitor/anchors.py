"""Anchors: the details of an event that survive translation and rewording.

Pure functions. Copies of one story in different languages or words share almost no text, but
they repeat the same figures ("$16.5 billion", "165亿美元", "165억 달러") and the same product
codes ("GB300", "MI450", "HBM4"). Two reports about the same companies that share none of these
while both carry some are usually two different events (a Mexican server plant and a Taiwanese
supercomputer in one week), so the clusterer compares anchors as well as organisations.

A figure becomes its value rounded to three significant digits, with scale words read in
English, German, Chinese, Japanese and Korean; years and small bare integers are left out
because every report has some.
"""

from __future__ import annotations

import re
import unicodedata

# Scale words and units, each with its multiplier. Units fold onto their base so "6GW",
# "6 gigawatts", "6吉瓦" and "6ギガワット" are one anchor.
_SCALES: dict[str, float] = {
    "thousand": 1e3, "k": 1e3, "千": 1e3,
    "million": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6, "mio": 1e6, "millionen": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "milliarden": 1e9, "mrd": 1e9,
    "trillion": 1e12, "tn": 1e12, "billionen": 1e12,
    "万": 1e4, "萬": 1e4, "만": 1e4, "亿": 1e8, "億": 1e8, "억": 1e8, "兆": 1e12, "조": 1e12,
    "gigawatt": 1e9, "gigawatts": 1e9, "gw": 1e9, "吉瓦": 1e9, "ギガワット": 1e9, "기가와트": 1e9,
    "megawatt": 1e6, "megawatts": 1e6, "mw": 1e6, "兆瓦": 1e6, "メガワット": 1e6, "메가와트": 1e6,
}  # fmt: skip
# Longest first, so "兆瓦" wins over "兆" and "millionen" over "million".
_SCALE_ALT = "|".join(re.escape(s) for s in sorted(_SCALES, key=len, reverse=True))
_NUMBER = re.compile(
    r"(?<![0-9A-Za-z.,])(\d{1,3}(?:,\d{3})+|\d+(?:[.,]\d+)?)"
    r"(?:[\s-]?(" + _SCALE_ALT + r")(?![a-z]))?",
    re.I,
)
# Latin letters and digits mixed, with at most a short suffix ("18A-P"); CJK may touch it.
_CODE = re.compile(
    r"(?<![0-9A-Za-z-])(?=[a-z-]*\d)(?=\d*[a-z])[a-z0-9]+(?:-[a-z0-9]{1,2})?(?![0-9A-Za-z-])",
    re.I,
)
# Codes that are figures with a unit (handled above) or too common to tell events apart.
_NOT_A_CODE = re.compile(
    r"\d+(?:\.\d+)?(?:nm|gw|mw|gb|tb|bn|mn|m|k|b|th|st|nd|rd|s|x|%)|q[1-4]|h[12]|[1-9]g|"
    r".*\d{4}.*|fy\d+",
    re.I,
)
_YEARS = range(1990, 2040)


def figures(text: str) -> set[str]:
    """The figures of a text, as values: "$5bn", "5 billion" and "50亿" are all "5e+09"."""
    found = set()
    for m in _NUMBER.finditer(text):
        digits, scale = m.group(1), (m.group(2) or "").casefold()
        value = _number(digits)
        if value is None:
            continue
        if not scale and value == int(value) and (value < 10 or int(value) in _YEARS):
            continue
        found.add(f"{value * _SCALES.get(scale, 1.0):.3g}")
    return found


def _number(digits: str) -> float | None:
    # "500,000" groups thousands; "23,28" is a German decimal comma.
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits):
        digits = digits.replace(",", "")
    try:
        return float(digits.replace(",", "."))
    except ValueError:
        return None


def codes(text: str) -> set[str]:
    """Product and process codes that mix letters and digits: gb300, mi450, hbm4, 18a-p."""
    return {
        m.group(0).casefold() for m in _CODE.finditer(text) if not _NOT_A_CODE.fullmatch(m.group(0))
    }


def anchors(text: str) -> frozenset[str]:
    """Figures and codes of a text, width-folded first so full-width digits count."""
    folded = unicodedata.normalize("NFKC", text)
    return frozenset(figures(folded) | {f"#{c}" for c in codes(folded)})
