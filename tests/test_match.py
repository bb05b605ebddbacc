"""Match stage: every labelled fixture item gets its alert decision; aliases match as promised
(Latin on word boundaries in any case, CJK as substrings); `why` shows the evidence."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config_text
from monitor.entities import Watchlist
from monitor.match import match_article
from monitor.normalise import normalise
from monitor.parse import parse_feed
from monitor.records import Article, Entry, Match

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
EXPECTED: list[dict[str, Any]] = json.loads((FIXTURES / "expected.json").read_text("utf-8"))[
    "items"
]
WATCH = {
    "OpenAI": ("OpenAI",),
    "Luxshare": ("Luxshare", "Luxshare Precision", "立讯精密", "立讯"),
    "TrendForce": ("TrendForce", "集邦咨询"),
}


@cache
def _watchlist() -> Watchlist:
    text = (FIXTURES / "demo.toml").read_text("utf-8").replace("{base}", "http://127.0.0.1:1")
    entities = load_config_text(text).entities
    assert entities == WATCH
    return Watchlist.build(entities)


@cache
def _articles(feed: str) -> dict[str, Article]:
    url = f"https://fixtures.example/feeds/{feed}"
    parsed = parse_feed(url, (FIXTURES / "feeds" / feed).read_bytes())
    return {a.guid: a for a in (normalise(e, url) for e in parsed.entries)}


@pytest.mark.parametrize("item", EXPECTED, ids=[f"{i['feed']}:{i['guid']}" for i in EXPECTED])
def test_fixture_item_alert_decision(item: dict[str, Any]) -> None:
    match = match_article(_articles(item["feed"])[item["guid"]], _watchlist())
    assert match.alert_worthy == item["alert"], f"{item['note']}\nwhy: {match.why}"


def test_every_labelled_item_is_in_its_feed() -> None:
    missing = [(i["feed"], i["guid"]) for i in EXPECTED if i["guid"] not in _articles(i["feed"])]
    assert missing == []


def test_alerts_name_a_watched_entity() -> None:
    for item in EXPECTED:
        match = match_article(_articles(item["feed"])[item["guid"]], _watchlist())
        if match.alert_worthy:
            assert match.entities, item["guid"]


# --- focused cases


def _article(title: str, summary: str = "") -> Article:
    entry = Entry("g-1", title, "https://news.example/1", summary or None, None, None, ())
    return normalise(entry, "https://news.example/feed")


def _match(title: str, summary: str = "") -> Match:
    return match_article(_article(title, summary), _watchlist())


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("OpenAI's device team grows", ("OpenAI",)),
        ("OpenAI’s device team grows", ("OpenAI",)),
        ("openai and LUXSHARE in talks", ("Luxshare", "OpenAI")),
        ("OpenAIX unveils a gadget", ()),
        ("NotOpenAI unveils a gadget", ()),
        ("OpenAI2 unveils a gadget", ()),
        ("Luxshare-Precision wins order", ("Luxshare",)),
        ("Luxshare  Precision wins order", ("Luxshare",)),
        ("(TrendForce) says prices will rise", ("TrendForce",)),
        ("TrendForcers unite", ()),
        ("据集邦咨询统计，价格上涨", ("TrendForce",)),
        ("报道称立讯将代工该设备", ("Luxshare",)),
        ("OpenAI与立讯精密签署协议", ("Luxshare", "OpenAI")),
        ("立讯精密为OpenAI代工", ("Luxshare", "OpenAI")),
    ],
)
def test_watched_aliases(text: str, entities: tuple[str, ...]) -> None:
    assert _match(text).entities == entities


def test_watched_entity_in_later_body_still_counts_as_mentioned() -> None:
    summary = "One. Two. Three. Four. Luxshare was also mentioned."
    assert _match("Weekly roundup", summary).entities == ("Luxshare",)


def test_passing_mention_is_not_salient() -> None:
    match = _match(
        "Apple signs deal with Foxconn to assemble smartphones",
        "The agreement covers next year's models. Companies like OpenAI and others are "
        "also building hardware.",
    )
    assert (match.entities, match.alert_worthy) == (("OpenAI",), False)
    assert "watched entities only in passing: OpenAI" in match.why


def test_dram_contract_prices_alone_are_not_a_partnership() -> None:
    match = _match(
        "TrendForce: DRAM contract prices to rise 8-13% in Q4",
        "DRAM contract prices will rise as suppliers cut output. Server memory demand stays "
        "strong.",
    )
    assert (match.entities, match.alert_worthy) == (("TrendForce",), False)
    assert match.why[0] == (
        "no sentence in the title or lead pairs a partnership cue with a hardware cue"
    )


def test_chinese_dram_report_is_not_a_partnership() -> None:
    match = _match("集邦咨询：第四季度DRAM合约价预计上涨", "集邦咨询表示，DRAM合约价将继续上涨。")
    assert (match.entities, match.alert_worthy) == (("TrendForce",), False)


def test_software_partnership_is_not_hardware() -> None:
    match = _match(
        "OpenAI and Halvard Software partner to bring ChatGPT into workplace suite",
        "The companies will integrate ChatGPT into Halvard's office apps.",
    )
    assert (match.entities, match.alert_worthy) == (("OpenAI",), False)


def test_hardware_partnership_in_title_alerts() -> None:
    match = _match("OpenAI signs deal with Luxshare to build its first consumer AI device")
    assert (match.entities, match.alert_worthy) == (("Luxshare", "OpenAI"), True)
    assert match.why[1] == (
        "evidence (title): OpenAI signs deal with Luxshare to build its first consumer AI device"
    )


def test_why_quotes_the_lead_sentence_that_is_evidence() -> None:
    match = _match(
        "Weekly supply-chain roundup",
        "Analysts expect a busy quarter. OpenAI taps Luxshare to build its first device. "
        "Other news follows.",
    )
    assert match.alert_worthy
    assert "evidence (lead): OpenAI taps Luxshare to build its first device." in match.why
    assert "watched: Luxshare, OpenAI" in match.why


def test_chinese_partnership_alerts_with_evidence() -> None:
    match = _match("立讯精密与微软签署协议，承接AI服务器机柜组装业务")
    assert (match.entities, match.alert_worthy) == (("Luxshare",), True)
    assert "evidence (title): 立讯精密与微软签署协议，承接AI服务器机柜组装业务" in match.why


def test_unwatched_partnership_does_not_alert() -> None:
    match = _match("Foxconn and Nvidia to expand AI server production in Mexico")
    assert (match.entities, match.alert_worthy) == ((), False)


def test_score_stays_between_zero_and_one() -> None:
    scores = [match_article(_articles(i["feed"])[i["guid"]], _watchlist()).score for i in EXPECTED]
    assert all(0.0 <= s <= 1.0 for s in scores)
