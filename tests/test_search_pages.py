"""Searching stored entries folds full-width Latin letters and digits as the matcher does. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.store import Store, open_store
from tests import storeops, webdata
from tests.webdata import NOW

db_url, defs = webdata.db_url, webdata.defs  # fixtures

HOUR = timedelta(hours=1)


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
        hits = [s.entry.title for s in opened.search_entries(query)]
    assert sorted(hits) == sorted(found)


def add_titled(store: Store, texts: list[str]) -> None:
    entries = [
        webdata.news("yonhap", 100 + n, title, f"https://w.example/{n}", NOW - n * HOUR)
        for n, title in enumerate(texts)
    ]
    storeops.add_entries(store, entries, now=NOW)
