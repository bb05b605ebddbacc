"""Configuration: TOML in, a whole Config record out; every error names the key by its path."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import (
    KEYS,
    ChannelConfig,
    Config,
    FeedConfig,
    FetchConfig,
    load_config,
    load_config_text,
    resolve_path,
)
from monitor.errors import ConfigError
from monitor.paths import default_db_path
from monitor.schedule import Schedule

ROOT = Path(__file__).resolve().parents[1]

FULL = """
[storage]
path = "/var/lib/monitor/archive.db"

[fetch]
interval = "30m"
timeout = "10s"
concurrency = 4
max_bytes = 1048576
contact = "mailto:ops@example.com"

[[feeds]]
url = "https://techwire.example/feed.xml"
name = "TechWire"
interval = "1h30m"

[[feeds]]
url = "https://zhongguo-dianzi.example/rss.xml"
name = "中国电子观察"
enabled = false

[[feeds]]
url = "http://chipletter.example/atom"

[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"]
TrendForce = ["TrendForce", "集邦咨询"]

[stories]
window = "2d"

[[channels]]
name = "team"
type = "webhook"
url = "https://hooks.example/monitor"
schedule = "every 1h"

[[channels]]
name = "morning-mail"
type = "email"
schedule = "0 8 * * *"
timezone = "Europe/Berlin"
smtp_host = "smtp.example.com"
smtp_port = 465
smtp_tls = "ssl"
username = "alerts@example.com"
password_env = "MONITOR_SMTP_PASSWORD"
from = "monitor <alerts@example.com>"
to = ["analyst@example.com", "lead@example.com"]

[[channels]]
name = "inbox"
type = "file"
path = "digests"
"""

FULL_CONFIG = Config(
    storage_path="/var/lib/monitor/archive.db",
    fetch=FetchConfig(
        interval=1800,
        timeout=10,
        concurrency=4,
        max_bytes=1048576,
        contact="mailto:ops@example.com",
    ),
    feeds=(
        FeedConfig(url="https://techwire.example/feed.xml", name="TechWire", interval=5400),
        FeedConfig(
            url="https://zhongguo-dianzi.example/rss.xml",
            name="中国电子观察",
            interval=1800,
            enabled=False,
        ),
        FeedConfig(url="http://chipletter.example/atom", name=None, interval=1800),
    ),
    entities={
        "OpenAI": ("OpenAI",),
        "Luxshare": ("Luxshare", "Luxshare Precision", "立讯精密", "立讯"),
        "TrendForce": ("TrendForce", "集邦咨询"),
    },
    story_window=172800,
    channels=(
        ChannelConfig(
            name="team",
            type="webhook",
            schedule=Schedule("interval", "every 1h", seconds=3600),
            url="https://hooks.example/monitor",
        ),
        ChannelConfig(
            name="morning-mail",
            type="email",
            schedule=Schedule("cron", "0 8 * * *", cron="0 8 * * *"),
            timezone="Europe/Berlin",
            smtp_host="smtp.example.com",
            smtp_port=465,
            smtp_tls="ssl",
            username="alerts@example.com",
            password_env="MONITOR_SMTP_PASSWORD",
            from_addr="monitor <alerts@example.com>",
            to=("analyst@example.com", "lead@example.com"),
        ),
        ChannelConfig(
            name="inbox",
            type="file",
            schedule=Schedule("immediate", "immediate"),
            path="digests",
        ),
    ),
    source="full.toml",
)

MINIMAL = """
[[feeds]]
url = "https://techwire.example/feed.xml"

[watch.entities]
OpenAI = ["OpenAI"]
"""

WATCH = """
[watch.entities]
OpenAI = ["OpenAI"]
"""


def _feed(extra: str = "") -> str:
    return f'[[feeds]]\nurl = "https://techwire.example/feed.xml"\n{extra}\n'


def _channel(body: str) -> str:
    return MINIMAL + "\n[[channels]]\n" + body


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "test.toml")
    return info.value


# --- valid configurations


def test_full_config_yields_whole_record() -> None:
    assert load_config_text(FULL, "full.toml") == FULL_CONFIG


def test_minimal_config_gets_defaults() -> None:
    assert load_config_text(MINIMAL) == Config(
        storage_path=default_db_path(),
        fetch=FetchConfig(
            interval=900, timeout=30, concurrency=8, max_bytes=16 * 1024 * 1024, contact=None
        ),
        feeds=(FeedConfig(url="https://techwire.example/feed.xml", name=None, interval=900),),
        entities={"OpenAI": ("OpenAI",)},
        story_window=72 * 3600,
        channels=(),
        source=None,
    )


def test_channel_defaults_to_immediate_in_utc() -> None:
    config = load_config_text(_channel('name = "inbox"\ntype = "file"\npath = "digests"\n'))
    assert config.channels == (
        ChannelConfig(
            name="inbox",
            type="file",
            schedule=Schedule("immediate", "immediate"),
            timezone="UTC",
            path="digests",
        ),
    )


def test_feed_without_interval_inherits_fetch_interval() -> None:
    config = load_config_text('[fetch]\ninterval = "1h"\n' + _feed() + WATCH)
    assert [f.interval for f in config.feeds] == [3600]


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), ("120", 120)],
)
def test_feed_interval_durations(written: str, seconds: int) -> None:
    config = load_config_text(_feed(f'interval = "{written}"') + WATCH)
    assert config.feeds[0].interval == seconds


def test_email_to_may_be_a_single_address() -> None:
    config = load_config_text(
        _channel(
            'name = "m"\ntype = "email"\nsmtp_host = "smtp.example.com"\n'
            'from = "a@example.com"\nto = "b@example.com"\n'
        )
    )
    assert config.channels[0].to == ("b@example.com",)


# --- errors name the key exactly

ERRORS = [
    pytest.param("[sotrage]\npath = 'x.db'\n" + MINIMAL, "sotrage", id="unknown-section"),
    pytest.param(_feed('intervall = "1h"') + WATCH, "feeds[0].intervall", id="unknown-feed-key"),
    pytest.param(
        _feed() + '[[feeds]]\nurl = "https://b.example/"\nnmae = "B"\n' + WATCH,
        "feeds[1].nmae",
        id="unknown-key-second-feed",
    ),
    pytest.param(
        _channel(
            'name = "t"\ntype = "webhook"\nurl = "https://h.example/"\nshedule = "every 1h"\n'
        ),
        "channels[0].shedule",
        id="typo-in-channel-key",
    ),
    pytest.param("[[feeds]]\nname = 'No URL'\n" + WATCH, "feeds[0].url", id="missing-feed-url"),
    pytest.param(
        "[[feeds]]\nurl = 'ftp://files.example/feed.xml'\n" + WATCH,
        "feeds[0].url",
        id="non-http-url",
    ),
    pytest.param(
        "[[feeds]]\nurl = 'techwire.example/feed'\n" + WATCH, "feeds[0].url", id="no-scheme"
    ),
    pytest.param(_feed('interval = "15 minutes"') + WATCH, "feeds[0].interval", id="bad-duration"),
    pytest.param(_feed('interval = "0s"') + WATCH, "feeds[0].interval", id="zero-duration"),
    pytest.param(_feed("interval = 1.5") + WATCH, "feeds[0].interval", id="fractional-duration"),
    pytest.param(
        '[fetch]\ninterval = "soon"\n' + MINIMAL, "fetch.interval", id="bad-fetch-interval"
    ),
    pytest.param('[stories]\nwindow = "-1h"\n' + MINIMAL, "stories.window", id="bad-window"),
    pytest.param(
        "[fetch]\nconcurrency = 0\n" + MINIMAL, "fetch.concurrency", id="zero-concurrency"
    ),
    pytest.param(_feed('enabled = "no"') + WATCH, "feeds[0].enabled", id="enabled-not-bool"),
    pytest.param(
        _channel('name = "t"\ntype = "file"\npath = "d"\nschedule = "sometimes"\n'),
        "channels[0].schedule",
        id="bad-schedule",
    ),
    pytest.param(
        _channel('name = "t"\ntype = "file"\npath = "d"\nschedule = "0 25 * * *"\n'),
        "channels[0].schedule",
        id="bad-cron-line",
    ),
    pytest.param(
        _channel('name = "t"\ntype = "file"\npath = "d"\ntimezone = "Mars/Olympus"\n'),
        "channels[0].timezone",
        id="bad-timezone",
    ),
    pytest.param(
        _channel('name = "t"\ntype = "file"\npath = "d"\ntimezone = "Europe"\n'),
        "channels[0].timezone",
        id="timezone-region-folder",
    ),
    pytest.param(
        _feed() + _feed() + WATCH,
        "feeds[1].url",
        id="duplicate-feed-url",
    ),
    pytest.param(
        _channel(
            'name = "inbox"\ntype = "file"\npath = "a"\n'
            '[[channels]]\nname = "inbox"\ntype = "file"\npath = "b"\n'
        ),
        "channels[1].name",
        id="duplicate-channel-name",
    ),
    pytest.param(_channel('name = "t"\ntype = "pager"\n'), "channels[0].type", id="bad-type"),
    pytest.param(_channel('type = "file"\npath = "d"\n'), "channels[0].name", id="no-name"),
    pytest.param(
        _channel('name = "t"\ntype = "webhook"\n'), "channels[0].url", id="webhook-no-url"
    ),
    pytest.param(
        _channel('name = "t"\ntype = "webhook"\nurl = "https://h.example/"\nformat = "xml"\n'),
        "channels[0].format",
        id="webhook-bad-format",
    ),
    pytest.param(_channel('name = "t"\ntype = "file"\n'), "channels[0].path", id="file-no-path"),
    pytest.param(
        _channel('name = "m"\ntype = "email"\nfrom = "a@example.com"\nto = ["b@example.com"]\n'),
        "channels[0].smtp_host",
        id="email-no-smtp-host",
    ),
    pytest.param(
        _channel('name = "m"\ntype = "email"\nsmtp_host = "smtp.example.com"\nto = ["b@x.com"]\n'),
        "channels[0].from",
        id="email-no-from",
    ),
    pytest.param(
        _channel('name = "m"\ntype = "email"\nsmtp_host = "smtp.example.com"\nfrom = "a@x.com"\n'),
        "channels[0].to",
        id="email-no-to",
    ),
    pytest.param(
        _channel(
            'name = "m"\ntype = "email"\nsmtp_host = "smtp.example.com"\nfrom = "a@x.com"\n'
            'to = ["b@x.com"]\nsmtp_tls = "tls"\n'
        ),
        "channels[0].smtp_tls",
        id="email-bad-tls",
    ),
    pytest.param(
        _channel('name = "t"\ntype = "file"\npath = "d"\nurl = "https://h.example/"\n'),
        "channels[0].url",
        id="url-on-file-channel",
    ),
    pytest.param(
        _channel(
            'name = "t"\ntype = "webhook"\nurl = "https://h.example/"\nsmtp_host = "smtp.x.com"\n'
        ),
        "channels[0].smtp_host",
        id="smtp-host-on-webhook",
    ),
    pytest.param(
        _channel(
            'name = "m"\ntype = "email"\nsmtp_host = "smtp.example.com"\nfrom = "a@x.com"\n'
            'to = ["b@x.com"]\npassword_env = "SMTP_PASSWORD"\n'
        ),
        "channels[0].username",
        id="password-env-without-username",
    ),
    pytest.param(_feed(), "watch", id="missing-watch"),
    pytest.param(_feed() + "[watch]\n", "watch.entities", id="watch-without-entities"),
    pytest.param(_feed() + "[watch.entities]\n", "watch.entities", id="no-entities"),
    pytest.param(
        _feed() + "[watch.entities]\nOpenAI = []\n", "watch.entities.OpenAI", id="empty-aliases"
    ),
    pytest.param(
        _feed() + '[watch.entities]\nOpenAI = ["OpenAI", ""]\n',
        "watch.entities.OpenAI[1]",
        id="blank-alias",
    ),
]


@pytest.mark.parametrize(("text", "key"), ERRORS)
def test_error_names_the_key(text: str, key: str) -> None:
    error = _error(text)
    assert (error.key, error.source) == (key, "test.toml")
    assert str(error).startswith(f"test.toml: {key}: ")


def test_unknown_feed_key_lists_the_known_ones() -> None:
    error = _error(_feed('intervall = "1h"') + WATCH)
    assert error.message == "unknown key (known keys: url, name, interval, enabled)"


def test_invalid_toml_is_a_config_error() -> None:
    error = _error('[[feeds]]\nurl = "https://techwire.example/feed.xml\n' + WATCH)
    assert error.key == ""
    assert error.message.startswith("not valid TOML: ")


# --- where the file comes from


def test_explicit_config_path_wins() -> None:
    assert resolve_path("a.toml", {"MONITOR_CONFIG": "b.toml"}) == Path("a.toml")


def test_environment_variable_comes_second() -> None:
    assert resolve_path(None, {"MONITOR_CONFIG": "b.toml"}) == Path("b.toml")


def test_default_path_comes_last() -> None:
    assert resolve_path(None, {}) == Path("config/monitor.toml")
    assert resolve_path(None, {"MONITOR_CONFIG": ""}) == Path("config/monitor.toml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.toml")
    assert info.value.source == str(tmp_path / "absent.toml")
    assert "configuration file not found" in info.value.message


def test_load_config_records_source(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(FULL, encoding="utf-8")
    assert load_config(path) == replace(FULL_CONFIG, source=str(path))


# --- through the command line


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_feed('intervall = "1h"') + WATCH, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {path}: feeds[0].intervall: unknown key "
        "(known keys: url, name, interval, enabled)\n",
    )


def test_every_mistake_is_named_in_one_run(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[fetch]\ntimeout = "0s"\nconcurency = 4\n'
        + _feed('intervall = "1h"')
        + '[[feeds]]\nurl = "ftp://wire.example/feed"\n'
        + '[[channels]]\nname = "ops"\ntype = "webhook"\n'
        + '[[rules]]\nname = "r"\nchannels = ["ops", "nowhere"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    # In the file's order, one line each; the first line as when it is the only mistake.
    keys = [line.split(f"{path}: ", 1)[1].split(": ")[0] for line in result.output.splitlines()]
    assert keys == [
        "fetch.concurency",
        "fetch.timeout",
        "watch",
        "feeds[0].intervall",
        "feeds[1].url",
        "channels[0].url",
        "rules[0].channels[1]",
    ], result.output
    assert result.output.startswith(f"Error: {path}: fetch.concurency: unknown key")
    assert f"\n{path}: rules[0].channels[1]: no channel named 'nowhere'\n" in result.output


def test_a_table_with_a_mistake_is_not_blamed_again_by_what_refers_to_it() -> None:
    error = _error(
        MINIMAL
        + '[[channels]]\nname = "ops"\ntype = "webhook"\n'
        + '[[rules]]\nname = "r"\nchannels = ["ops"]\nentities = ["OpenAI"]\n'
    )
    # The rule names a channel that exists, if wrongly written: only the channel is blamed.
    assert error.problems == (("channels[0].url", "is required for a webhook channel"),)
    error = _error(_feed() + "[watch]\n" + '[[rules]]\nname = "r"\nentities = ["OpenAI"]\n')
    assert [key for key, _ in error.problems] == ["watch.entities"]


def test_check_config_reads_monitor_config_variable(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_channel('name = "t"\ntype = "webhook"\n'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-config"], env={"MONITOR_CONFIG": str(path)})
    assert result.exit_code == 2
    assert "channels[0].url: is required for a webhook channel" in result.output


def test_check_config_missing_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert result.exit_code == 2
    assert f"{path}: configuration file not found" in result.output


def test_check_config_explains_a_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(FULL, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "check-config"])
    assert (result.exit_code, result.output) == (
        0,
        f"{path}: OK\n"
        "  database: /var/lib/monitor/archive.db\n"
        "  3 feeds (2 enabled)\n"
        "    - TechWire every 5400s\n"
        "    - 中国电子观察 every 1800s (disabled)\n"
        "    - http://chipletter.example/atom every 1800s\n"
        "  watching 3 entities:\n"
        "    - OpenAI: OpenAI\n"
        "    - Luxshare: Luxshare, Luxshare Precision, 立讯精密, 立讯\n"
        "    - TrendForce: TrendForce, 集邦咨询\n"
        "  3 channels:\n"
        # The webhook's path may hold a token: only its host is shown.
        "    - team (webhook) -> https://hooks.example/…, schedule every 1h, format json\n"
        "    - morning-mail (email) -> analyst@example.com, lead@example.com, "
        "schedule 0 8 * * *, timezone Europe/Berlin\n"
        "    - inbox (file) -> digests, schedule immediate\n"
        "  1 rules:\n"
        "    - default: a watched entity is a party; hardware_partnership >= 0.50"
        " -> team, morning-mail, inbox\n",
    )


def test_db_option_overrides_storage_path(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "--db", "other.db", "check-config"])
    assert result.exit_code == 0
    assert "  database: other.db\n" in result.output


# --- shipped configurations


def test_example_config_loads() -> None:
    config = load_config(ROOT / "config" / "monitor.toml")
    assert config.feeds
    assert set(config.entities) == {"OpenAI", "Luxshare", "TrendForce"}


def test_demo_config_loads() -> None:
    text = (ROOT / "fixtures" / "demo.toml").read_text(encoding="utf-8")
    config = load_config_text(text.replace("{base}", "http://127.0.0.1:1"), "demo.toml")
    assert [f.url for f in config.feeds] == [
        f"http://127.0.0.1:1/feeds/{name}"
        for name in (
            "techwire.xml",
            "wirepoint.xml",
            "gadget-ledger.xml",
            "market-pulse.xml",
            "zhongguo-dianzi.xml",
            "asia-supply-daily.rdf",
            "component-watch.rdf",
            "chipletter.atom",
            "datacenter-dispatch.atom",
        )
    ]
    assert config.entities == {
        "OpenAI": ("OpenAI",),
        "Luxshare": ("Luxshare", "Luxshare Precision", "立讯精密", "立讯"),
        "TrendForce": ("TrendForce", "集邦咨询"),
    }


# --- docs


def test_readme_documents_every_config_key() -> None:
    """Each key appears as ``section.key`` or as in the reference table, ``[section] key``."""
    readme = ROOT / "README.md"
    assert readme.exists(), "README.md is missing"
    text = readme.read_text(encoding="utf-8")
    missing = []
    for section in KEYS:
        header = f"[[{section.name}]]" if section.many else f"[{section.name}]"
        for key in section.keys:
            dotted = rf"(?<![\w.]){section.name}\.{key.name}(?!\w)"
            table = rf"{re.escape(header)} {key.name}(?!\w)"
            if not re.search(f"{dotted}|{table}", text):
                missing.append(f"{section.name}.{key.name}")
    assert missing == []


# --- polite fetching (issue 3)

POLITE = """
[fetch]
interval = "20m"
per_host = 3
connect_timeout = "5s"
read_timeout = "15s"
hint_cap = "2h"
auto_min_interval = "10m"
auto_max_interval = "3h"

[[feeds]]
url = "https://auto.example/feed"
interval = "auto"

[[feeds]]
url = "https://fixed.example/feed"
interval = "45m"

[watch.entities]
OpenAI = ["OpenAI"]
"""


def test_interval_auto_starts_from_the_default_and_is_marked() -> None:
    config = load_config_text(POLITE)

    assert config.feeds[0] == FeedConfig(
        "https://auto.example/feed", None, 20 * 60, auto_interval=True
    )
    assert config.feeds[1] == FeedConfig("https://fixed.example/feed", None, 45 * 60)
    assert (config.fetch.per_host, config.fetch.connect_timeout, config.fetch.read_timeout) == (
        3,
        5,
        15,
    )
    assert (
        config.fetch.hint_cap,
        config.fetch.auto_min_interval,
        config.fetch.auto_max_interval,
    ) == (7200, 600, 10800)


@pytest.mark.parametrize(
    ("replace_from", "replace_to", "key"),
    [
        ('interval = "auto"', 'interval = "automatic"', "feeds[0].interval"),
        ("per_host = 3", "per_host = 0", "fetch.per_host"),
        ('auto_max_interval = "3h"', 'auto_max_interval = "5m"', "fetch.auto_min_interval"),
    ],
)
def test_polite_fetching_keys_are_checked(replace_from: str, replace_to: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(POLITE.replace(replace_from, replace_to))

    assert caught.value.key == key
