"""A broken feeds file lists every one of its problems, each with its file:line, as indicator
files do: a feed's other problem (a bad URL, a bad interval, an unknown key) does not hide that
its id repeats one above."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.definitions import validate

INDICATORS = Path(__file__).parent / "data" / "definitions" / "valid" / "indicators"
FIRST = "  - {id: a, url: 'https://example.org/a.xml'}\n"


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ("  - {id: a, url: 'not a url'}\n",
         "feed url 'not a url' must be an http:// or https:// URL"),
        ("  - {id: a, url: 'http://127.0.0.1:99999/x'}\n",
         "feed url 'http://127.0.0.1:99999/x': Port out of range 0-65535"),
        ("  - {id: a, url: 'https://example.org/b.xml', interval: soon}\n",
         "interval: not a duration: 'soon' (use e.g. 90s, 15m, 2h, 30d, 1w)"),
        ("  - {id: a, url: 'https://example.org/b.xml', tags: korea}\n", "tags must be a list"),
        ("  - {id: a}\n", "a feed is missing required key 'url'"),
    ],
)  # fmt: skip
def test_a_repeated_id_is_said_beside_the_feeds_other_problem(
    tmp_path: Path, second: str, problem: str
) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n" + FIRST + second)

    problems = validate(INDICATORS, feeds)

    assert f"{feeds}:3: duplicate feed id 'a' (first at line 2)" in problems, problems
    assert any(p.startswith(f"{feeds}:3: {problem}") for p in problems), problems
    assert len(problems) == 2, problems


def test_a_repeated_id_whose_first_feed_is_broken_is_said_too(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - {id: a, url: 'ftp://example.org/a'}\n" + FIRST)

    problems = validate(INDICATORS, feeds)

    assert problems == [
        f"{feeds}:2: feed url 'ftp://example.org/a' must be an http:// or https:// URL",
        f"{feeds}:3: duplicate feed id 'a' (first at line 2)",
    ]


@pytest.mark.parametrize(
    ("url", "bad"),
    [("http://exa mple.com/feed", " "), ("https://news.example.org%2F/rss", "%"),
     ("http://exa<mple.com/", "<"), ("http://host\\name.example/", "\\")],
)  # fmt: skip
def test_a_host_no_name_can_have_is_said_where_it_is_written(
    tmp_path: Path, url: str, bad: str
) -> None:
    """The HTTP client sends such a host percent-encoded, so the feed would fail at every cycle
    with a name that does not resolve; validate says so at the line instead."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - {{id: a, url: {json.dumps(url)}}}\n")

    problems = validate(INDICATORS, feeds)

    host = url.split("/")[2]
    assert problems == [
        f"{feeds}:2: feed url {url!r}: its host {host!r} holds {bad!r}, which no host name has"
    ]


def test_hosts_a_feed_may_have_are_read(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    urls = ["http://例え.jp/feed", "http://[::1]:8080/x", "http://my_host.local/x?q=a b"]
    feeds.write_text(
        "feeds:\n" + "".join(f"  - {{id: f{n}, url: {u!r}}}\n" for n, u in enumerate(urls))
    )
    assert validate(INDICATORS, feeds) == []
