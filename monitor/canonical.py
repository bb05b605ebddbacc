"""Canonical links: one spelling for every way outlets and aggregators link to the same page.

Pure functions. ``canonical_url`` lower-cases scheme and host, drops default ports, fragments and
tracking parameters, sorts what is left of the query, folds AMP and mobile variants onto the
page they copy, and unwraps redirectors that carry their target in the link (Google and Bing News,
Google's AMP viewer and cache, Facebook's and Google's click trackers). Links whose target is not
in the link itself (t.co, feedproxy) cannot be unwrapped without a request and are left alone.

Idempotent: ``canonical_url(canonical_url(u)) == canonical_url(u)``.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign, a click or a share, never a page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid", "ncid", "_hsenc",
        "_hsmi", "mkt_tok", "spm", "smid", "sr_share", "_ga", "_gl", "icid", "s_cid", "oly_enc_id",
        "oly_anon_id", "vero_id", "guccounter", "guce_referrer", "guce_referrer_sig", "cmp",
        "rss", "ito", "at_medium", "at_campaign", "wt_mc", "xtor", "ocid", "soc_src",
        "soc_trk",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "hsa_", "trk_")
# Values of a query parameter that only ask for the AMP rendering of the page.
_AMP_VALUES = frozenset({"amp", "1", "true"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Host prefixes that serve the same page in another dress.
_HOST_PREFIXES = ("www.", "amp.", "m.", "mobile.")
# Redirectors: host -> query parameters that may carry the target.
_REDIRECTORS: dict[str, tuple[str, ...]] = {
    "news.google.com": ("url",),
    "google.com": ("url", "q"),
    "bing.com": ("url", "u"),
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "out.reddit.com": ("url",),
    "href.li": (),
    "t.umblr.com": ("z",),
    "duckduckgo.com": ("uddg",),
    "news.yahoo.com": ("url",),
}
_GOOGLE_AMP = re.compile(r"^/amp/(s/)?(?P<rest>.+)$")  # google.com/amp/s/host/path
_AMP_CACHE = re.compile(r"^/[cv]/(?:s/)?(?P<rest>.+)$")  # *.cdn.ampproject.org/c/s/host/path
_AMP_PATH = re.compile(r"(?:/amp|/amp\.html?|\.amp)/?$", re.I)
_AMP_INFIX = re.compile(r"\.amp(?=\.html?$)", re.I)
_EMBEDDED_URL = re.compile(rb"https?://[\x21-\x7e]+")
_PATH_SAFE = "/:@!$&'()*+,;=~-._"
MAX_UNWRAP = 5  # nested redirectors followed; more is a loop or an attack


def canonical_url(url: str | None) -> str | None:
    """The one spelling of the page ``url`` points at; None for links we cannot read."""
    if not url:
        return None
    current = url.strip()
    for _ in range(MAX_UNWRAP):
        target = unwrap(current)
        if target is None:
            break
        current = target
    return _tidy(current)


def unwrap(url: str) -> str | None:
    """The link a redirector or AMP viewer carries in ``url``, or None when it carries none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    bare = _strip_host_prefixes(host)
    if host.endswith(".cdn.ampproject.org") and (m := _AMP_CACHE.match(parts.path)):
        return _with_scheme(m["rest"], parts.query)
    if bare == "google.com" and (m := _GOOGLE_AMP.match(parts.path)):
        return _with_scheme(m["rest"], parts.query)
    if bare == "href.li" and parts.query[:5].lower().startswith("http"):
        return parts.query
    params = _REDIRECTORS.get(bare) or _REDIRECTORS.get(host)
    if params:
        query = dict(parse_qsl(parts.query))
        for name in params:
            value = query.get(name, "")
            if value[:8].lower().startswith(("http://", "https://")):
                return value
    if bare == "news.google.com":
        return _google_news_target(parts.path)
    return None


def _with_scheme(rest: str, query: str) -> str:
    return "https://" + rest + (f"?{query}" if query else "")


def _google_news_target(path: str) -> str | None:
    """Older Google News article ids (``/articles/CBMi...``) are base64 of a small protobuf that
    holds the target link in clear; newer ids are opaque and stay as they are."""
    token = path.rstrip("/").rsplit("/", 1)[-1]
    if not token.startswith("CBM"):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    m = _EMBEDDED_URL.search(raw)
    return m.group(0).decode("ascii") if m else None


def _strip_host_prefixes(host: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _HOST_PREFIXES:
            # Keep at least a name and a suffix: "m.example" must not become "example".
            if host.startswith(prefix) and host.count(".") > 1:
                host, changed = host[len(prefix) :], True
    return host


def _is_tracking(name: str, value: str) -> bool:
    key = name.lower()
    if key in ("amp", "outputtype", "output"):
        return value.lower() in _AMP_VALUES or (key == "amp" and value == "")
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _tidy(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _strip_host_prefixes(parts.hostname.lower().rstrip("."))
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, _tidy_path(parts.path), _tidy_query(parts.query), ""))


def _tidy_path(path: str) -> str:
    # One percent-encoding for every spelling of the same path ("%7e", "~", "é", "%C3%A9").
    path = quote(unquote(path), safe=_PATH_SAFE)
    while True:  # "/story/amp/amp" folds all the way, so a second pass changes nothing
        # "/story/" and "/story" are one page on every CMS we know; the root stays "/".
        tidy = _AMP_INFIX.sub("", _AMP_PATH.sub("", path)).rstrip("/") or "/"
        if tidy == path:
            return tidy
        path = tidy


def _tidy_query(query: str) -> str:
    kept = sorted(
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _is_tracking(k, v)
    )
    return urlencode(kept)
