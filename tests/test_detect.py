"""The hardware_partnership detector: typed events with parties, object, stage and evidence;
hard negatives stay below the threshold in English and Chinese; passing mentions are not parties;
negative contexts hide an entity; the evaluation set keeps its F1 floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import load_config_text
from monitor.cues import CONTRARY_CUES, HARDWARE_CUES, PARTNERSHIP_CUES, STAGE_CUES
from monitor.detect import detect, split_sentences
from monitor.entities import Watchlist
from monitor.match import DEFAULT_THRESHOLD, match_article
from monitor.normalise import normalise
from monitor.records import Article, Entry, Event, Party

ROOT = Path(__file__).resolve().parents[1]
EVAL = [
    json.loads(line)
    for line in (ROOT / "fixtures" / "eval" / "items.jsonl").read_text("utf-8").splitlines()
]
WATCH = Watchlist.build(
    {"OpenAI": ["OpenAI"], "Luxshare": ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"]}
)


def _event(title: str, summary: str = "") -> Event | None:
    return detect(title, summary, WATCH).event


def test_event_record_for_an_assembly_deal() -> None:
    event = _event(
        "OpenAI taps Luxshare to assemble its first consumer device",
        "OpenAI has picked Luxshare Precision to build the gadget, people familiar said.",
    )
    assert event is not None
    assert event.parties == (Party("OpenAI", True), Party("Luxshare", True))
    assert (event.kind, event.object, event.stage, event.where) == (
        "hardware_partnership",
        "assembly",
        "rumoured",
        "title",
    )
    assert event.evidence[0] == "OpenAI taps Luxshare to assemble its first consumer device"
    assert event.score >= DEFAULT_THRESHOLD
    assert "taps" in event.partnership_cues and "device" in event.hardware_cues


@pytest.mark.parametrize(
    ("title", "summary", "object_", "stage"),
    [
        ("SK hynix signs HBM supply agreement with OpenAI", "", "memory supply", "announced"),
        ("OpenAI and Broadcom to co-develop custom AI accelerator", "", "custom chip", "announced"),
        ("Foxconn confirms partnership with OpenAI on server racks", "", "servers", "confirmed"),
        ("Apple ends modem chip supply deal with Qualcomm", "", "chips", "ended"),
        ("Nvidia books more CoWoS packaging capacity at TSMC", "", "packaging", "announced"),
        ("立讯精密与OpenAI签署协议，代工AI设备", "", "assembly", "announced"),
        ("传OpenAI洽谈与富士康合作生产AI服务器", "", "servers", "rumoured"),
        ("苹果终止与高通的基带芯片供应协议", "", "chips", "ended"),
    ],
)
def test_object_and_stage(title: str, summary: str, object_: str, stage: str) -> None:
    event = _event(title, summary)
    assert event is not None and (event.object, event.stage) == (object_, stage)
    assert event.score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("OpenAI releases a new model", "GPT-5.5 brings faster reasoning to ChatGPT users."),
        ("Luxshare shares rise after strong quarter", "Profit beat estimates."),
        ("Elon Musk sues OpenAI over its hardware plans", "The lawsuit names device deals."),
        ("OpenAI raises $40 billion in funding round", "Part of it pays for chips and servers."),
        ("Luxshare Q3 profit climbs as iPhone assembly orders lift revenue", ""),
        ("OpenAI signs content licensing deal with News Corp", ""),
        ("AMD to acquire server maker ZT Systems", ""),
        ("DRAM contract prices to rise 15% in fourth quarter", "Server memory demand is strong."),
        ("OpenAI发布GPT-5.5模型", "新模型推理速度更快。"),
        ("立讯精密股价大涨，三季度业绩超预期", ""),
        ("马斯克再次起诉OpenAI和微软", "诉讼称两家公司违反了协议。"),
        ("集邦咨询：第四季度DRAM合约价预计上涨15%", "服务器内存需求强劲。"),
    ],
)
def test_hard_negatives_stay_below_the_threshold(title: str, summary: str) -> None:
    detection = detect(title, summary, WATCH)
    assert detection.score < DEFAULT_THRESHOLD, detection


def test_passing_mention_is_not_a_party() -> None:
    event = _event(
        "Apple signs deal with Foxconn to assemble smartphones",
        "The agreement covers next year's models, and rivals like OpenAI and others watch.",
    )
    assert event is not None
    assert [p.name for p in event.parties] == ["Apple", "Foxconn"]
    event = _event("AI硬件创业潮", "包括OpenAI在内的多家公司都在探索AI设备，难以找到代工厂。")
    assert event is None or "OpenAI" not in {p.name for p in event.parties}


def test_lookalike_lowers_the_score_and_says_so() -> None:
    plain = detect("Luxshare wins OpenAI device order", "", WATCH)
    stock = detect("Luxshare shares jump on OpenAI device order", "", WATCH)
    assert stock.score < plain.score
    assert ("stock move", "shares jump") in stock.contrary


def _article(title: str, summary: str = "") -> Article:
    entry = Entry("g", title, "https://n.example/1", summary or None, None, None, ())
    return normalise(entry, "https://n.example/feed")


NEGATIVE_CONTEXTS = """
[watch.entities]
OpenAI = { aliases = ["OpenAI", "Open AI"], exclude = ["open AI model", "open AI models"] }
Apple = { aliases = ["Apple", "苹果"], exclude = ["apple pie", "fruit", "苹果价格"] }
Arm = { aliases = ["Arm"], case_sensitive = true }
"""


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Apple pie recipes for autumn", set()),
        ("Apple signs deal with Foxconn", {"Apple", "Foxconn"}),
        ("Apple harvest: fruit growers expect a record year", set()),
        ("苹果价格上涨", set()),
        ("苹果与富士康签约", {"Apple", "Foxconn"}),
        ("Open AI signs chip deal", {"OpenAI"}),
        ("The race for open AI models heats up", set()),
        ("Arm signs chip design deal", {"Arm"}),
        ("robot arm maker signs deal", set()),
        ("OpenAI's device and Luxshare-made hardware", {"OpenAI", "Luxshare"}),
    ],
)
def test_negative_contexts_and_case(text: str, found: set[str]) -> None:
    config = load_config_text('[[feeds]]\nurl = "https://a.example/f"\n' + NEGATIVE_CONTEXTS)
    watchlist = Watchlist.build(config.entities, config.entity_excludes, config.case_sensitive)
    assert watchlist.organisations_in(text) == found
    assert {name for _, _, name in watchlist.mentions(text)} == found


def test_hyphenated_and_possessive_aliases() -> None:
    assert WATCH.organisations_in("Luxshare-Precision's plant") == {"Luxshare"}
    assert WATCH.organisations_in("Hon-Hai and SK-hynix sign") == {"Foxconn", "SK hynix"}
    assert WATCH.organisations_in("OpenAI-Luxshare deal") == {"OpenAI", "Luxshare"}


def _sentences() -> list[str]:
    texts = [t for i in EVAL for t in (i["title"], *split_sentences(i["summary"]))]
    expected = json.loads((ROOT / "fixtures" / "expected.json").read_text("utf-8"))["items"]
    return texts + [i["title"] for i in expected]


def test_cue_prefilter_never_hides_a_cue() -> None:
    for group in (PARTNERSHIP_CUES, HARDWARE_CUES):
        hidden = [t for t in _sentences() if group.pattern.search(t) and not group.may_hold(t)]
        assert hidden == []


def test_lower_case_scan_finds_what_the_case_blind_expression_finds() -> None:
    """Cues are scanned on lower-cased text with a case-sensitive expression (faster): it must
    find the same cues, as written, as the re.IGNORECASE expression does on the text itself."""
    shouted = [t.upper() for t in _sentences()[:200]]
    for group in (PARTNERSHIP_CUES, HARDWARE_CUES, STAGE_CUES, CONTRARY_CUES):
        for text in [*_sentences(), *shouted, "İSTANBUL plant signs DEAL for AI chips"]:
            found = [
                (m.start(), m.end(), group.categories[m.lastgroup or ""], m.group(0))
                for m in group.pattern.finditer(text)
            ]
            assert group.scan(text) == found, text


def test_evaluation_set_keeps_its_f1_floor() -> None:
    tp = fp = fn = 0
    for item in EVAL:
        article = _article(item["title"], item["summary"])
        predicted = match_article(article, WATCH).score >= DEFAULT_THRESHOLD
        tp += predicted and item["label"]
        fp += predicted and not item["label"]
        fn += not predicted and item["label"]
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert len(EVAL) >= 250 and f1 >= 0.9, f"F1 {f1:.3f} (tp {tp}, fp {fp}, fn {fn})"
