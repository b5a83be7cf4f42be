"""An analyst's `no` on an item says no to its copies: the story is judged, not one outlet's copy
of it. On SQLite and PostgreSQL, through the store and `statuses.judge` as the CLI, the API and
the page call it.

Before, a `no` on a wire story's first copy took that entry out and let the next outlet's copy
start the story again: the same headline came back as evidence under another publisher, and
with it a second source, so the `no` raised `eased:reported` to `eased:confirmed`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor import migrate
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Entry, Match
from monitor.statuses import advance_all, evaluate_all, judge
from monitor.store import FetchRecord, Store, open_store, upgrade
from monitor.store import evidence as store_evidence
from tests.conftest import ROOT
from tests.test_migrations import rewound

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
TARGET = ("visa-easing", "eased")  # corroborate: 2 (publishers for `confirmed`)
WIRE = (
    "China extends visa-free entry for South Korean travellers through 2027",
    "China will extend its visa-free policy for South Korean passport holders until the end "
    "of 2027, the foreign ministry said on Saturday.",
)


@pytest.fixture
def definitions() -> Definitions:
    return load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")


@pytest.fixture
def store(database_url: str, definitions: Definitions) -> Iterator[Store]:
    with open_store(database_url) as opened:
        opened.sync_feeds(definitions.feeds, now=NOW - 9 * HOUR, default_interval=HOUR)
        opened.ensure_indicators((i.id for i in definitions.indicators), now=NOW - 9 * HOUR)
        yield opened


def wire_copy(n: int, publisher: str, published: datetime, feed: str) -> Entry:
    title, text = WIRE
    return Entry(feed, f"g{n}", f"https://{publisher}/news/{n}", title, text, published, publisher)


def store_news(store: Store, definitions: Definitions, news: list[Entry], now: datetime) -> dict:
    """Store `news`, every item a match of TARGET, with every feed read at `now`: entry id by
    guid."""

    def matched(new: list[tuple[int, Entry]]) -> list[tuple[int, Match]]:
        return [(i, Match(e.key, *TARGET, ("visa-free",), e.text[:80])) for i, e in new]

    hashes = {i.id: i.hash for i in definitions.indicators}
    added = store.add_news(news, now=now, match=matched, definition_hashes=hashes)
    store.record_fetches(
        [FetchRecord(f.id, now=now, ok=True, http_status=200) for f in definitions.feeds]
    )
    return {entry.guid: entry_id for entry_id, entry in added.entries}


def visa(store: Store, definitions: Definitions, now: datetime) -> tuple[str, list[int]]:
    """visa-easing's status and evidence as a check keeps them, which a full evaluation of all
    the evidence must give too."""
    kept = advance_all(definitions, store, now=now, current={})
    (kept_visa,) = [s for s in kept if s.indicator_id == TARGET[0]]
    (full,) = [s for s in evaluate_all(definitions, store, now=now) if s.indicator_id == TARGET[0]]
    shown = (kept_visa.status, [e.entry_id for e in kept_visa.evidence])
    assert shown == (full.status, [e.entry_id for e in full.evidence])
    return shown


def test_a_no_on_a_story_s_first_copy_takes_its_other_copies_out_too(
    store: Store, definitions: Definitions
) -> None:
    feed = definitions.feeds[0].id
    local = Entry(
        feed, "k1", "https://wire-a.example/ko/1", "중국, 한국인 무비자 입국 2027년까지 연장",
        "중국 정부가 한국인에 대한 무비자 입국 정책을 2027년 말까지 연장한다고 밝혔다.",
        NOW - 3 * HOUR, "wire-a.example",
    )  # fmt: skip
    ids = store_news(
        store,
        definitions,
        [local, wire_copy(1, "wire-a.example", NOW - 2 * HOUR, feed)],
        NOW - HOUR,
    )
    korean, first = ids["k1"], ids["g1"]
    ids = store_news(
        store, definitions, [wire_copy(2, "paper-b.example", NOW - HOUR, feed)], NOW - HOUR / 2
    )
    copy_b = ids["g2"]
    # Two stories, both first told by wire-a: one source, reported.
    assert visa(store, definitions, NOW - HOUR / 2) == ("eased:reported", [first, korean])

    judged = judge(
        definitions, store, entry_id=first, target=TARGET, verdict="no", who="cli", now=NOW
    )

    assert judged.status == "eased:reported"  # not confirmed by paper-b's copy of the same
    assert visa(store, definitions, NOW) == ("eased:reported", [korean])
    assert copy_b not in [e.entry_id for e in (judged.change.evidence if judged.change else ())]

    # A third outlet's copy, read a cycle later, is that story too: it stays out.
    ids = store_news(
        store, definitions, [wire_copy(3, "paper-c.example", NOW + HOUR, feed)], NOW + HOUR
    )
    assert visa(store, definitions, NOW + 2 * HOUR) == ("eased:reported", [korean])

    # An analyst's own `yes` on one copy stands over the `no` on another.
    yes = judge(
        definitions, store, entry_id=ids["g3"], target=TARGET, verdict="yes",
        who="cli", now=NOW + 2 * HOUR,
    )  # fmt: skip
    assert yes.status == "eased:confirmed"  # paper-c.example and wire-a.example
    assert visa(store, definitions, NOW + 2 * HOUR) == (
        "eased:confirmed",
        [ids["g3"], korean],
    )


def test_a_no_on_a_later_copy_takes_the_story_out_and_a_new_verdict_brings_it_back(
    store: Store, definitions: Definitions
) -> None:
    """The `no` on the second copy, not the first: the story (started by the first) goes; when
    the analyst changes their mind (`yes` on that same entry, the latest verdict standing), the
    story is back as it was."""
    feed = definitions.feeds[0].id
    first = store_news(
        store, definitions, [wire_copy(1, "wire-a.example", NOW - 2 * HOUR, feed)], NOW - HOUR
    )["g1"]
    second = store_news(
        store, definitions, [wire_copy(2, "paper-b.example", NOW - HOUR, feed)], NOW - HOUR
    )["g2"]
    assert visa(store, definitions, NOW - HOUR) == ("eased:reported", [first])

    judged = judge(
        definitions, store, entry_id=second, target=TARGET, verdict="no", who="cli", now=NOW
    )
    assert (judged.status, visa(store, definitions, NOW)) == ("quiet", ("quiet", []))

    judge(definitions, store, entry_id=second, target=TARGET, verdict="yes", who="cli", now=NOW)
    assert visa(store, definitions, NOW) == ("eased:reported", [first])


def test_0030_has_outcomes_with_a_no_worked_out_anew_by_the_copies_rule(
    store: Store, definitions: Definitions, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose kept stories were found by the older rule (a `no` took out its entry
    alone, so paper-b's copy stood as evidence and as a second source): after the upgrade the
    next evaluation works the outcome out anew, with the copy out. Without the revision the
    kept stories stay as they were, since nothing new arrives for that outcome."""
    feed = definitions.feeds[0].id
    first = store_news(
        store, definitions, [wire_copy(1, "wire-a.example", NOW - 3 * HOUR, feed)], NOW - HOUR
    )["g1"]
    copy = wire_copy(2, "paper-b.example", NOW - 2 * HOUR, feed)
    store_news(store, definitions, [copy], NOW - HOUR)
    other = Entry(feed, "k1", "https://wire-a.example/ko/1", "중국, 한국인 무비자 입국 연장",
                  "중국 정부가 한국인에 대한 무비자 입국 정책을 연장한다고 밝혔다.",
                  NOW - 4 * HOUR, "wire-a.example")  # fmt: skip
    korean = store_news(store, definitions, [other], NOW - HOUR)["k1"]
    never = lambda _originals: lambda _item: False  # noqa: E731
    with monkeypatch.context() as older:  # as the older code judged
        older.setattr(store_evidence, "copy_test", never)
        judged = judge(
            definitions, store, entry_id=first, target=TARGET, verdict="no", who="cli", now=NOW
        )
        assert judged.status == "eased:confirmed"
    rewound(database_url, "0030")

    assert upgrade(database_url) == ("0029", migrate.head())

    assert visa(store, definitions, NOW + HOUR) == ("eased:reported", [korean])
