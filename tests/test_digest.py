"""Tests of digest rendering: subject, plain text, HTML and the webhook JSON payload."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from monitor.digest import from_payload, payload, render, sanitise, subject
from monitor.records import Digest, DigestArticle, DigestStory, StoryUpdate

CREATED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DIGEST_ID = "20260302T090000Z-team-1a2b3c4d"


def story(
    story_id: int = 1,
    title: str = "OpenAI picks Luxshare to build its first device",
    url: str | None = "https://www.reuters.com/technology/openai-luxshare",
    *,
    entities: tuple[str, ...] = ("OpenAI", "Luxshare"),
    score: float = 0.92,
    why: tuple[str, ...] = ("names OpenAI and Luxshare", "mentions assembly of a device"),
    articles: tuple[DigestArticle, ...] | None = None,
) -> DigestStory:
    if articles is None:
        articles = (
            DigestArticle(title, url, "Reuters", datetime(2026, 3, 2, 7, 0, tzinfo=UTC)),
            DigestArticle(
                "Luxshare to assemble OpenAI hardware",
                "https://asia.nikkei.com/openai-luxshare",
                "Nikkei Asia",
                datetime(2026, 3, 2, 7, 45, tzinfo=UTC),
            ),
        )
    return DigestStory(story_id, title, url, entities, score, why, articles)


def digest(*stories: DigestStory) -> Digest:
    return Digest(DIGEST_ID, "team", CREATED, stories)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text between tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def hrefs(self) -> list[str | None]:
        return [attrs.get("href") for tag, attrs in self.tags if "href" in attrs]


# --- payload


def test_payload_is_the_documented_contract() -> None:
    result = payload(
        digest(
            story(
                articles=(
                    DigestArticle(
                        "OpenAI picks Luxshare to build its first device",
                        "https://www.reuters.com/technology/openai-luxshare",
                        "Reuters",
                        datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
                    ),
                    DigestArticle("Undated copy", None, "Reuters", None),
                    DigestArticle(
                        "Luxshare to assemble OpenAI hardware",
                        "https://asia.nikkei.com/openai-luxshare",
                        "Nikkei Asia",
                        datetime(2026, 3, 2, 7, 45, tzinfo=UTC),
                    ),
                )
            )
        )
    )

    assert result == {
        "digest_id": DIGEST_ID,
        "channel": "team",
        "created": "2026-03-02T09:00:00Z",
        "stories": [
            {
                "story_id": 1,
                "title": "OpenAI picks Luxshare to build its first device",
                "url": "https://www.reuters.com/technology/openai-luxshare",
                "entities": ["OpenAI", "Luxshare"],
                "score": 0.92,
                "why": ["names OpenAI and Luxshare", "mentions assembly of a device"],
                "outlets": ["Reuters", "Nikkei Asia"],
                "articles": [
                    {
                        "title": "OpenAI picks Luxshare to build its first device",
                        "url": "https://www.reuters.com/technology/openai-luxshare",
                        "feed": "Reuters",
                        "published": "2026-03-02T07:00:00Z",
                    },
                    {"title": "Undated copy", "url": None, "feed": "Reuters", "published": None},
                    {
                        "title": "Luxshare to assemble OpenAI hardware",
                        "url": "https://asia.nikkei.com/openai-luxshare",
                        "feed": "Nikkei Asia",
                        "published": "2026-03-02T07:45:00Z",
                    },
                ],
            }
        ],
        "updates": [],
        "source_health": [],
    }


def test_payload_contract_keys_present_for_every_story_and_article() -> None:
    result = payload(digest(story(1), story(2, url=None, why=())))

    assert {"digest_id", "channel", "stories"} <= result.keys()
    for s in result["stories"]:
        assert {"story_id", "title", "url", "entities", "score", "why", "articles"} <= s.keys()
        for a in s["articles"]:
            assert {"title", "url", "feed", "published"} <= a.keys()
    assert [s["story_id"] for s in result["stories"]] == [1, 2]


def test_payload_is_json_serialisable() -> None:
    result = payload(digest(story()))

    assert json.loads(json.dumps(result)) == result


def test_render_payload_matches_payload() -> None:
    d = digest(story())

    assert render(d).payload == payload(d)


# --- subject


def test_subject_for_one_story_is_singular_and_names_it() -> None:
    assert (
        subject(digest(story(title="OpenAI picks Luxshare")))
        == "[monitor] 1 new story: OpenAI picks Luxshare"
    )


def test_subject_for_several_stories_is_plural_and_names_the_top_one() -> None:
    d = digest(story(1, "Top story"), story(2, "Second"), story(3, "Third"))

    assert subject(d) == "[monitor] 3 new stories: Top story (+2 more)"


def test_render_subject_matches_subject() -> None:
    d = digest(story(1, "Top story"), story(2, "Second"))

    assert render(d).subject == subject(d)


# --- HTML safety

HOSTILE = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"


def test_html_escapes_hostile_text_everywhere() -> None:
    d = digest(
        story(
            title=HOSTILE,
            entities=(HOSTILE,),
            why=(HOSTILE,),
            articles=(DigestArticle(HOSTILE, "https://example.com/a", HOSTILE, None),),
        )
    )

    html = render(d).html
    parsed = Tags(html)

    assert "<script" not in html
    assert "<img" not in html
    assert [tag for tag, _ in parsed.tags if tag in ("script", "img")] == []
    # The text survives, as text.
    assert sum(HOSTILE in chunk for chunk in parsed.text) >= 4


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_html_never_links_a_non_http_url(url: str) -> None:
    d = digest(story(url=url, articles=(DigestArticle("Copy", url, "Outlet", None),)))

    parsed = Tags(render(d).html)

    assert parsed.hrefs() == []
    assert "javascript:" not in render(d).html.lower()


def test_html_links_http_urls_and_escapes_quotes_in_them() -> None:
    url = 'https://example.com/a?b=1&c="><script>alert(1)</script>'
    d = digest(story(url=url, articles=(DigestArticle("Copy", url, "Outlet", None),)))

    html = render(d).html
    parsed = Tags(html)

    assert parsed.hrefs() == [url, url]
    assert [tag for tag, _ in parsed.tags if tag == "script"] == []
    assert all(urlsplit(h or "").scheme in ("http", "https") for h in parsed.hrefs())


# --- text


def test_text_lists_every_outlets_article_and_the_why_lines() -> None:
    d = digest(
        story(
            1,
            why=("names OpenAI and Luxshare", "mentions assembly of a device"),
            articles=(
                DigestArticle(
                    "OpenAI picks Luxshare",
                    "https://www.reuters.com/a",
                    "Reuters",
                    datetime(2026, 3, 2, 7, 0, tzinfo=UTC),
                ),
                DigestArticle(
                    "Luxshare to assemble OpenAI hardware",
                    "https://asia.nikkei.com/b",
                    "Nikkei Asia",
                    datetime(2026, 3, 2, 7, 45, tzinfo=UTC),
                ),
                DigestArticle("立讯精密为OpenAI代工", None, "财新", None),
            ),
        ),
        story(2, "Second story", why=("only one reason",)),
    )

    lines = render(d).text.splitlines()

    for expected in [
        "   - names OpenAI and Luxshare",
        "   - mentions assembly of a device",
        "   * Reuters (2026-03-02 07:00 UTC): OpenAI picks Luxshare",
        "     https://www.reuters.com/a",
        "   * Nikkei Asia (2026-03-02 07:45 UTC): Luxshare to assemble OpenAI hardware",
        "     https://asia.nikkei.com/b",
        "   * 财新 (undated): 立讯精密为OpenAI代工",
        "   - only one reason",
        "2. Second story",
    ]:
        assert expected in lines
    assert (
        lines[0]
        == "[monitor] 2 new stories: OpenAI picks Luxshare to build its first device (+1 more)"
    )


def test_text_is_not_html_escaped() -> None:
    text = render(digest(story(title="AT&T <and> Luxshare"))).text

    assert "1. AT&T <and> Luxshare" in text.splitlines()


# --- CJK


def test_cjk_titles_survive_every_rendering() -> None:
    title = "立讯精密与OpenAI合作生产AI硬件设备"
    outlet = "日本経済新聞"
    d = digest(
        story(
            title=title,
            entities=("立讯精密", "OpenAI"),
            articles=(DigestArticle(title, "https://example.jp/記事", outlet, None),),
        )
    )

    rendered = render(d)

    assert title in rendered.subject
    assert title in rendered.text
    assert outlet in rendered.text
    assert title in Tags(rendered.html).text
    assert outlet in rendered.html
    assert rendered.payload["stories"][0]["title"] == title
    assert rendered.payload["stories"][0]["articles"][0]["feed"] == outlet
    assert json.loads(json.dumps(rendered.payload, ensure_ascii=False)) == rendered.payload


# --- untrusted feed text


def test_control_and_bidi_characters_are_stripped_from_every_rendering() -> None:
    title = "Luxshare\x1b[31m deal\u202e with\tOpenAI\r\nfor\x00 devices"
    d = digest(
        story(
            title=title,
            why=("evidence (title): a\x07b",),
            articles=(DigestArticle(title, "https://e.example/a", "Out\x1blet", None),),
        )
    )

    rendered = render(d)

    clean = "Luxshare [31m deal with OpenAI for devices"
    assert rendered.digest.stories[0].title == clean
    assert rendered.payload["stories"][0]["title"] == clean
    assert rendered.subject == f"[monitor] 1 new story: {clean}"
    for text in (rendered.text, rendered.html, json.dumps(rendered.payload)):
        assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert rendered.payload["stories"][0]["articles"][0]["feed"] == "Out let"
    assert rendered.payload["stories"][0]["why"] == ["evidence (title): a b"]


def test_long_fields_are_cut_and_the_subject_stays_short() -> None:
    d = digest(story(title="Luxshare " * 200, why=("why " * 500,)))

    rendered = render(d)

    title = rendered.payload["stories"][0]["title"]
    assert len(title) == 300 and title.endswith("…")
    assert len(rendered.payload["stories"][0]["why"][0]) == 400
    assert len(rendered.subject) < 160


def test_links_that_are_not_http_are_dropped_everywhere() -> None:
    bad = "javascript:alert(1)"
    d = digest(story(url=bad, articles=(DigestArticle("Copy", bad, "Outlet", None),)))

    rendered = render(d)

    assert rendered.payload["stories"][0]["url"] is None
    assert rendered.payload["stories"][0]["articles"][0]["url"] is None
    assert "javascript" not in rendered.text + rendered.html


def test_a_digest_rebuilt_from_its_payload_renders_the_same() -> None:
    d = Digest(
        DIGEST_ID,
        "team",
        CREATED,
        (story(1), story(2, "Second", url=None)),
        (StoryUpdate(7, "Earlier story", "https://e.example/7", 5, 2),),
        "immediate",
    )

    rebuilt = from_payload(payload(d), "immediate")

    assert rebuilt == sanitise(d)
    assert render(rebuilt) == render(d)


def test_updates_show_now_reported_by_n_outlets() -> None:
    d = Digest(
        DIGEST_ID,
        "team",
        CREATED,
        (story(),),
        (StoryUpdate(7, "Earlier story", "https://e.example/7", 5, 2),),
    )

    rendered = render(d)

    assert " - Earlier story: now reported by 5 outlets" in rendered.text.splitlines()
    assert "now reported by 5 outlets" in " ".join(Tags(rendered.html).text)
    assert rendered.payload["updates"] == [
        {
            "story_id": 7,
            "title": "Earlier story",
            "url": "https://e.example/7",
            "outlets": 5,
            "previously": 2,
        }
    ]
    assert "Updates" not in render(digest(story())).text


def test_html_shows_title_link_entities_outlets_and_one_line_why_per_story() -> None:
    d = digest(
        story(
            why=(
                "partnership cues: picks; hardware cues: device",
                "evidence (title): OpenAI picks Luxshare to build its first device",
                "watched: Luxshare, OpenAI",
            )
        )
    )

    parsed = Tags(render(d).html)
    text = " ".join(t.strip() for t in parsed.text if t.strip())

    assert "https://www.reuters.com/technology/openai-luxshare" in parsed.hrefs()
    assert "https://asia.nikkei.com/openai-luxshare" in parsed.hrefs()
    assert "OpenAI" in text and "Luxshare" in text and "2 outlets" in text
    assert "Why: OpenAI picks Luxshare to build its first device" in text
    assert "watched: Luxshare, OpenAI" not in text  # one line of why, not all of them


def test_the_one_line_why_prefers_evidence_beyond_the_title() -> None:
    lead = "OpenAI signed a deal with Luxshare to assemble its first device in Vietnam."
    d = digest(
        story(
            why=(
                "hardware_partnership 0.90 (title): OpenAI* + Luxshare*; device",
                "evidence (title): OpenAI picks Luxshare to build its first device",
                f"evidence: {lead}",
            )
        )
    )

    text = " ".join(t.strip() for t in Tags(render(d).html).text if t.strip())

    assert f"Why: {lead}" in text
