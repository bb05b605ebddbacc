"""The README says what the code does: its reference, commands and payload come from the code."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from conftest import REPO

from monitor.cli import cli
from monitor.config import reference
from monitor.digest import payload
from monitor.records import Digest, DigestArticle, DigestStory

README = (REPO / "README.md").read_text(encoding="utf-8")


def _shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_readme_carries_the_generated_config_reference() -> None:
    assert reference() in README


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _shell_blocks()[1].strip()
    assert test_command.endswith("pytest")
    assert test_command in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_starts_with_the_demo_command() -> None:
    assert _shell_blocks()[0].strip().endswith("monitor demo")
    assert README.index("## Two commands") < README.index("## How it works")


def test_every_command_is_in_the_readme() -> None:
    for name in cli.commands:
        assert f"monitor {name}" in README or f"`{name}`" in README, name


def test_readme_payload_example_has_the_fields_we_send() -> None:
    example = json.loads(re.search(r"```json\n(.*?)```", README, re.S).group(1))
    when = datetime(2025, 9, 19, 9, tzinfo=UTC)
    story = DigestStory(
        1,
        "t",
        "https://x.example/",
        ("OpenAI",),
        0.5,
        ("why",),
        (DigestArticle("t", "https://x.example/", "Feed", when),),
    )
    sent = payload(Digest("d", "team", when, (story,)))
    assert set(example) == set(sent)
    assert set(example["stories"][0]) == set(sent["stories"][0])
    assert set(example["stories"][0]["articles"][0]) == set(sent["stories"][0]["articles"][0])
