"""Searching stored entries a page at a time (`monitor search --before`, GET /entries' `Link`
header), correct while new entries arrive, and folding full-width Latin letters and digits as
the matcher does. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from monitor.cli import main
from monitor.domain import Definitions
from monitor.store import Store, open_store
from monitor.web import create_app
from tests import storeops, webdata
from tests.webdata import NOW

db_url, defs = webdata.db_url, webdata.defs  # fixtures

HOUR = timedelta(hours=1)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """Five entries about a summit: two at one time (the id decides), one published later
    than it was seen."""
    with open_store(db_url) as opened:
        times = [NOW - 4 * HOUR, NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - 2 * HOUR, NOW - HOUR]
        add(opened, *((n, at) for n, at in enumerate(times, 1)))
        yield opened


def add(store: Store, *items: tuple[int, datetime]) -> None:
    entries = [
        webdata.news("yonhap", n, f"Summit story {n}", f"https://e.example/{n}", at)
        for n, at in items
    ]
    storeops.add_entries(store, entries, now=NOW)


def titles(found: list[object]) -> list[str]:
    return [getattr(f, "entry", f).title for f in found]  # StoredEntry or EntryOut


def test_search_pages_follow_one_another_while_entries_arrive(store: Store) -> None:
    """A page starts after the last entry of the one before, by (time, id): an entry stored
    meanwhile that is newer shifts nothing (an offset would show the page's first entry again),
    and one older than the cursor, by its published date, comes in its place."""
    first = store.search_entries("summit", limit=2)
    assert titles(first) == ["Summit story 5", "Summit story 4"]

    add(store, (6, NOW), (7, NOW - 2.5 * HOUR))  # arrive between the two pages
    second = store.search_entries("summit", limit=2, before=first[-1].id)
    third = store.search_entries("summit", limit=2, before=second[-1].id)
    last = store.search_entries("summit", limit=2, before=third[-1].id)

    assert titles(second) == ["Summit story 3", "Summit story 7"]  # 3 and 4 share a time
    assert titles(third) == ["Summit story 2", "Summit story 1"]
    assert last == []
    assert titles(store.search_entries("summit", limit=10))[0] == "Summit story 6"


def test_a_page_after_an_entry_no_longer_stored_is_an_error_not_an_empty_page(
    store: Store,
) -> None:
    with pytest.raises(KeyError):
        store.search_entries("summit", before=10_000)


def test_get_entries_names_the_next_page_in_a_link_header(store: Store, defs: Definitions) -> None:
    client = TestClient(create_app(store=store, definitions=lambda: defs,
                                   settings=webdata.settings()))  # fmt: skip
    seen, url, pages = [], "/entries?q=summit&limit=2", 0
    while url:
        answer = client.get(url)
        assert answer.status_code == 200
        seen += [item["title"] for item in answer.json()]
        pages += 1
        if pages == 1:
            add(store, (6, NOW))  # a new entry between the pages: on none of the next ones
        url = answer.links.get("next", {}).get("url", "")
    assert seen == [f"Summit story {n}" for n in (5, 4, 3, 2, 1)]
    assert pages == 3  # 2 + 2 + 1: the last page has no next link

    gone = client.get("/entries", params={"q": "summit", "before": 10_000})
    assert (gone.status_code, gone.json()) == (404, {"detail": "before: no stored entry 10000"})


def search(db_url: str, *args: str) -> tuple[list[dict[str, object]], str]:
    env = {
        "MONITOR_DATABASE_URL": db_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    result = CliRunner().invoke(main, ["search", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_monitor_search_says_how_to_see_the_next_page(db_url: str, store: Store) -> None:
    page, said = search(db_url, "summit", "--limit", "2")
    assert [item["title"] for item in page] == ["Summit story 5", "Summit story 4"]
    assert said == f"monitor: search: more entries match: --before {page[-1]['id']}\n"

    add(store, (6, NOW))
    page, said = search(db_url, "summit", "--limit", "3", "--before", str(page[-1]["id"]))

    assert [item["title"] for item in page] == [f"Summit story {n}" for n in (3, 2, 1)]
    assert said == ""  # the last page


WIDE = "ＳＡＭＳＵＮＧ ＥＬＥＣＴＲＯＮＩＣＳ ２０２６ plant"
NARROW = "Samsung Electronics 2026 plant"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("samsung", [WIDE, NARROW]),  # full-width text, ASCII query
        ("ＳＡＭＳＵＮＧ", [WIDE, NARROW]),  # and the other way round
        ("2026", [WIDE, NARROW, "三星電子 ２０２６ 工廠", "三星电子 2026 工厂"]),
        ("ｓａｍｓｕｎｇ electronics", [WIDE, NARROW]),  # mixed, lower-case full-width
        ("電子 ２０２６", ["三星电子 2026 工厂", "三星電子 ２０２６ 工廠"]),  # with Chinese
        ("签证（放寬）", ["韓國簽證（放寬）"]),  # full-width brackets stay as written
        ("electronics 2027", []),
    ],
)
def test_search_reads_full_width_letters_and_digits_as_the_matcher_does(
    db_url: str, query: str, found: list[str]
) -> None:
    """A rule's `Samsung` matches ＳＡＭＳＵＮＧ (NFKC, `domain.normalize`); an analyst
    searching for what a rule matched must find it too, on either database."""
    titles_ = [WIDE, NARROW, "三星電子 ２０２６ 工廠", "三星电子 2026 工厂", "韓國簽證（放寬）"]
    with open_store(db_url) as opened:
        add_titled(opened, titles_)
        hits = titles(opened.search_entries(query))
    assert sorted(hits) == sorted(found)


def add_titled(store: Store, texts: list[str]) -> None:
    entries = [
        webdata.news("yonhap", 100 + n, title, f"https://w.example/{n}", NOW - n * HOUR)
        for n, title in enumerate(texts)
    ]
    storeops.add_entries(store, entries, now=NOW)
