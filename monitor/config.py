"""Configuration: one declarative table of keys, loaded from TOML and validated as a whole.

``KEYS`` is the single place where every key, its type, default and help live; loading, the
``check-config`` explanation, the README's reference (checked by a test) all read it.
Errors name the key by its dotted path (``channels[1].url``); validation goes on past a mistake
and raises one ConfigError naming them all, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ConfigError, RuleSyntaxError
from monitor.outbox import QuietHours, parse_quiet_hours
from monitor.paths import default_db_path
from monitor.rules import DEFAULT_THRESHOLD, DETECTORS, Query, Rule, default_rule, parse_query
from monitor.schedule import Schedule, parse_duration, parse_schedule, parse_timezone

DEFAULT_PATH = Path("config/monitor.toml")
ENV_VAR = "MONITOR_CONFIG"
CHANNEL_TYPES = ("webhook", "email", "file")
SMTP_TLS = ("starttls", "ssl", "none")
WEBHOOK_FORMATS = ("json", "slack", "discord")
AUTO = "auto"  # a feed's interval chosen by monitor.schedule.adaptive_interval


@dataclass(frozen=True)
class Key:
    """One configuration key. ``kind`` names a validator in _VALIDATORS."""

    name: str
    kind: str
    help: str
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()
    only_for: tuple[str, ...] = ()  # channel types this key applies to; empty means all


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    keys: tuple[Key, ...]
    many: bool = False  # an array of tables ([[feeds]]) rather than one table


KEYS: tuple[Section, ...] = (
    Section(
        "storage",
        "Where the archive lives.",
        (
            Key(
                "path",
                "str",
                "SQLite file; unset: $XDG_DATA_HOME/monitor/monitor.db "
                "(~/.local/share/monitor/monitor.db). Relative paths are relative to the working "
                "directory; the global option --db PATH overrides it.",
            ),
            Key(
                "keep_days",
                "int",
                "Prune the text of articles older than this many days that matched nothing "
                "(titles, links, stories and alerts stay). Unset: keep everything.",
            ),
        ),
    ),
    Section(
        "daemon",
        "How `monitor run` schedules its work.",
        (
            Key(
                "tick",
                "duration",
                "How often the daemon looks for feeds whose next poll is due.",
                default="30s",
            ),
        ),
    ),
    Section(
        "fetch",
        "How feeds are fetched.",
        (
            Key(
                "interval",
                "duration",
                "Default polling interval for feeds that set none.",
                default="15m",
            ),
            Key(
                "timeout",
                "duration",
                "Total deadline for one fetch, redirects and body included: a server that "
                "trickles bytes forever is cut off after this long.",
                default="30s",
            ),
            Key(
                "connect_timeout",
                "duration",
                "Give up connecting to a server after this long.",
                default="10s",
            ),
            Key(
                "read_timeout",
                "duration",
                "Give up when a server sends nothing for this long.",
                default="20s",
            ),
            Key("concurrency", "int", "How many feeds are fetched at once.", default=8),
            Key("per_host", "int", "How many feeds are fetched at once from one host.", default=2),
            Key(
                "max_bytes",
                "int",
                "Largest feed body accepted, in bytes.",
                default=16 * 1024 * 1024,
            ),
            Key(
                "contact",
                "str",
                "A URL or e-mail address put in the User-Agent so feed owners can reach you.",
            ),
            Key(
                "hint_cap",
                "duration",
                "A server's Cache-Control max-age or Expires, or a feed's own <ttl>, can "
                "delay the next poll past the feed's interval by at most this much; they never "
                "make it sooner.",
                default="6h",
            ),
            Key(
                "auto_min_interval",
                "duration",
                'Shortest interval for feeds with interval = "auto".',
                default="5m",
            ),
            Key(
                "auto_max_interval",
                "duration",
                'Longest interval for feeds with interval = "auto".',
                default="6h",
            ),
        ),
    ),
    Section(
        "feeds",
        "The feeds to poll; one [[feeds]] table each.",
        (
            Key("url", "url", "The feed's address (http or https).", required=True),
            Key("name", "str", "A display name; defaults to the feed's own title."),
            Key(
                "interval",
                "interval",
                "How often to poll, e.g. 90s, 15m, 1h, 1d; defaults to fetch.interval. "
                '"auto" polls more often while the feed publishes often and less when it is '
                "quiet, between fetch.auto_min_interval and fetch.auto_max_interval.",
            ),
            Key(
                "enabled",
                "bool",
                "Set to false to stop polling without forgetting the feed.",
                default=True,
            ),
        ),
        many=True,
    ),
    Section(
        "watch",
        "What to look for.",
        (
            Key(
                "entities",
                "entities",
                "Entity name -> list of aliases in any script, or a table "
                "{ aliases = [...], exclude = [...], case_sensitive = true }. Latin aliases "
                "match case-insensitively on word boundaries (possessives and hyphens "
                "included), CJK aliases as substrings. An exclude phrase that contains an alias "
                '("apple pie", "open AI model") hides the mentions inside it; one that does not '
                '("fruit") hides every mention in a sentence that contains it.',
                required=True,
            ),
        ),
    ),
    Section(
        "detect",
        "The hardware_partnership detector and the default rule.",
        (
            Key(
                "threshold",
                "score",
                "Lowest hardware_partnership score (0..1) the default rule alerts on.",
                default=DEFAULT_THRESHOLD,
            ),
            Key(
                "default_rule",
                "bool",
                "Alert when a watched entity is a party of a hardware partnership scoring at "
                "least the threshold, on every channel. Set to false to alert only on [[rules]].",
                default=True,
            ),
        ),
    ),
    Section(
        "rules",
        "Named alert rules, each routed to channels; one [[rules]] table each.",
        (
            Key("name", "str", "A unique name, shown in explanations.", required=True),
            Key(
                "query",
                "query",
                'Boolean query over title, summary and content: words, "quoted phrases", '
                "AND, OR, NOT, parentheses, a NEAR/n b (within n words), prefix*. "
                "Omit for no condition on the text.",
            ),
            Key(
                "entities",
                "str_list",
                "Organisations (watched or from the gazetteer) of which one must be a party "
                "(with a detector) or be named (without); default: any watched entity.",
            ),
            Key(
                "detector",
                "choice",
                "Detector the article must pass, or none for a text-only rule.",
                default=DETECTORS[0],
                choices=DETECTORS,
            ),
            Key(
                "min_score",
                "score",
                "Lowest detector score (0..1); default: detect.threshold.",
            ),
            Key(
                "channels",
                "str_list",
                "Channel names its alerts go to; default: every channel.",
            ),
        ),
        many=True,
    ),
    Section(
        "stories",
        "How articles are grouped into stories.",
        (
            Key(
                "window",
                "duration",
                "Articles about the same organisations published within this "
                "window of a story's first article join that story.",
                default="72h",
            ),
        ),
    ),
    Section(
        "export",
        "Files written for other tools.",
        (
            Key(
                "atom",
                "str",
                "File to write an Atom feed of the alerted stories (the newest 100 alerted in "
                "the last 30 days) to after every poll and digest run, for feed readers; "
                "unset: none. `monitor export atom` prints the same feed.",
            ),
        ),
    ),
    Section(
        "channels",
        "Where digests go; one [[channels]] table each.",
        (
            Key(
                "name",
                "str",
                "A unique name, used in logs, the outbox and payloads.",
                required=True,
            ),
            Key("type", "choice", "Kind of channel.", required=True, choices=CHANNEL_TYPES),
            Key(
                "schedule",
                "schedule",
                '"immediate", "every 1h", or a cron line "0 8 * * *".',
                default="immediate",
            ),
            Key(
                "timezone",
                "timezone",
                "Time zone for cron schedules and quiet_hours (IANA name).",
                default="UTC",
            ),
            Key(
                "quiet_hours",
                "quiet_hours",
                'A daily window such as "22:00-07:00" (in timezone) during which immediate '
                "alerts and every-N digests wait for its end; cron digests keep their times.",
            ),
            Key(
                "min_score",
                "score",
                "Scheduled channels: stories scoring at least this (0..1) go out at once, "
                "the rest wait for the scheduled digest.",
            ),
            Key(
                "max_immediate_per_hour",
                "int",
                "Cap on immediate messages in any 60 minutes; stories held back roll into "
                "the next digest.",
            ),
            Key(
                "include_updates",
                "bool",
                'Add a "now reported by N outlets" line for stories sent earlier that have '
                "since gained outlets.",
                default=False,
            ),
            Key(
                "source_health",
                "bool",
                'Add a "source health" section to each digest: feeds failing, disabled or gone '
                "silent (as `monitor status` reports them).",
                default=False,
            ),
            Key("url", "url", "Webhook: where the digest is POSTed.", only_for=("webhook",)),
            Key(
                "format",
                "choice",
                "Webhook: payload format: the documented JSON, or a Slack or Discord message.",
                default="json",
                choices=WEBHOOK_FORMATS,
                only_for=("webhook",),
            ),
            Key(
                "secret",
                "str",
                "Webhook: signs each request (X-Monitor-Signature, HMAC-SHA256).",
                only_for=("webhook",),
            ),
            Key(
                "secret_env",
                "str",
                "Webhook: name of the environment variable holding the secret, instead of secret.",
                only_for=("webhook",),
            ),
            Key(
                "path",
                "str",
                "File: folder each digest is written into as .txt, .html, .json and .eml.",
                only_for=("file",),
            ),
            Key("smtp_host", "str", "Email: SMTP server host.", only_for=("email",)),
            Key(
                "smtp_port",
                "int",
                "Email: SMTP port; defaults to 587 (starttls), 465 (ssl) or 25.",
                only_for=("email",),
            ),
            Key(
                "smtp_tls",
                "choice",
                "Email: how the SMTP connection is encrypted.",
                default="starttls",
                choices=SMTP_TLS,
                only_for=("email",),
            ),
            Key(
                "username",
                "str",
                "Email: SMTP login name; omit to send without logging in.",
                only_for=("email",),
            ),
            Key(
                "password_env",
                "str",
                "Email: name of the environment variable holding the SMTP password.",
                only_for=("email",),
            ),
            Key("from", "str", "Email: sender address.", only_for=("email",)),
            Key("to", "str_list", "Email: list of recipient addresses.", only_for=("email",)),
            Key(
                "templates",
                "folder",
                "Email and file: folder with your own digest.txt and/or digest.html "
                "(Jinja; HTML is autoescaped); the built-in ones fill in what is missing.",
                only_for=("email", "file"),
            ),
        ),
        many=True,
    ),
)


def _toml_literal(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def reference() -> str:
    """The configuration reference as a Markdown table: README.md carries it verbatim."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for section in KEYS:
        prefix = f"[[{section.name}]]" if section.many else f"[{section.name}]"
        for key in section.keys:
            default = "required" if key.required else _toml_literal(key.default)
            meaning = key.help + (f" One of: {', '.join(key.choices)}." if key.choices else "")
            lines.append(f"| `{prefix} {key.name}` | {default} | {meaning} |")
    return "\n".join(lines)


_REQUIRED_BY_TYPE = {"webhook": ("url",), "file": ("path",), "email": ("smtp_host", "from", "to")}


# --- validators: each takes (key path, value) and returns the clean value or raises ConfigError


def _str(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, f"expected a non-empty string, got {value!r}")
    return value


def _int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(path, f"expected a positive whole number, got {value!r}")
    return value


def _bool(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, f"expected true or false, got {value!r}")
    return value


def _url(path: str, value: Any) -> str:
    text = _str(path, value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(path, f"expected an http(s) URL, got {value!r}")
    return text


def _duration(path: str, value: Any) -> int:
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as e:
        raise ConfigError(path, str(e)) from None


def _interval(path: str, value: Any) -> int | str:
    """A duration in seconds, or the word "auto"."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return AUTO
    return _duration(path, value)


def _schedule(path: str, value: Any) -> Schedule:
    try:
        return parse_schedule(_str(path, value))
    except ValueError as e:
        raise ConfigError(path, str(e)) from None


def _timezone(path: str, value: Any) -> str:
    try:
        parse_timezone(_str(path, value))
    except ValueError as e:
        raise ConfigError(path, str(e)) from None
    return str(value)


def _score(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(path, f"expected a number from 0 to 1, got {value!r}")
    return float(value)


def _quiet_hours(path: str, value: Any) -> QuietHours:
    try:
        return parse_quiet_hours(_str(path, value))
    except ValueError as e:
        raise ConfigError(path, str(e)) from None


def _folder(path: str, value: Any) -> str:
    text = _str(path, value)
    if not Path(text).expanduser().is_dir():
        raise ConfigError(path, f"{text!r} is not a folder")
    return str(Path(text).expanduser())


def _str_list(path: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(path, f"expected a non-empty list of strings, got {value!r}")
    return tuple(_str(f"{path}[{i}]", v) for i, v in enumerate(value))


def _entities(path: str, value: Any) -> dict[str, WatchedEntity]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            path, "expected a table of entity name = [aliases], with at least one entity"
        )
    return {name: _entity(f"{path}.{name}", spec) for name, spec in value.items()}


_ENTITY_KEYS = ("aliases", "exclude", "case_sensitive")


def _entity(path: str, value: Any) -> WatchedEntity:
    """``["OpenAI"]`` or ``{ aliases = [...], exclude = [...], case_sensitive = false }``."""
    if not isinstance(value, dict):
        return WatchedEntity(_str_list(path, value))
    for key in value:
        if key not in _ENTITY_KEYS:
            raise ConfigError(
                f"{path}.{key}", f"unknown key (known keys: {', '.join(_ENTITY_KEYS)})"
            )
    if "aliases" not in value:
        raise ConfigError(f"{path}.aliases", "is required")
    exclude = _str_list(f"{path}.exclude", value["exclude"]) if "exclude" in value else ()
    case_sensitive = _bool(f"{path}.case_sensitive", value.get("case_sensitive", False))
    return WatchedEntity(_str_list(f"{path}.aliases", value["aliases"]), exclude, case_sensitive)


def _query(path: str, value: Any) -> Query:
    text = _str(path, value)
    try:
        return parse_query(text)
    except RuleSyntaxError as e:
        pointer = " " * (e.column - 1) + "^"
        raise ConfigError(
            path,
            f"cannot parse the query at column {e.column}: {e.message}\n    {text}\n    {pointer}",
        ) from None


_VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "str": _str,
    "int": _int,
    "bool": _bool,
    "url": _url,
    "duration": _duration,
    "interval": _interval,
    "schedule": _schedule,
    "timezone": _timezone,
    "str_list": _str_list,
    "score": _score,
    "quiet_hours": _quiet_hours,
    "folder": _folder,
    "entities": _entities,
    "query": _query,
}


def _check(key: Key, path: str, value: Any) -> Any:
    if key.kind == "choice":
        if value not in key.choices:
            raise ConfigError(path, f"expected one of {', '.join(key.choices)}, got {value!r}")
        return value
    return _VALIDATORS[key.kind](path, value)


def _section(name: str) -> Section:
    return next(s for s in KEYS if s.name == name)


def _default(section: str, key: str) -> Any:
    """A key's default from KEYS, validated: the one place defaults are written down."""
    spec = next(k for k in _section(section).keys if k.name == key)
    return _check(spec, f"{section}.{key}", spec.default)


@dataclass(frozen=True)
class WatchedEntity:
    aliases: tuple[str, ...]
    exclude: tuple[str, ...] = ()  # negative contexts (see the watch.entities key)
    case_sensitive: bool = False


@dataclass(frozen=True)
class DetectConfig:
    threshold: float = _default("detect", "threshold")
    default_rule: bool = _default("detect", "default_rule")


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str | None  # None: use the feed's own title
    interval: int  # seconds; for an "auto" feed, the interval it starts from
    enabled: bool = True
    auto_interval: bool = False  # interval = "auto": adapt to how often the feed publishes


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    type: str  # one of CHANNEL_TYPES
    schedule: Schedule
    timezone: str = _default("channels", "timezone")
    quiet_hours: QuietHours | None = None
    min_score: float | None = None  # None: no immediate lane on a scheduled channel
    max_immediate_per_hour: int | None = None  # None: no cap
    include_updates: bool = _default("channels", "include_updates")
    source_health: bool = _default("channels", "source_health")
    url: str | None = None  # webhook
    format: str = _default("channels", "format")  # webhook
    secret: str | None = None  # webhook
    secret_env: str | None = None  # webhook
    path: str | None = None  # file
    smtp_host: str | None = None  # email, and the rest below
    smtp_port: int | None = None
    smtp_tls: str = _default("channels", "smtp_tls")
    username: str | None = None
    password_env: str | None = None
    from_addr: str | None = None
    to: tuple[str, ...] = ()
    templates: str | None = None  # email and file: a folder of user templates

    @property
    def immediate_lane(self) -> bool:
        """Whether some stories go out at once rather than on the schedule."""
        return self.schedule.kind == "immediate" or self.min_score is not None


@dataclass(frozen=True)
class FetchConfig:
    interval: int = _default("fetch", "interval")  # seconds
    timeout: int = _default("fetch", "timeout")  # seconds, total per fetch
    connect_timeout: int = _default("fetch", "connect_timeout")  # seconds
    read_timeout: int = _default("fetch", "read_timeout")  # seconds
    concurrency: int = _default("fetch", "concurrency")
    per_host: int = _default("fetch", "per_host")
    max_bytes: int = _default("fetch", "max_bytes")
    contact: str | None = None
    hint_cap: int = _default("fetch", "hint_cap")  # seconds
    auto_min_interval: int = _default("fetch", "auto_min_interval")  # seconds
    auto_max_interval: int = _default("fetch", "auto_max_interval")  # seconds


@dataclass(frozen=True)
class Config:
    storage_path: str
    fetch: FetchConfig
    feeds: tuple[FeedConfig, ...]
    entities: Mapping[str, tuple[str, ...]]
    story_window: int  # seconds
    channels: tuple[ChannelConfig, ...]
    source: str | None = None  # the file it was read from, for messages
    detect: DetectConfig = DetectConfig()
    rules: tuple[Rule, ...] = ()  # the configured [[rules]], channels resolved
    entity_excludes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    case_sensitive: frozenset[str] = frozenset()
    keep_days: int | None = None  # storage.keep_days; None keeps every article's text
    tick: int = _default("daemon", "tick")  # seconds between the daemon's checks for due feeds
    atom_path: str | None = None  # [export] atom: where to keep an Atom feed of alerts

    def alert_rules(self) -> tuple[Rule, ...]:
        """Every rule an article is checked against: the default rule (unless turned off) and
        the configured ones, in that order."""
        default = default_rule(self.detect.threshold, (c.name for c in self.channels))
        return ((default,) if self.detect.default_rule else ()) + self.rules


class _Problems:
    """The mistakes found so far: validation goes on past one, so that a file with three of
    them takes one run of ``check-config`` to fix, not three."""

    def __init__(self) -> None:
        self.found: list[ConfigError] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        """Run a check whose mistake does not stop the others."""
        try:
            yield
        except ConfigError as e:
            self.found.append(e)

    def add(self, key: str, message: str) -> None:
        self.found.append(ConfigError(key, message))

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError.of(self.found)


def _validate_table(path: str, section: Section, table: Any) -> dict[str, Any]:
    """Check one table against its section: unknown keys, required keys, types, defaults."""
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table, got {type(table).__name__}")
    problems = _Problems()
    known = {k.name: k for k in section.keys}
    for name in table:
        if name not in known:
            problems.add(f"{path}.{name}", f"unknown key (known keys: {', '.join(known)})")
    clean: dict[str, Any] = {}
    for key in section.keys:
        key_path = f"{path}.{key.name}"
        with problems.check():
            if key.name not in table:
                if key.required:
                    raise ConfigError(key_path, "is required")
                clean[key.name] = (
                    None if key.default is None else _check(key, key_path, key.default)
                )
            else:
                clean[key.name] = _check(key, key_path, table[key.name])
    problems.raise_any()
    return clean


def _channel(path: str, raw: dict[str, Any], clean: dict[str, Any]) -> ChannelConfig:
    kind = clean["type"]
    for key in _section("channels").keys:
        if key.only_for and kind not in key.only_for and key.name in raw:
            raise ConfigError(
                f"{path}.{key.name}",
                f"only applies to {'/'.join(key.only_for)} "
                f"channels, and this channel is type {kind!r}",
            )
    for name in _REQUIRED_BY_TYPE[kind]:
        if clean[name] is None:
            raise ConfigError(f"{path}.{name}", f"is required for a {kind} channel")
    if kind == "email" and clean["password_env"] and not clean["username"]:
        raise ConfigError(f"{path}.username", "is required when password_env is set")
    if clean["secret"] and clean["secret_env"]:
        raise ConfigError(f"{path}.secret_env", "give secret or secret_env, not both")
    scheduled = clean["schedule"].kind != "immediate"
    if clean["min_score"] is not None and not scheduled:
        raise ConfigError(
            f"{path}.min_score",
            'needs a scheduled channel ("every 30m" or a cron line) for the other stories to '
            'wait for; with schedule = "immediate" every story goes out at once',
        )
    if clean["max_immediate_per_hour"] is not None and scheduled and clean["min_score"] is None:
        raise ConfigError(
            f"{path}.max_immediate_per_hour",
            'caps immediate messages: set schedule = "immediate" or a min_score',
        )
    return ChannelConfig(
        name=clean["name"],
        type=kind,
        schedule=clean["schedule"],
        timezone=clean["timezone"],
        quiet_hours=clean["quiet_hours"],
        min_score=clean["min_score"],
        max_immediate_per_hour=clean["max_immediate_per_hour"],
        include_updates=clean["include_updates"],
        source_health=clean["source_health"],
        url=clean["url"],
        format=clean["format"],
        secret=clean["secret"],
        secret_env=clean["secret_env"],
        path=clean["path"],
        smtp_host=clean["smtp_host"],
        smtp_port=clean["smtp_port"],
        smtp_tls=clean["smtp_tls"],
        username=clean["username"],
        password_env=clean["password_env"],
        from_addr=clean["from"],
        to=clean["to"] or (),
        templates=clean["templates"],
    )


def parse_config(data: Mapping[str, Any], source: str | None = None) -> Config:
    """Validate a TOML document (already parsed) into a Config."""
    try:
        return _parse(data)
    except ConfigError as e:
        raise ConfigError.of([e], source) from None


def _parse(data: Mapping[str, Any]) -> Config:
    """Check every section and table, keep going past mistakes, and raise them all at once
    (a check that needs a table that failed is skipped, not reported a second time)."""
    problems = _Problems()
    sections = {s.name: s for s in KEYS}
    for name in data:
        if name not in sections:
            problems.add(name, f"unknown section (known: {', '.join(sections)})")
    tables: dict[str, dict[str, Any]] = {}
    for section in KEYS:
        if section.many:
            continue
        with problems.check():
            if section.name not in data and any(k.required for k in section.keys):
                raise ConfigError(section.name, "is required")
            tables[section.name] = _validate_table(
                section.name, section, data.get(section.name, {})
            )

    fetch = FetchConfig(**tables["fetch"]) if "fetch" in tables else FetchConfig()
    if fetch.auto_min_interval > fetch.auto_max_interval:
        problems.add("fetch.auto_min_interval", "must not be longer than fetch.auto_max_interval")

    feeds: list[FeedConfig] = []
    seen_urls: dict[str, int] = {}
    for i, raw in enumerate(_many(data, "feeds", problems)):
        with problems.check():
            clean = _validate_table(f"feeds[{i}]", _section("feeds"), raw)
            if clean["url"] in seen_urls:
                raise ConfigError(
                    f"feeds[{i}].url", f"duplicates feeds[{seen_urls[clean['url']]}].url"
                )
            seen_urls[clean["url"]] = i
            feeds.append(
                FeedConfig(
                    url=clean["url"],
                    name=clean["name"],
                    interval=(
                        fetch.interval if clean["interval"] in (None, AUTO) else clean["interval"]
                    ),
                    enabled=clean["enabled"],
                    auto_interval=clean["interval"] == AUTO,
                )
            )

    channels: list[ChannelConfig] = []
    # Names of channels written down, valid or not, so a rule naming a channel that has a
    # mistake of its own is not reported too.
    channel_names: list[str] = []
    for i, raw in enumerate(_many(data, "channels", problems)):
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            channel_names.append(raw["name"])
        with problems.check():
            clean = _validate_table(f"channels[{i}]", _section("channels"), raw)
            if any(c.name == clean["name"] for c in channels):
                raise ConfigError(
                    f"channels[{i}].name", f"duplicate channel name {clean['name']!r}"
                )
            channels.append(_channel(f"channels[{i}]", raw, clean))

    watched: Mapping[str, WatchedEntity] | None = tables.get("watch", {}).get("entities")
    detect = DetectConfig(**tables["detect"]) if "detect" in tables else DetectConfig()
    rules = _rules(data, detect, channel_names, watched, problems)
    problems.raise_any()
    assert watched is not None  # [watch] is required: its absence was raised above
    return Config(
        storage_path=tables["storage"]["path"] or default_db_path(),
        fetch=fetch,
        feeds=tuple(feeds),
        entities={name: e.aliases for name, e in watched.items()},
        story_window=tables["stories"]["window"],
        channels=tuple(channels),
        detect=detect,
        rules=rules,
        entity_excludes={name: e.exclude for name, e in watched.items() if e.exclude},
        case_sensitive=frozenset(name for name, e in watched.items() if e.case_sensitive),
        atom_path=tables["export"]["atom"],
        keep_days=tables["storage"]["keep_days"],
        tick=tables["daemon"]["tick"],
    )


def _many(data: Mapping[str, Any], name: str, problems: _Problems) -> list[Any]:
    """The [[name]] tables of the document (none when it is not a list of tables)."""
    tables = data.get(name, [])
    if not isinstance(tables, list):
        problems.add(name, f"expected [[{name}]] tables")
        return []
    return tables


def _rules(
    data: Mapping[str, Any],
    detect: DetectConfig,
    channel_names: list[str],
    watched: Mapping[str, WatchedEntity] | None,
    problems: _Problems,
) -> tuple[Rule, ...]:
    """The [[rules]]; ``watched`` is None when [watch] has a mistake (entities not checked)."""
    from monitor.gazetteer import ORGANISATIONS

    rules: list[Rule] = []
    for i, raw in enumerate(_many(data, "rules", problems)):
        path = f"rules[{i}]"
        with problems.check():
            clean = _validate_table(path, _section("rules"), raw)
            if clean["name"] == "default" or any(r.name == clean["name"] for r in rules):
                raise ConfigError(f"{path}.name", f"duplicate rule name {clean['name']!r}")
            for j, name in enumerate(clean["channels"] or ()):
                if name not in channel_names:
                    raise ConfigError(f"{path}.channels[{j}]", f"no channel named {name!r}")
            for j, name in enumerate(clean["entities"] or ()):
                if watched is not None and name not in watched and name not in ORGANISATIONS:
                    raise ConfigError(
                        f"{path}.entities[{j}]",
                        f"{name!r} is neither a watched entity nor a gazetteer organisation",
                    )
            if clean["detector"] == "none" and "min_score" in raw:
                raise ConfigError(f"{path}.min_score", "only applies to a rule with a detector")
            rules.append(
                Rule(
                    name=clean["name"],
                    query=clean["query"],
                    channels=tuple(clean["channels"] or channel_names),
                    entities=clean["entities"],
                    detector=clean["detector"],
                    min_score=(
                        detect.threshold if clean["min_score"] is None else clean["min_score"]
                    ),
                    query_text=raw.get("query", ""),
                )
            )
    return tuple(rules)


def resolve_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $MONITOR_CONFIG, else config/monitor.toml."""
    environ = os.environ if environ is None else environ
    return Path(explicit or environ.get(ENV_VAR) or DEFAULT_PATH)


def load_config(path: Path) -> Config:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "", f"configuration file not found (give --config PATH or set ${ENV_VAR})", source
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("", f"cannot read configuration: {e}", source) from None
    return load_config_text(text, source)


def load_config_text(text: str, source: str | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"not valid TOML: {e}", source) from None
    return replace(parse_config(data, source), source=source)
