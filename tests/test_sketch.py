"""MinHash sketches and anchors: copies look alike, different stories do not."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.anchors import anchors, codes, figures
from monitor.sketch import BANDS, band_keys, minhash, pack, shingles, similarity, unpack, words

ORIGINAL = (
    "AMD has signed a multi-year agreement to supply OpenAI with Instinct GPUs totalling 6 "
    "gigawatts of compute, starting with a first 1-gigawatt deployment of MI450 chips in the "
    "second half of 2026. As part of the deal OpenAI receives a warrant for up to 160 million "
    "AMD shares that vests as deployment milestones are met."
)
SPUN = (
    "AMD has inked a multi-year arrangement to furnish OpenAI with Instinct GPUs amounting to 6 "
    "gigawatts of computing power, commencing with an initial 1-gigawatt rollout of MI450 chips "
    "in the latter half of 2026. Within the pact OpenAI obtains a warrant for as much as 160 "
    "million AMD shares that vests as rollout milestones are achieved."
)
OTHER = (
    "Luxshare Precision reported a 32% rise in third-quarter net profit, helped by strong iPhone "
    "17 assembly orders from Apple and growth in its automotive connector business."
)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def test_chinese_is_split_into_characters_and_latin_into_words() -> None:
    assert words("立讯精密获OpenAI订单") == ["立", "讯", "精", "密", "获", "openai", "订", "单"]
    assert words("ＡＭＤ　MI450") == ["amd", "mi450"]  # full width folds


def test_spun_copy_is_similar_and_another_story_is_not() -> None:
    original = minhash(shingles(ORIGINAL))
    assert similarity(original, minhash(shingles(SPUN))) > 0.2  # true Jaccard: 0.37
    assert similarity(original, minhash(shingles(OTHER))) < 0.1


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_similarity_estimates_jaccard(seed: int) -> None:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(400)]
    a = set(rng.sample(vocabulary, 200))
    b = set(rng.sample(sorted(a), 120)) | set(rng.sample(vocabulary, 80))
    # 64 bins: the estimate's standard error is at most 0.0625
    assert abs(similarity(minhash(a), minhash(b)) - jaccard(a, b)) < 0.25


def test_identical_sets_share_every_band_and_empty_text_has_none() -> None:
    sig = minhash(shingles(ORIGINAL))
    assert len(band_keys(sig)) == BANDS
    assert band_keys(sig) == band_keys(minhash(shingles(ORIGINAL)))
    assert band_keys(minhash(set())) == []
    assert similarity(minhash(set()), sig) == 0.0


def test_signature_round_trips_through_bytes() -> None:
    sig = minhash(shingles(SPUN))
    assert unpack(pack(sig)) == sig


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a $16.5 billion contract", {"1.65e+10"}),
        ("价值165亿美元的协议", {"1.65e+10"}),
        ("165억 달러 규모", {"1.65e+10"}),
        ("Nvidia investiert 5 Milliarden Dollar zu 23,28 Dollar", {"5e+09", "23.3"}),
        ("6 gigawatts, or 6GW, or 6吉瓦, or 6ギガワット", {"6e+09"}),
        ("50,000 GPUs; 5万颗; 5만 장", {"5e+04"}),
        ("in 2026, Q2, 3 plants", set()),  # years, quarters and small counts tell nothing
    ],
)
def test_figures_are_the_same_in_every_language(text: str, expected: set[str]) -> None:
    assert figures(text) == expected


def test_codes_are_mixed_letters_and_digits_also_inside_chinese() -> None:
    assert codes("英伟达GB300服务器与MI450、HBM4和18A-P工艺") == {"gb300", "mi450", "hbm4", "18a-p"}
    assert codes("5G phones in 2026, 2nm chips, Q3, 10th") == set()


def test_anchors_of_a_translation_match_the_original() -> None:
    english = anchors("Samsung wins $16.5 billion contract to make Tesla AI6 chips")
    chinese = anchors("三星获特斯拉165亿美元AI6芯片代工订单")
    assert english == chinese == {"1.65e+10", "#ai6"}
