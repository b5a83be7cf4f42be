"""The status model of DESIGN §3, table-driven over small hand-made evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import monitor.stories as stories_module
from monitor.domain import (
    QUIET,
    UNKNOWN,
    Evidence,
    FeedHealth,
    Indicator,
    Level,
    Outcome,
    Status,
    UnreadFeed,
    normalize,
)
from monitor.evaluate import changes, down_since, evaluate, feeds_down, unread_text
from monitor.ruletree import Rule, Term, TermKind, TermNode
from monitor.stories import (
    STORIES_CACHED,
    _cluster,
    _fingerprint,
    _similar,
    _stories_of,
    same_story,
    stories,
    story_keys,
)

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
KEY = ("a store", 1, "an indicator", "an outcome")  # as evaluate keys the evidence it is given
HOUR = timedelta(hours=1)
_ids = count(1)

_RULE = Rule(TermNode(Term("x", TermKind.PHRASE, "x")))
INDICATOR = Indicator(
    id="nk",
    group="North Korea",
    title="How Beijing talks about North Korea",
    question="?",
    outcomes=(
        Outcome("pressure", "Pressure", _RULE, corroborate=2),
        Outcome("balance", "Balance", _RULE, corroborate=3),
    ),
    window=timedelta(days=30),
    hash="h1",
)

STORIES = [
    "Xi tells Lee China will strictly enforce UN sanctions on North Korea",
    "Beijing and Seoul agree on new trade talks after summit in Gyeongju",
    "Chinese foreign ministry calls for dialogue on Korean Peninsula tensions",
    "Pyongyang fires ballistic missile into East Sea as Lee lands in Beijing",
]


def ev(
    outcome: str = "pressure",
    publisher: str = "a.com",
    title: str = STORIES[0],
    *,
    link: str | None = None,
    age: timedelta = HOUR,
    snippet: str = "",
    indicator: str = "nk",
    lede: str = "",
) -> Evidence:
    entry_id = next(_ids)
    return Evidence(
        entry_id=entry_id,
        indicator_id=indicator,
        outcome_id=outcome,
        title=title,
        link=link if link is not None else f"https://{publisher}/news/{entry_id}",
        publisher=publisher,
        time=NOW - age,
        terms=("x",),
        snippet=snippet,
        lede=lede,
    )


def healthy(feed: str = "f1") -> FeedHealth:
    return FeedHealth(feed, None, timedelta(minutes=15))


def test_feeds_stopped_supporting_a_status_when_the_last_of_them_did() -> None:
    read = replace(healthy("a"), last_read=NOW - 3 * HOUR)  # unread from NOW - 2.5 h
    failing = FeedHealth("b", NOW - 2 * HOUR, timedelta(minutes=15))  # from NOW - 1.5 h
    gone = FeedHealth("c", NOW - 5 * HOUR, timedelta(minutes=15), dead=True)  # from then
    assert down_since([read, failing, gone], NOW) == NOW - 90 * timedelta(minutes=1)
    assert down_since([read], NOW) == NOW - 150 * timedelta(minutes=1)
    never = FeedHealth("d", None, timedelta(minutes=15), never_read=True)
    later = replace(healthy("e"), last_read=NOW + HOUR)  # the clock was set back
    assert down_since([read, never], NOW) == NOW - 150 * timedelta(minutes=1)  # never read:
    assert down_since([never], NOW) is None  # it never supported one; the others tell when
    assert down_since([later], NOW) is None


def failing(feed: str, since: timedelta, interval: timedelta = timedelta(minutes=15)) -> FeedHealth:
    return FeedHealth(feed, NOW - since, interval, last_error="boom")


def dead(feed: str) -> FeedHealth:
    return FeedHealth(feed, NOW - HOUR, timedelta(minutes=15), dead=True)


def unread(feed: str, error: str = "", since: timedelta | None = None) -> FeedHealth:
    """Never read successfully: never fetched (no error), or failing from its first fetch on."""
    failing_since = None if since is None else NOW - since
    return FeedHealth(feed, failing_since, timedelta(minutes=15), last_error=error, never_read=True)


CASES: list[tuple[str, list[Evidence], list[FeedHealth], str]] = [
    ("no evidence", [], [healthy()], "quiet"),
    ("one source", [ev(publisher="a.com")], [healthy()], "pressure:reported"),
    (
        "two stories one publisher",
        [ev(publisher="a.com", title=STORIES[0]), ev(publisher="a.com", title=STORIES[1])],
        [healthy()],
        "pressure:reported",
    ),
    (
        "two sources corroborate",
        [ev(publisher="a.com", title=STORIES[0]), ev(publisher="b.com", title=STORIES[1])],
        [healthy()],
        "pressure:confirmed",
    ),
    (
        "corroborate is per outcome",
        [ev("balance", p, STORIES[i]) for i, p in enumerate(["a.com", "b.com"])],
        [healthy()],
        "balance:reported",
    ),
    (
        "three sources confirm balance",
        [ev("balance", p, STORIES[i]) for i, p in enumerate(["a.com", "b.com", "c.com"])],
        [healthy()],
        "balance:confirmed",
    ),
    (
        "wire copies in three publishers count once",
        [ev(publisher=p, age=HOUR * (i + 1)) for i, p in enumerate(["a.com", "b.com", "c.com"])],
        [healthy()],
        "pressure:reported",
    ),
    (
        "near-duplicate titles count once",
        [
            ev(
                publisher="a.com",
                title="Xi tells Lee China will strictly enforce UN sanctions on North Korea",
            ),
            ev(
                publisher="b.com",
                title="Xi tells Lee that China will strictly enforce UN sanctions on North Korea",
            ),
        ],
        [healthy()],
        "pressure:reported",
    ),
    (
        "same link counts once",
        [
            ev(publisher="a.com", title=STORIES[0], link="https://a.com/1"),
            ev(publisher="b.com", title=STORIES[1], link="https://a.com/1/"),
        ],
        [healthy()],
        "pressure:reported",
    ),
    (
        "window excludes old evidence",
        [ev(publisher="a.com", age=timedelta(days=31)), ev(publisher="b.com", title=STORIES[1])],
        [healthy()],
        "pressure:reported",
    ),
    ("only old evidence is quiet", [ev(age=timedelta(days=30, seconds=1))], [healthy()], "quiet"),
    (
        "evidence at the window's edge counts",
        [ev(age=timedelta(days=30))],
        [healthy()],
        "pressure:reported",
    ),
    (
        "mixed when two outcomes share the top level",
        [ev("pressure", "a.com", STORIES[0]), ev("balance", "b.com", STORIES[2])],
        [healthy()],
        "mixed",
    ),
    (
        "confirmed beats reported",
        [
            ev("pressure", "a.com", STORIES[0]),
            ev("pressure", "b.com", STORIES[1]),
            ev("balance", "c.com", STORIES[2]),
        ],
        [healthy()],
        "pressure:confirmed",
    ),
    (
        "other indicators and unknown outcomes are ignored",
        [ev(indicator="other"), ev(outcome="nope")],
        [healthy()],
        "quiet",
    ),
    (
        "unknown when every feed fails for over two intervals",
        [],
        [failing("f1", timedelta(minutes=31)), failing("f2", timedelta(hours=5))],
        "unknown",
    ),
    (
        "unknown at exactly two intervals",
        [],
        [failing("f1", timedelta(minutes=30))],
        "unknown",
    ),
    (
        "unknown wins over evidence",
        [ev(publisher="a.com")],
        [failing("f1", timedelta(hours=1)), dead("f2")],
        "unknown",
    ),
    ("unknown when every feed is dead", [], [dead("f1")], "unknown"),
    (
        "not unknown when one feed is healthy",
        [],
        [failing("f1", timedelta(hours=5)), healthy("f2")],
        "quiet",
    ),
    (
        "not unknown when failing for under two intervals",
        [ev(publisher="a.com")],
        [failing("f1", timedelta(minutes=29))],
        "pressure:reported",
    ),
    (
        "two intervals are the feed's own",
        [],
        [failing("f1", timedelta(hours=3), interval=timedelta(hours=2))],
        "quiet",
    ),
    ("unknown without feeds: nothing was read", [], [], "unknown"),
    ("unknown without feeds wins over evidence", [ev(publisher="a.com")], [], "unknown"),
    ("unknown before any check", [], [unread("f1")], "unknown"),
    (
        "unknown from the first failed check of a feed never read",
        [],
        [unread("f1", "fetch: connection refused", since=timedelta(seconds=1))],
        "unknown",
    ),
    (
        "unknown when one feed was never read and the other died",
        [ev(publisher="a.com")],
        [unread("f1"), failing("f2", timedelta(hours=1))],
        "unknown",
    ),
    (
        "not unknown when one feed was read and fails for under two intervals",
        [],
        [unread("f1", "boom", since=HOUR), failing("f2", timedelta(minutes=10))],
        "quiet",
    ),
]


@pytest.mark.parametrize(
    ("evidence", "health", "expected"),
    [pytest.param(e, h, s, id=name) for name, e, h, s in CASES],
)
def test_status(evidence: list[Evidence], health: list[FeedHealth], expected: str) -> None:
    status = evaluate(INDICATOR, evidence, health, now=NOW)
    assert status.status == expected
    assert status.definition_hash == "h1"
    assert [o.outcome_id for o in status.outcomes] == ["pressure", "balance"]


def test_an_unknown_status_says_which_feeds_were_not_read_and_why() -> None:
    health = [
        unread("yonhap", "fetch: connection refused " + "x" * 200, since=timedelta(seconds=1)),
        unread("herald"),
        failing("kbs", timedelta(hours=1)),
        dead("nhk"),
    ]
    status = evaluate(INDICATOR, [], health, now=NOW)
    assert status.status == "unknown"
    assert status.reason.startswith("feeds not read: yonhap: never read (fetch: connection refused")
    assert "…); herald: never read yet; kbs: failing since 2026-02-01 11:00 UTC (boom)" in (
        status.reason
    )
    assert status.reason.endswith("; and 1 more")
    [change] = changes([status], {"nk": QUIET}, now=NOW)
    assert (change.old_status, change.new_status, change.reason) == (QUIET, UNKNOWN, status.reason)
    read = evaluate(INDICATOR, [], [healthy()], now=NOW)
    assert read.reason == "" and changes([read], {"nk": UNKNOWN}, now=NOW)[0].reason == ""


def test_the_status_lists_every_feed_not_read_whole_where_its_reason_names_three() -> None:
    """The reason cuts each error at 80 characters and names three feeds; the structured list
    a tool reads (`IndicatorOut.unread_feeds`) has every one, its error whole. A status the
    one feed read still supports lists the others too."""
    long_error = "fetch: connection refused " + "x" * 200
    health = [
        unread("yonhap", long_error, since=timedelta(seconds=1)),
        unread("herald"),
        failing("kbs", timedelta(hours=1)),
        dead("nhk"),
    ]
    status = evaluate(INDICATOR, [], health, now=NOW)
    assert status.unread == (
        UnreadFeed("yonhap", "never_read", None, long_error),
        UnreadFeed("herald", "never_read", None, ""),
        UnreadFeed("kbs", "failing", NOW - HOUR, "boom"),
        UnreadFeed("nhk", "gone", NOW - HOUR, ""),
    )
    assert (
        status.reason
        == "feeds not read: "
        + "; ".join(unread_text(u) for u in status.unread[:3])
        + "; and 1 more"
    )
    read = evaluate(INDICATOR, [], [*health, healthy("ok")], now=NOW)
    assert (read.status, read.reason, read.unread) == (QUIET, "", status.unread)


def test_an_indicator_reading_no_feed_is_unknown_and_says_so() -> None:
    """Tags and ids that select no feed (a feeds file of one's own, a typo) read nothing:
    `quiet` would claim the news was read."""
    status = evaluate(INDICATOR, [], [], now=NOW)
    assert (status.status, status.reason) == (
        UNKNOWN,
        "feeds not read: none selected (no feed in the feeds file has its tags or ids)",
    )
    [change] = changes([status], {"nk": QUIET}, now=NOW)
    assert (change.old_status, change.new_status, change.reason) == (QUIET, UNKNOWN, status.reason)


def test_status_is_independent_of_input_order() -> None:
    items = [ev(publisher=p, age=HOUR * (i + 1)) for i, p in enumerate(["a.com", "b.com"])]
    items.append(ev(publisher="c.com", title=STORIES[1]))
    forward = evaluate(INDICATOR, items, [healthy()], now=NOW)
    backward = evaluate(INDICATOR, items[::-1], [healthy()], now=NOW)
    assert forward == backward


def test_outcome_state_lists_stories_newest_first_with_earliest_copy_as_source() -> None:
    wire = [
        ev(publisher="late.com", age=HOUR),
        ev(publisher="first.com", age=3 * HOUR),
        ev(publisher="middle.com", age=2 * HOUR),
    ]
    other = ev(publisher="b.com", title=STORIES[1], age=30 * timedelta(minutes=1))
    old = ev(publisher="c.com", title=STORIES[2], age=timedelta(days=40))
    status = evaluate(INDICATOR, [*wire, other, old], [healthy()], now=NOW)

    pressure, balance = status.outcomes
    assert pressure.level is Level.CONFIRMED
    assert [e.entry_id for e in pressure.evidence] == [other.entry_id, wire[1].entry_id]
    assert set(pressure.sources) == {"first.com", "b.com"}
    assert balance.level is Level.NONE
    assert balance.sources == () and balance.evidence == ()
    assert status.evidence == pressure.evidence


def test_future_dated_entries_count_at_their_effective_time() -> None:
    # The store gives an entry published "tomorrow" the time it was first seen, so it counts
    # as fresh; an old article discovered today keeps its old published time and does not.
    seen_today = ev(publisher="a.com", age=timedelta(minutes=5))
    published_long_ago = ev(publisher="b.com", title=STORIES[1], age=timedelta(days=90))
    status = evaluate(INDICATOR, [seen_today, published_long_ago], [healthy()], now=NOW)
    assert status.status == "pressure:reported"
    assert status.outcomes[0].evidence == (seen_today,)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param(STORIES[0], STORIES[0], True, id="identical"),
        pytest.param(STORIES[0], STORIES[0].upper() + "!", True, id="case and punctuation"),
        pytest.param(STORIES[0], STORIES[1], False, id="different stories"),
        pytest.param("Live updates", "Live updates", False, id="short generic titles"),
        pytest.param(
            "习近平会见李在明 双方同意加强经贸合作与人文交流",
            "习近平会见李在明，双方同意加强经贸合作和人文交流",
            True,
            id="cjk near-duplicate",
        ),
        pytest.param(
            "习近平会见李在明 双方同意加强经贸合作与人文交流",
            "朝鲜向东部海域发射一枚弹道导弹 韩国军方称",
            False,
            id="cjk different",
        ),
    ],
)
def test_same_story(a: str, b: str, same: bool) -> None:
    left = ev(publisher="a.com", title=a, link="")
    right = ev(publisher="b.com", title=b, link="")
    assert same_story(left, right) is same


def test_snippet_makes_copies_with_different_headlines_one_story() -> None:
    body = (
        "Chinese President Xi Jinping told South Korean President Lee Jae-myung on Monday "
        "that Beijing would strictly enforce United Nations sanctions on North Korea"
    )
    a = ev(publisher="a.com", title="China to enforce sanctions, Xi says", snippet=body)
    b = ev(publisher="b.com", title="Xi: sanctions will be enforced", snippet=body)
    assert len(stories([a, b])) == 1


def test_a_shared_lede_makes_copies_under_other_headlines_one_story() -> None:
    """An outlet runs a wire story under its own headline: one copy's hit is in its headline
    (the snippet starts with it), the other's in the text; their ledes are the same."""
    lede = (
        "SEOUL, Dec. 2 (Yonhap) -- China will extend its visa-free entry for South Korean "
        "travellers to 30 days from next month, the foreign ministry in Beijing said Wednesday"
    )
    a = ev(publisher="yna.co.kr", title="China extends visa-free entry to 30 days",
           snippet="China extends visa-free entry to 30 days " + lede[:120], lede=lede)  # fmt: skip
    b = ev(publisher="koreatimes.co.kr", title="Longer stays for Korean tourists in China",
           snippet=lede[40:], lede=lede)  # fmt: skip
    assert not same_story(replace(a, lede=""), replace(b, lede=""))
    assert len(stories([a, b])) == 1
    # Another story of the same agency and day shares its dateline, not its lede.
    other = ev(publisher="koreaherald.com", title="North Korea fires a missile into the sea",
               lede="SEOUL, Dec. 2 (Yonhap) -- North Korea fired a short-range ballistic "
               "missile into the East Sea on Wednesday, South Korea's military said")  # fmt: skip
    assert len(stories([a, other])) == 2


def test_one_outlets_boilerplate_lede_joins_none_of_its_stories() -> None:
    """A site slogan (or a cookie notice, a series' introduction) as every item's text: one
    outlet's stories stayed apart, and a copy of a hidden one counted as a second source."""
    slogan = (
        "The Korea Herald, the nation's leading English-language daily, brings you the latest "
        "news on politics, business, culture and North Korea from Seoul and around the world"
    )
    summit = ev(publisher="koreaherald.com", title="Lee meets Xi in Beijing for summit talks",
                lede=slogan, age=3 * HOUR)  # fmt: skip
    visa = ev(publisher="koreaherald.com", title="China extends visa-free entry for Koreans",
              lede=slogan, age=2 * HOUR)  # fmt: skip
    wire = ev(
        publisher="yna.co.kr",
        title="China extends visa-free entry for Koreans",
        lede="SEOUL, Dec. 2 (Yonhap) -- China will extend visa-free entry",
        age=HOUR,
    )
    assert [e.entry_id for e in stories([summit, visa, wire])] == [visa.entry_id, summit.entry_id]


def test_one_publishers_stories_under_one_link_stay_apart_its_copies_do_not() -> None:
    """A feed gives every item its front page as link (the store keeps them apart, by headline
    and text): two of the publisher's stories there are not one story for that link, but a
    copy keeping a story's headline or lede is, and another publisher's item under it too."""
    front = "https://cms.example/"
    visa = ev(publisher="cms.example", title=STORIES[0], link=front, lede="Seoul said visas.")
    other = ev(publisher="cms.example", title=STORIES[2], link=front, lede="A missile flew.")
    assert not same_story(visa, other)
    assert len(stories([visa, other])) == 2
    edited = replace(visa, entry_id=next(_ids), title=STORIES[0].replace("Xi", "Xi Jinping"))
    assert same_story(visa, edited)  # a headline edited over the same lede
    assert same_story(visa, replace(other, publisher="wire.example"))  # another publisher's
    assert len(stories([visa, other, edited])) == 2


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://wire.example/a/visa-1", "HTTPS://Wire.Example/a/visa-1", True),
        ("https://wire.example/a/visa-1", "https://wire.example:443/a/visa-1/", True),
        ("http://wire.example/a?id=7", "HTTP://WIRE.EXAMPLE:80/a?id=7#top", True),
        ("https://bücher.example/a", "https://XN--BCHER-KVA.example/a", True),  # IDNA forms
        ("https://wire.example/a/visa-1", "https://wire.example/A/Visa-1", False),  # the path
        ("https://wire.example/a?id=abc", "https://wire.example/a?id=ABC", False),  # the query
        ("https://wire.example/a", "https://wire.example:8443/a", False),  # another port
        ("http://wire.example/a", "http://wire.example:443/a", False),  # not http's port
    ],
)
def test_copies_under_one_link_are_one_story_whatever_the_case_of_its_host(
    a: str, b: str, same: bool
) -> None:
    """Two feeds carry one story of a publisher (same short headline, their own summaries):
    its link is one link when only the case of the scheme and host, the host's IDNA form or
    a default port differ; a path or a query in another case is another page."""
    first = ev(publisher="wire.example", title="Tour deal", link=a, lede="Seoul agreed.")
    copy = ev(publisher="wire.example", title="Tour deal", link=b, lede="Groups get visas.")
    assert same_story(first, copy) is same
    assert len(stories([first, copy])) == (1 if same else 2)


def test_many_copies_stay_cheap() -> None:
    items = [ev(publisher=f"p{i}.com", age=timedelta(seconds=i)) for i in range(2000)]
    assert len(stories(items)) == 1


def _every_story_compared(evidence: list[Evidence]) -> list[Evidence]:
    """The clustering as DESIGN states it: oldest first, each item compared with the first copy
    of every story found so far."""
    found: list[Evidence] = []
    for item in sorted(evidence, key=lambda e: (e.time, e.entry_id)):
        if not any(_similar(_fingerprint(item), _fingerprint(known)) for known in found):
            found.append(item)
    return sorted(found, key=lambda e: (e.time, e.entry_id), reverse=True)


# Few words, so that random texts overlap a lot; CJK too, whose shingles are bigrams.
_WORDS = st.sampled_from(
    ["china", "korea", "visa", "flights", "seoul", "talks", "중국", "한국", "中国", "签证"]
)
_TEXTS = st.lists(_WORDS, min_size=0, max_size=9).map(" ".join)
_LEDES = st.lists(_WORDS, min_size=0, max_size=14).map(" ".join)  # from 8 shingles: compared


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            _TEXTS, _TEXTS, st.integers(0, 3), st.integers(0, 40), _LEDES, st.sampled_from("ab")
        ),
        min_size=0,
        max_size=30,
    )
)
def test_clustering_through_the_index_equals_comparing_every_story(
    items: list[tuple[str, str, int, int, str, str]],
) -> None:
    evidence = [
        ev(
            title=title,
            snippet=snippet,
            link=f"https://x.example/{link}" if link else "",
            age=timedelta(minutes=minutes),
            lede=lede,
            publisher=f"{publisher}.com",
        )
        for title, snippet, link, minutes, lede, publisher in items
    ]
    assert list(_cluster(evidence)) == _every_story_compared(evidence)


def test_distinct_stories_are_not_each_compared_with_every_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3,200 distinct stories sharing common words: the index compares each with the few that
    share a rare shingle, not with every story found so far (which was 5 million comparisons)."""
    words = [f"w{n}" for n in range(400)]
    evidence = [
        ev(
            title=f"Korea China {words[i % 400]} {words[i * 7 % 400]} {words[i * 13 % 400]} {i}",
            snippet=f"Seoul and Beijing said on day {i} that {words[(i * 31) % 400]} matters",
            link=f"https://x.example/{i}",
            age=timedelta(minutes=i),
        )
        for i in range(3200)
    ]
    compared = 0
    real = stories_module._jaccard

    def counting(a: frozenset[str], b: frozenset[str]) -> float:
        nonlocal compared
        compared += 1
        return real(a, b)

    monkeypatch.setattr(stories_module, "_jaccard", counting)
    assert len(_cluster(evidence)) == 3200
    assert compared < 3200 * 20


def _status(indicator_id: str, status: str) -> Status:
    return Status(indicator_id, status, (), "hash-" + indicator_id)


@pytest.mark.parametrize(
    ("status", "current", "expected_old"),
    [
        pytest.param("pressure:reported", {}, UNKNOWN, id="absent counts as unknown"),
        pytest.param("pressure:confirmed", {"nk": "pressure:reported"}, "pressure:reported"),
        pytest.param("quiet", {"nk": "mixed"}, "mixed", id="back to quiet"),
        pytest.param("unknown", {}, None, id="unknown and absent: nothing"),
        pytest.param("quiet", {}, UNKNOWN, id="absent and now read: quiet is news"),
        pytest.param("mixed", {"nk": "mixed"}, None, id="unchanged: nothing"),
    ],
)
def test_changes(status: str, current: dict[str, str], expected_old: str | None) -> None:
    found = changes([_status("nk", status)], current, now=NOW)
    if expected_old is None:
        assert found == []
        return
    [change] = found
    assert (change.old_status, change.new_status) == (expected_old, status)
    assert change.at == NOW and change.definition_hash == "hash-nk" and not change.replayed


def test_changes_carry_evidence_and_replayed_flag() -> None:
    status = evaluate(INDICATOR, [ev(publisher="a.com")], [healthy()], now=NOW)
    [change] = changes([status], {"nk": "quiet"}, now=NOW, replayed=True)
    assert change.evidence == status.evidence and len(change.evidence) == 1
    assert change.replayed
    assert change.id is None


def _news(count: int) -> list[Evidence]:
    """Evidence with copies of every kind: one link, one headline, near-duplicate snippets."""
    items = []
    for n in range(count):
        story = STORIES[n % len(STORIES)]
        kind = n % 5
        items.append(
            ev(
                publisher=f"p{n % 7}.com",
                title=story if kind < 2 else f"{story} ({n})",
                link=f"https://wire.example/{n % 3}" if kind == 2 else None,
                snippet=f"{story} said officials on day {n % 4}" if kind == 3 else "",
                age=timedelta(minutes=n * 7 % 60 + 1),
            )
        )
    return items


def test_kept_stories_equal_fresh_ones() -> None:
    """Stories are kept per evidence version; equal evidence in new objects, in another order,
    or clustered without the memo, gives the same stories."""
    items = _news(60)
    first = stories(items, key=KEY)
    assert stories(items, key=KEY) == first
    assert stories(list(reversed(items))) == first
    copies = [replace(e) for e in items]
    assert stories(copies, key=KEY) == first
    assert stories(copies) == first
    assert list(_cluster(tuple(items))) == first
    assert 1 < len(first) < len(items)


def test_kept_stories_are_not_taken_for_other_evidence() -> None:
    items = _news(30)
    whole = stories(items, key=KEY)
    assert stories(items[:-1], key=KEY) == list(_cluster(tuple(items[:-1])))
    newer = ev(
        title="Lee and Xi agree on a hotline between defence ministries", age=timedelta(seconds=30)
    )
    assert stories([*items, newer], key=KEY) == [newer, *whole]
    swapped = [*items[:-1], newer]  # as many items, one of them another
    assert stories(swapped, key=KEY) == list(_cluster(tuple(swapped)))
    assert stories(items, key=KEY) == whole


def test_kept_stories_hit_for_equal_evidence_and_miss_for_another_version() -> None:
    """The memo is keyed by the store's evidence version, not by the objects: evidence read
    again into new, equal objects hits; the same objects under a new version miss."""
    items = _news(20)
    _stories_of.cache_clear()
    first = stories(items, key=("store 1", 7))
    assert stories([replace(e) for e in items], key=("store 1", 7)) == first
    assert _stories_of.cache_info().hits == 1
    assert stories(items, key=("store 1", 8)) == first
    assert _stories_of.cache_info().misses == 2


def test_kept_stories_are_bounded() -> None:
    for n in range(STORIES_CACHED + 10):
        stories([ev(age=HOUR * n), ev(age=HOUR * n)])
    info = _stories_of.cache_info()
    assert info.maxsize == STORIES_CACHED and info.currsize <= STORIES_CACHED


def test_evaluate_over_kept_stories_equals_a_fresh_evaluation() -> None:
    balance = [ev(outcome="balance", publisher=f"b{n}.com", title=t) for n, t in enumerate(STORIES)]
    items = _news(40) + balance
    first = evaluate(INDICATOR, items, [healthy()], now=NOW)
    again = evaluate(INDICATOR, items, [healthy()], now=NOW)
    fresh = evaluate(INDICATOR, [replace(e) for e in items], [healthy()], now=NOW)
    kept = evaluate(INDICATOR, items, [healthy()], now=NOW, version=("store", 1))
    copies = [replace(e) for e in items]
    assert evaluate(INDICATOR, copies, [healthy()], now=NOW, version=("store", 1)) == kept
    assert first == again == fresh == kept
    assert first.status == "mixed"


def test_story_keys_stay_those_an_earlier_version_stored() -> None:
    """A store keeps the keys its stories were indexed under: an evaluation must compute the
    same ones (these were computed by the code that first stored them), with and without
    frequent shingles, for English and for Korean text."""
    time = datetime(2026, 1, 5, tzinfo=UTC)
    english = Evidence(
        1,
        "i",
        "o",
        "China backs new UN sanctions on North Korea",
        "https://a.example/1#top",
        "a.example",
        time,
        ("t",),
        "Beijing said it would support a resolution tightening sanctions on Pyongyang",
    )
    korean = Evidence(
        2,
        "i",
        "o",
        "한중 외교장관 회담 개최",
        "https://b.example/2",
        "b.example",
        time,
        ("t",),
        "한국과 중국은 새로운 대화 채널을 출범시키기로 합의했다",
    )
    assert story_keys(english) == (
        4086712227018206812,
        -6751743202983963521,
        -9057203006457808064,
        -7236651464901554187,
        -6221778875390064232,
        -5652516634321923834,
        -4540719550465357704,
        -2932984381980176144,
        -2171500663235455788,
    )
    assert story_keys(
        english, frozenset([-9057203006457808064, -7236651464901554187, -6221778875390064232])
    ) == (
        4086712227018206812,
        -6751743202983963521,
        -5652516634321923834,
        -4540719550465357704,
        -2932984381980176144,
        -2171500663235455788,
        -1615397556850304607,
        -817378966521762187,
        512128044477254962,
    )
    assert story_keys(korean) == (
        -8282624448596192657,
        -1594279961796007941,
        -8059400575539474736,
        -8041566604310168713,
        -6086370865687367600,
        -4460179607114932791,
        -4421086236124242033,
        -4102584105285073844,
        -4055756885264936835,
        -4046644341595595292,
        -2448295909618217824,
        -1027350943683179584,
    )
    assert story_keys(
        korean, frozenset([-8059400575539474736, -8041566604310168713, -6086370865687367600])
    ) == (
        -8282624448596192657,
        -1594279961796007941,
        -4460179607114932791,
        -4421086236124242033,
        -4102584105285073844,
        -4055756885264936835,
        -4046644341595595292,
        -2448295909618217824,
        -1027350943683179584,
        723515366089381735,
        2011370007228043462,
        2195863353399937217,
    )


@pytest.mark.parametrize(
    ("read_ago", "interval", "down"),
    [
        (timedelta(minutes=29), timedelta(minutes=15), False),  # a check is due, not missed
        (timedelta(minutes=30), timedelta(minutes=15), True),  # two intervals without a check
        (timedelta(hours=47), timedelta(days=1), False),  # a daily feed, read yesterday
        (timedelta(minutes=9), timedelta(0), False),  # interval 0s: ten minutes still count
        (timedelta(minutes=10), timedelta(0), True),
    ],
)
def test_a_feed_nobody_read_for_two_intervals_supports_no_status(
    read_ago: timedelta, interval: timedelta, down: bool
) -> None:
    """As while no daemon runs: the readers (the page, the API, `monitor status`) pass the last
    successful read; `feeds_down` then says since when."""
    health = FeedHealth("f1", None, interval, last_read=NOW - read_ago)
    expected = f"feeds not read: f1: not read since {NOW - read_ago:%Y-%m-%d %H:%M} UTC"
    assert feeds_down([health], NOW) == (expected if down else "")
    assert feeds_down([health, healthy("f2")], NOW) == ""  # one feed read is enough


def test_a_feed_unread_for_a_day_stays_unread_when_its_next_check_fails() -> None:
    """The daemon was down (or its host asleep) for a day, and its first check fails: that
    failure, minutes old, does not make the feed support `quiet` again."""
    interval = timedelta(minutes=15)
    after_a_day = FeedHealth("f1", NOW, interval, last_error="boom", last_read=NOW - 24 * HOUR)
    assert feeds_down([after_a_day], NOW) == (
        f"feeds not read: f1: not read since {NOW - 24 * HOUR:%Y-%m-%d %H:%M} UTC (boom)"
    )
    assert down_since([after_a_day], NOW) == NOW - 24 * HOUR + 2 * interval
    # a check missed, then one that failed, as any interval may have: failing, not unread yet
    as_usual = replace(after_a_day, failing_since=NOW - 10 * timedelta(minutes=1),
                       last_read=NOW - 25 * timedelta(minutes=1))  # fmt: skip
    assert feeds_down([as_usual], NOW) == ""
    assert down_since([as_usual], NOW) is None


@pytest.mark.parametrize(
    ("due_ago", "interval", "why"),
    [
        (timedelta(minutes=29), timedelta(minutes=15), "f1: never read yet"),
        (timedelta(minutes=30), timedelta(minutes=15), "f1: never read (not tried since {due})"),
        (timedelta(minutes=9), timedelta(0), "f1: never read yet"),  # ten minutes at least
        (timedelta(minutes=10), timedelta(0), "f1: never read (not tried since {due})"),
    ],
)
def test_a_feed_due_for_two_intervals_and_never_tried_says_since_when(
    due_ago: timedelta, interval: timedelta, why: str
) -> None:
    """A feed given another URL (or new) is due at once; when no check tried it for two
    intervals (its lease held by a process that does not get to it), the reason says so."""
    due = NOW - due_ago
    health = FeedHealth("f1", None, interval, never_read=True, due_at=due)
    assert feeds_down([health], NOW) == "feeds not read: " + why.format(
        due=f"{due:%Y-%m-%d %H:%M} UTC"
    )
    tried = replace(health, failing_since=due, last_error="fetch: HTTP 404 Not Found")
    assert feeds_down([tried], NOW) == "feeds not read: f1: never read (fetch: HTTP 404 Not Found)"


def test_a_failing_feed_says_failing_not_unread() -> None:
    health = FeedHealth("f1", NOW - HOUR, timedelta(minutes=15), last_error="boom",
                        last_read=NOW - 2 * HOUR)  # fmt: skip
    assert feeds_down([health], NOW) == (
        f"feeds not read: f1: failing since {NOW - HOUR:%Y-%m-%d %H:%M} UTC (boom)"
    )


def _shingled_as_defined(text: str) -> frozenset[str]:
    """Word 3-shingles and CJK bigrams of a text, as the module docstring defines them: its
    tokens in one pass of `_TOKEN` over the normalized text (a run of CJK or a word)."""
    tokens = stories_module._TOKEN.findall(normalize(text))
    words = [word for _run, word in tokens if word]
    found = {"\0".join(words[i : i + 3]) for i in range(len(words) - 2)}
    if 0 < len(words) < 3:
        found.add("\0".join(words))
    for run in (run for run, _word in tokens if run):
        found |= {"#\0" + run[i : i + 2] for i in range(len(run) - 1)} | (
            {"#\0" + run} if len(run) == 1 else set()
        )
    return frozenset(found)


# Latin, accented and compatibility forms (ﬁ, Ｋ, ㎏), combining marks, CJK and Hangul, jamo.
_ANY_TEXT = st.text(
    st.sampled_from(
        [*"ab z9_-.\n\t", "ﬁ", "Ｋ", "㎏", "é", "\u0301", "中", "国", "한", "ᄀ", "ᅡ", "ß", "Σ"]
    ),
    max_size=24,
)


@settings(max_examples=500, deadline=None)
@given(_ANY_TEXT, _ANY_TEXT, _ANY_TEXT)
def test_a_fingerprint_shingles_title_and_snippet_as_one_text(
    title: str, snippet: str, lede: str
) -> None:
    """A fingerprint tokenizes the title once (for its key and its shingles) and ASCII text by
    a words-only pattern: its shingles are those of the title + snippet read as one text, its
    title key that of the title's tokens."""
    found = stories_module._fingerprint_of.__wrapped__(title, "", snippet, lede, "a.com")
    assert found.shingles == _shingled_as_defined(title + "\n" + snippet)
    tokens = stories_module._TOKEN.findall(normalize(title))
    long_enough = len(tokens) >= 4 or sum(len(run) for run, _word in tokens) >= 8
    assert found.title == (" ".join(run or word for run, word in tokens) if long_enough else "")
    ledes = _shingled_as_defined(lede)
    assert found.lede == (frozenset("\x01" + s for s in ledes) if len(ledes) >= 8 else frozenset())
