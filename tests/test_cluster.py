"""Pure tests of the cluster decision: which recent story an alert-worthy article joins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cluster import TITLE_OVERLAP, assign_story, title_words
from monitor.records import SimilarArticle, StoryCandidate
from monitor.sketch import minhash, shingles

WINDOW = timedelta(hours=72)
MARCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def candidate(id: int, *organisations: str, published: datetime = MARCH) -> StoryCandidate:
    return StoryCandidate(id, frozenset(organisations), published)


def orgs(*names: str) -> frozenset[str]:
    return frozenset(names)


def test_copy_naming_same_two_organisations_within_window_joins() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    assert (
        assign_story(orgs("OpenAI", "Luxshare"), MARCH + timedelta(hours=5), [story], WINDOW) == 7
    )


def test_copy_naming_a_superset_of_two_shared_organisations_joins() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    joined = assign_story(
        orgs("OpenAI", "Luxshare", "Apple"), MARCH + timedelta(hours=5), [story], WINDOW
    )

    assert joined == 7


def test_copy_published_slightly_before_the_story_joins() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    assert (
        assign_story(orgs("OpenAI", "Luxshare"), MARCH - timedelta(hours=2), [story], WINDOW) == 7
    )


def test_copy_exactly_one_window_later_joins() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    assert assign_story(orgs("OpenAI", "Luxshare"), MARCH + WINDOW, [story], WINDOW) == 7


def test_same_organisations_outside_window_start_a_new_story() -> None:
    story = candidate(7, "OpenAI", "Luxshare", published=datetime(2025, 9, 10, tzinfo=UTC))

    assert assign_story(orgs("OpenAI", "Luxshare"), MARCH, [story], WINDOW) is None


def test_just_past_the_window_starts_a_new_story() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    later = MARCH + WINDOW + timedelta(seconds=1)

    assert assign_story(orgs("OpenAI", "Luxshare"), later, [story], WINDOW) is None


def test_sharing_only_one_organisation_with_a_different_partner_does_not_join() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    assert assign_story(orgs("OpenAI", "Broadcom"), MARCH, [story], WINDOW) is None


def test_single_organisation_does_not_join_a_two_party_story() -> None:
    story = candidate(7, "OpenAI", "Luxshare")

    assert assign_story(orgs("OpenAI"), MARCH, [story], WINDOW) is None


def test_single_party_copy_with_a_similar_title_joins() -> None:
    story = replace(candidate(7, "Luxshare"), title="Luxshare wins Acme robot assembly order")

    joined = assign_story(
        orgs("Luxshare"),
        MARCH + timedelta(hours=1),
        [story],
        WINDOW,
        "Acme robots to be assembled by Luxshare after order win",
    )

    assert joined == 7


def test_two_single_party_stories_about_different_partners_stay_apart() -> None:
    # The partner is unknown to the gazetteer in both: only the titles tell them apart.
    story = replace(candidate(7, "OpenAI"), title="OpenAI signs deal with Acme Robotics for hands")

    joined = assign_story(
        orgs("OpenAI"),
        MARCH + timedelta(hours=1),
        [story],
        WINDOW,
        "OpenAI taps Foo Corp to supply sensors",
    )

    assert joined is None


def test_title_words_fold_plurals_drop_stopwords_and_pair_chinese_characters() -> None:
    assert title_words("OpenAI taps Luxshare for the devices") == {
        "openai",
        "tap",
        "luxshare",
        "device",
    }
    assert title_words("立讯精密代工") == {"立讯", "讯精", "精密", "密代", "代工"}


def test_no_organisations_never_join() -> None:
    story = candidate(7)

    assert assign_story(orgs(), MARCH, [story], WINDOW) is None


def test_no_candidates_means_a_new_story() -> None:
    assert assign_story(orgs("OpenAI", "Luxshare"), MARCH, [], WINDOW) is None


def test_candidate_sharing_most_organisations_wins() -> None:
    article = orgs("OpenAI", "Luxshare", "Foxconn")
    two = candidate(1, "OpenAI", "Luxshare", published=MARCH + timedelta(hours=1))
    three = candidate(2, "OpenAI", "Luxshare", "Foxconn", published=MARCH - timedelta(hours=40))

    assert assign_story(article, MARCH, [two, three], WINDOW) == 2
    assert assign_story(article, MARCH, [three, two], WINDOW) == 2


def test_with_equal_overlap_the_closest_in_time_wins() -> None:
    article = orgs("OpenAI", "Luxshare")
    far = candidate(1, "OpenAI", "Luxshare", published=MARCH - timedelta(hours=30))
    near = candidate(2, "OpenAI", "Luxshare", published=MARCH + timedelta(hours=3))
    farther = candidate(3, "OpenAI", "Luxshare", published=MARCH + timedelta(hours=60))

    assert assign_story(article, MARCH, [far, near, farther], WINDOW) == 2
    assert assign_story(article, MARCH, [farther, near, far], WINDOW) == 2


def test_candidates_outside_window_are_ignored_even_with_more_overlap() -> None:
    article = orgs("OpenAI", "Luxshare", "Foxconn")
    old = candidate(1, "OpenAI", "Luxshare", "Foxconn", published=MARCH - timedelta(days=30))
    recent = candidate(2, "OpenAI", "Luxshare", published=MARCH)

    assert assign_story(article, MARCH, [old, recent], WINDOW) == 2


ORGANISATIONS = ["OpenAI", "Luxshare", "Broadcom", "Foxconn", "TSMC"]
TITLES = [
    "",
    "OpenAI taps Acme Robotics for robot hands",
    "Acme Robotics to build robot hands for OpenAI",
    "OpenAI signs Foo sensor supply deal",
]

candidates_strategy = st.lists(
    st.tuples(
        st.frozensets(st.sampled_from(ORGANISATIONS), max_size=4),
        st.integers(min_value=-100, max_value=100),  # hours from MARCH
        st.sampled_from(TITLES),
    ),
    max_size=8,
).map(
    lambda specs: [
        StoryCandidate(i + 1, organisations, MARCH + timedelta(hours=hours), title)
        for i, (organisations, hours, title) in enumerate(specs)
    ]
)


@settings(database=None, max_examples=300)
@given(
    organisations=st.frozensets(st.sampled_from(ORGANISATIONS), max_size=4),
    title=st.sampled_from(TITLES),
    candidates=candidates_strategy,
    data=st.data(),
)
def test_decision_does_not_depend_on_candidate_order(
    organisations: frozenset[str],
    title: str,
    candidates: list[StoryCandidate],
    data: st.DataObject,
) -> None:
    shuffled = data.draw(st.permutations(candidates))

    expected = assign_story(organisations, MARCH, candidates, WINDOW, title)

    assert assign_story(organisations, MARCH, shuffled, WINDOW, title) == expected
    assert assign_story(organisations, MARCH, iter(shuffled), WINDOW, title) == expected


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


@settings(database=None, max_examples=300)
@given(
    organisations=st.frozensets(st.sampled_from(ORGANISATIONS), max_size=4),
    title=st.sampled_from(TITLES),
    candidates=candidates_strategy,
)
def test_chosen_story_fits_and_no_other_fits_better(
    organisations: frozenset[str], title: str, candidates: list[StoryCandidate]
) -> None:
    def fits(c: StoryCandidate) -> bool:
        shared = organisations & c.organisations
        in_window = abs(c.first_published - MARCH) <= WINDOW
        similar = _jaccard(title_words(title), title_words(c.title)) >= TITLE_OVERLAP
        return in_window and (
            len(shared) >= 2 or (len(shared) == 1 and organisations == c.organisations and similar)
        )

    def rank(c: StoryCandidate) -> tuple[int, timedelta]:
        return (-len(organisations & c.organisations), abs(c.first_published - MARCH))

    chosen = assign_story(organisations, MARCH, candidates, WINDOW, title)
    fitting = [c for c in candidates if fits(c)]

    if not fitting:
        assert chosen is None
    else:
        best = min(rank(c) for c in fitting)
        winner = next(c for c in candidates if c.id == chosen)
        assert fits(winner)
        assert rank(winner) == best


# --- near-duplicates and anchors


def similar(article_id: int, story_id: int | None, text: str, *anchor: str) -> SimilarArticle:
    return SimilarArticle(article_id, story_id, MARCH, minhash(shingles(text)), frozenset(anchor))


COPY = "Foxconn will assemble Nvidia GB300 NVL72 server racks at a new plant in Guadalajara"


def test_near_duplicate_joins_its_story_without_shared_organisations() -> None:
    joined = assign_story(
        orgs(),
        MARCH + timedelta(hours=3),
        [],
        WINDOW,
        minhash=minhash(shingles(COPY + " Mexico")),
        similar=[similar(3, 9, COPY)],
    )

    assert joined == 9


def test_near_duplicate_outside_the_window_does_not_join() -> None:
    joined = assign_story(
        orgs(),
        MARCH + WINDOW + timedelta(hours=1),
        [],
        WINDOW,
        minhash=minhash(shingles(COPY)),
        similar=[similar(3, 9, COPY)],
    )

    assert joined is None


def test_templated_report_with_other_figures_is_not_a_near_duplicate() -> None:
    october = "DRAM contract prices rose 8% in October, TrendForce said, DDR5 averaged $6.10"
    november = "DRAM contract prices rose 12% in October, TrendForce said, DDR5 averaged $6.85"

    joined = assign_story(
        orgs(),
        MARCH,
        [],
        WINDOW,
        minhash=minhash(shingles(november)),
        anchors=frozenset({"12", "6.85"}),
        similar=[similar(3, 9, october, "8", "6.1")],
    )

    assert joined is None


def test_same_companies_with_contradicting_figures_are_two_events() -> None:
    plant = replace(candidate(7, "Foxconn", "Nvidia"), anchors=frozenset({"#gb300", "#nvl72"}))

    supercomputer = assign_story(
        orgs("Foxconn", "Nvidia"), MARCH, [plant], WINDOW, anchors=frozenset({"1e+04"})
    )
    translation = assign_story(
        orgs("Foxconn", "Nvidia"), MARCH, [plant], WINDOW, anchors=frozenset({"#gb300"})
    )
    no_figures = assign_story(orgs("Foxconn", "Nvidia"), MARCH, [plant], WINDOW)

    assert (supercomputer, translation, no_figures) == (None, 7, 7)


def test_most_similar_near_duplicate_wins() -> None:
    closer = COPY + " for US hyperscale customers"
    joined = assign_story(
        orgs(),
        MARCH,
        [],
        WINDOW,
        minhash=minhash(shingles(closer)),
        similar=[similar(3, 9, COPY + " in Q1"), similar(4, 11, closer)],
    )

    assert joined == 11
