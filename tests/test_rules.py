"""Rules: the query language parses what it promises, points at what it cannot parse, and a
rule's entities, detector, score and channels decide and route alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config_text
from monitor.entities import Watchlist
from monitor.errors import ConfigError, RuleSyntaxError
from monitor.match import match_article
from monitor.normalise import normalise
from monitor.records import Article, Entry
from monitor.rules import And, Document, Near, Not, Or, Term, parse_query

BASE = """
[[feeds]]
url = "https://techwire.example/feed.xml"

[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "立讯精密"]

[[channels]]
name = "team"
type = "file"
path = "team"

[[channels]]
name = "memory-desk"
type = "file"
path = "memory"
"""


def _article(title: str, summary: str = "") -> Article:
    entry = Entry("g-1", title, "https://news.example/1", summary or None, None, None, ())
    return normalise(entry, "https://news.example/feed")


def _holds(query: str, text: str) -> bool:
    return Document(text).holds(parse_query(query))


# --- parsing


def test_precedence_not_near_and_or() -> None:
    assert parse_query('a OR b c AND NOT "d e"') == Or(
        (Term(("a",)), And((Term(("b",)), Term(("c",)), Not(Term(("d", "e"))))))
    )
    assert parse_query("hbm NEAR/3 (supply OR contract)") == Near(
        Term(("hbm",)), Or((Term(("supply",)), Term(("contract",)))), 3
    )


def test_chinese_term_is_a_phrase_of_characters() -> None:
    assert parse_query("代工") == Term(("代", "工"))


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("(chip OR device", 16, "expected ')' to close the '(' at column 1"),
        ("chip AND", 9, "the query ends where a word was expected"),
        ("chip ) device", 6, "unexpected ')'"),
        ('"smart glasses', 1, "unclosed quote"),
        ("chip NEAR5 device", 6, "expected NEAR/<number>, got 'NEAR5'"),
        ("(a AND b) NEAR/2 c", 11, "NEAR joins words, phrases or (a OR b) only"),
        ("", 1, "the query is empty"),
        ("OR chip", 1, "expected a word, a phrase or '(', got 'OR'"),
    ],
)
def test_syntax_errors_point_at_the_column(query: str, column: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_query(query)
    assert (caught.value.column, caught.value.message) == (column, message)


# --- evaluation


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("luxshare device", "OpenAI taps Luxshare's team for a device", True),
        ("luxshare AND NOT lawsuit", "Luxshare faces lawsuit", False),
        ('"smart glasses"', "Smart-glasses maker", True),
        ('"smart glasses"', "glasses that are smart", False),
        ("chip*", "Chipmakers rally", True),
        ("hbm NEAR/2 supply", "HBM memory supply deal", True),
        ("hbm NEAR/1 supply", "HBM high bandwidth supply", False),
        ("supply NEAR/0 hbm", "HBM supply", True),
        ("立讯 NEAR/4 代工", "立讯精密将代工", True),
        ("立讯 NEAR/1 代工", "立讯精密将代工", False),
        ("(chip OR device) AND openai", "OpenAI device", True),
    ],
)
def test_query_evaluation(query: str, text: str, expected: bool) -> None:
    assert _holds(query, text) is expected


# --- config


def test_unparsable_rule_fails_with_key_and_column() -> None:
    text = BASE + '[[rules]]\nname = "broken"\nquery = "hbm AND (supply OR"\n'
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    assert caught.value.key == "rules[0].query"
    assert "cannot parse the query at column 19: the query ends where" in caught.value.message
    assert caught.value.message.endswith("hbm AND (supply OR\n" + " " * 22 + "^")


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ('name = "r"\nchannels = ["nowhere"]\n', "rules[0].channels[0]"),
        ('name = "r"\nentities = ["Nobody Inc"]\n', "rules[0].entities[0]"),
        ('name = "r"\nmin_score = 1.5\n', "rules[0].min_score"),
        ('name = "r"\ndetector = "magic"\n', "rules[0].detector"),
        ('name = "default"\n', "rules[0].name"),
        ('name = "r"\ndetector = "none"\nmin_score = 0.2\n', "rules[0].min_score"),
        ('query = "chip"\n', "rules[0].name"),
        ('name = "r"\nquery = "chip"\nchanel = ["team"]\n', "rules[0].chanel"),
    ],
)
def test_bad_rule_names_the_key(rule: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE + "[[rules]]\n" + rule)
    assert caught.value.key == key


MEMORY_RULE = """
[[rules]]
name = "memory"
query = "hbm OR dram OR memory"
entities = ["SK hynix", "Micron", "Samsung"]
min_score = 0.4
channels = ["memory-desk"]
"""


def test_rule_routes_to_its_channels_and_default_to_all() -> None:
    config = load_config_text(BASE + MEMORY_RULE)
    watchlist = Watchlist.build(config.entities)
    rules = config.alert_rules()
    assert [r.name for r in rules] == ["default", "memory"]

    memory = match_article(
        _article("SK hynix signs HBM supply agreement with Nvidia"), watchlist, rules
    )
    assert (memory.alert_worthy, memory.rules, memory.channels) == (
        True,
        ("memory",),
        ("memory-desk",),
    )
    device = match_article(
        _article("OpenAI signs deal with Luxshare to build its first device"), watchlist, rules
    )
    assert (device.rules, device.channels) == (("default",), ("team", "memory-desk"))
    assert "rules: default" in device.why


def test_default_rule_can_be_turned_off() -> None:
    config = load_config_text(BASE + "[detect]\ndefault_rule = false\n" + MEMORY_RULE)
    watchlist = Watchlist.build(config.entities)
    match = match_article(
        _article("OpenAI signs deal with Luxshare to build its first device"),
        watchlist,
        config.alert_rules(),
    )
    assert (match.alert_worthy, match.rules, match.channels) == (False, (), ())


def test_text_only_rule_needs_no_partnership() -> None:
    rule = '[[rules]]\nname = "lawsuits"\nquery = "sues OR lawsuit"\ndetector = "none"\n'
    config = load_config_text(BASE + rule)
    watchlist = Watchlist.build(config.entities)
    match = match_article(_article("Elon Musk sues OpenAI again"), watchlist, config.alert_rules())
    assert (match.alert_worthy, match.rules) == (True, ("lawsuits",))


def test_threshold_sets_the_default_rules_minimum() -> None:
    config = load_config_text(BASE + "[detect]\nthreshold = 0.99\n")
    watchlist = Watchlist.build(config.entities)
    article = _article("OpenAI taps Luxshare to assemble its first device")
    match = match_article(article, watchlist, config.alert_rules())
    assert match.score < 0.99 and not match.alert_worthy


def test_check_config_exits_2_naming_the_rule_and_column(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(BASE + '[[rules]]\nname = "memory"\nquery = "hbm NEAR/x supply"\n', "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    assert "rules[0].query: cannot parse the query at column 5" in result.output


def test_check_config_lists_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(BASE + MEMORY_RULE, "utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 0, result.output
    assert "  2 rules:" in result.output
    assert (
        "    - default: a watched entity is a party; hardware_partnership >= 0.50"
        " -> team, memory-desk" in result.output
    )
    assert (
        "    - memory: hbm OR dram OR memory; a party among SK hynix, Micron, Samsung; "
        "hardware_partnership >= 0.40 -> memory-desk" in result.output
    )
