"""Analysts' verdicts through the library, on SQLite and PostgreSQL: a `no` takes an entry out of
an outcome's evidence at once, a `yes` adds one the rule missed, the latest verdict stands, the
change a verdict causes names it, and replays, other processes and restarts see the same."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from monitor import migrate
from monitor.daily import digest_message
from monitor.domain import Definitions, Judgement
from monitor.errors import VerdictError
from monitor.fold import variants
from monitor.pipeline import evaluate_and_record, rematch
from monitor.statuses import evaluate_all, judge
from monitor.store import Store, StoredEntry, metadata, open_store, schema_differences, upgrade
from tests import storeops, webdata
from tests.conftest import ROOT
from tests.webdata import DAY, FLIGHTS, GENERAL, NOW, VISA_HERALD

defs = webdata.defs  # fixture
LATER = NOW + timedelta(minutes=1)


@pytest.fixture
def store(database_url: str, defs: Definitions) -> Iterator[Store]:
    with open_store(database_url) as opened:
        webdata.populate(opened, defs)
        yield opened


def found(store: Store, title: str) -> StoredEntry:
    (hit,) = [s for s in store.search_entries(title) if s.entry.title == title]
    return hit


def status(store: Store, indicator_id: str) -> str:
    return store.current_statuses()[indicator_id][0]


def evidence_ids(defs: Definitions, store: Store, indicator_id: str) -> list[int]:
    (now,) = [s for s in evaluate_all(defs, store, now=LATER) if s.indicator_id == indicator_id]
    return [e.entry_id for e in now.evidence]


# ---------------------------------------------------------------- no and yes


def test_a_no_removes_the_entry_at_once_and_the_change_names_the_verdict(
    store: Store, defs: Definitions
) -> None:
    herald = found(store, VISA_HERALD)
    assert status(store, "visa-easing") == "eased:confirmed"
    assert herald.id in evidence_ids(defs, store, "visa-easing")

    judged = judge(
        defs, store, entry_id=herald.id, target=("visa-easing", "eased"), verdict="no",
        who="cli", note="  not about   Korea ", now=LATER,
    )  # fmt: skip

    reason = f"verdict: no on entry {herald.id} by cli: not about Korea"
    assert judged.verdict.reason == reason and judged.verdict.id is not None
    assert judged.status == "eased:reported" == status(store, "visa-easing")
    assert judged.change is not None and judged.change.reason == reason
    assert herald.id not in [e.entry_id for e in judged.change.evidence]
    assert herald.id not in evidence_ids(defs, store, "visa-easing")
    latest = store.history("visa-easing", limit=1)[0]
    assert (latest.old_status, latest.new_status, latest.reason) == (
        "eased:confirmed",
        "eased:reported",
        reason,
    )
    assert [c.reason for c in store.history("visa-easing")][1:] == ["", ""]  # checks'


def test_a_yes_adds_an_entry_the_rule_missed(store: Store, defs: Definitions) -> None:
    general = found(store, GENERAL)
    assert status(store, "north-korea-stance") == "quiet"

    judged = judge(
        defs, store, entry_id=general.id, target=("north-korea-stance", "balance"),
        verdict="yes", who="api", now=LATER,
    )  # fmt: skip

    assert judged.status == "balance:reported" == status(store, "north-korea-stance")
    assert judged.change is not None
    (item,) = judged.change.evidence
    assert (item.entry_id, item.outcome_id, item.judged, item.terms) == (
        general.id, "balance", Judgement.YES, ()
    )  # fmt: skip
    assert item.title == GENERAL
    recorded = store.history("north-korea-stance", limit=1)[0].evidence[0]
    assert recorded == item  # and so it is stored


def test_the_latest_verdict_stands(store: Store, defs: Definitions) -> None:
    herald = found(store, VISA_HERALD)
    target = ("visa-easing", "eased")
    judge(defs, store, entry_id=herald.id, target=target, verdict="no", who="a", now=LATER)
    again = judge(
        defs, store, entry_id=herald.id, target=target, verdict="yes", who="b",
        now=LATER + timedelta(minutes=1),
    )  # fmt: skip

    assert again.status == "eased:confirmed"
    assert again.change is not None and again.change.reason == (
        f"verdict: yes on entry {herald.id} by b"
    )
    (confirmed,) = [e for e in again.change.evidence if e.entry_id == herald.id]
    assert confirmed.judged == "yes" and confirmed.terms  # still the rule's match, confirmed
    rows = store.verdicts("visa-easing")
    assert [(v.verdict, v.who) for v, _ in rows] == [("yes", "b"), ("no", "a")]  # both kept
    assert [v.verdict for v, _ in store.standing_verdicts()] == ["yes"]


def test_a_verdict_that_changes_no_status_records_no_change(
    store: Store, defs: Definitions
) -> None:
    flights = found(store, FLIGHTS)
    before = len(store.history("flight-routes"))
    judged = judge(
        defs, store, entry_id=flights.id, target=("flight-routes", "expanded"), verdict="yes",
        who="cli", now=LATER,
    )  # fmt: skip
    assert judged.change is None and judged.status == "expanded:reported"
    assert len(store.history("flight-routes")) == before


def test_a_yes_outside_the_window_does_not_count(store: Store, defs: Definitions) -> None:
    old = storeops.add_entries(
        store,
        [webdata.news("yonhap", 9, "Archive story", "https://en.yna.co.kr/9", NOW - 45 * DAY)],
        now=NOW - 45 * DAY,
    )[0][0]
    judged = judge(
        defs, store, entry_id=old, target=("north-korea-stance", "pressure"), verdict="yes",
        who="cli", now=LATER,
    )  # fmt: skip
    assert judged.change is None and judged.status == "quiet"


@pytest.mark.parametrize(
    ("entry", "target", "verdict", "unknown", "message"),
    [
        (None, ("nope", "eased"), "no", "indicator", "verdict: no indicator 'nope'"),
        (None, ("visa-easing", "nope"), "no", "outcome", "has no outcome 'nope' (it has eased)"),
        (None, ("visa-easing", "eased"), "maybe", "verdict", "'maybe' is neither yes nor no"),
        (999_999, ("visa-easing", "eased"), "no", "entry", "verdict: no entry 999999"),
    ],
)
def test_a_bad_verdict_is_refused_and_writes_nothing(
    store: Store,
    defs: Definitions,
    entry: int | None,
    target: tuple[str, str],
    verdict: str,
    unknown: str,
    message: str,
) -> None:
    entry_id = found(store, VISA_HERALD).id if entry is None else entry
    version = store.data_version()
    with pytest.raises(VerdictError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        judge(defs, store, entry_id=entry_id, target=target, verdict=verdict, who="t", now=LATER)
    assert e.value.unknown == unknown
    assert store.data_version() == version and store.verdicts() == []


# ---------------------------------------------------------------- caches, replays, restarts


def test_a_verdict_by_another_store_invalidates_a_kept_evidence_read(
    store: Store, defs: Definitions, database_url: str
) -> None:
    herald = found(store, VISA_HERALD)
    assert herald.id in evidence_ids(defs, store, "visa-easing")  # read and kept
    with open_store(database_url) as other:  # another daemon, or `monitor serve`
        judge(
            defs, other, entry_id=herald.id, target=("visa-easing", "eased"), verdict="no",
            who="api", now=LATER,
        )  # fmt: skip
    assert herald.id not in evidence_ids(defs, store, "visa-easing")
    assert evaluate_and_record(webdata.context(store, defs), now=LATER) == []  # nothing left


def test_a_replay_honours_verdicts(store: Store, defs: Definitions) -> None:
    herald = found(store, VISA_HERALD)
    judge(
        defs, store, entry_id=herald.id, target=("visa-easing", "eased"), verdict="no",
        who="cli", now=LATER,
    )  # fmt: skip
    ctx = webdata.context(store, defs)

    rematch(ctx, NOW - 60 * DAY)  # every match of the stored entries written again
    replayed = evaluate_and_record(ctx, now=LATER, replayed=True)

    assert replayed == []
    assert status(store, "visa-easing") == "eased:reported"
    assert herald.id not in evidence_ids(defs, store, "visa-easing")


def test_judged_entries_are_kept_when_old_unmatched_ones_are_deleted(
    store: Store, defs: Definitions
) -> None:
    general = found(store, GENERAL)  # matched by no rule
    judge(
        defs, store, entry_id=general.id, target=("north-korea-stance", "balance"),
        verdict="yes", who="cli", now=LATER,
    )  # fmt: skip
    storeops.prune(store, LATER, matched_before=LATER)
    assert store.entry(general.id) is not None


def test_a_verdict_survives_a_restart_and_another_process_sees_it(
    store: Store, defs: Definitions, database_url: str
) -> None:
    herald = found(store, VISA_HERALD)
    judge(
        defs, store, entry_id=herald.id, target=("visa-easing", "eased"), verdict="no",
        who="cli", now=LATER,
    )  # fmt: skip
    store.close()
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "history", "visa-easing", "--json", "--limit", "1"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    latest = json.loads(done.stdout.splitlines()[0])
    assert latest["new_status"] == "eased:reported"
    assert latest["reason"].startswith(f"verdict: no on entry {herald.id} by cli")
    with open_store(database_url) as reopened:
        assert herald.id not in evidence_ids(defs, reopened, "visa-easing")
        assert [v.verdict for v, _ in reopened.standing_verdicts()] == ["no"]


# ---------------------------------------------------------------- search


def test_search_finds_entries_by_title_or_text_whatever_the_case(store: Store) -> None:
    assert [s.entry.title for s in store.search_entries("KOREAN AIR")] == [FLIGHTS]
    assert [s.entry.title for s in store.search_entries("seoul welcomes")] == [
        webdata.HOSTILE_TITLE
    ]  # in its text
    assert len(store.search_entries("visa-free", limit=1)) == 1
    assert store.search_entries("100%") == []  # LIKE wildcards are plain characters
    storeops.add_entries(
        store,
        [webdata.news("yonhap", 8, "ÉCLAIR Ünïcode story", "https://e.example/8", NOW)],
        now=NOW,
    )
    assert [s.entry.title for s in store.search_entries("éclair ü")] == ["ÉCLAIR Ünïcode story"]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("签证", ["韓國簽證(放寬) a.b*", "中国对韩国实行免签证政策 KOREA"]),  # Simplified: both
        ("簽證", ["韓國簽證(放寬) a.b*", "中国对韩国实行免签证政策 KOREA"]),  # Traditional: both
        ("韩国实行免簽證", ["中国对韩国实行免签证政策 KOREA"]),  # the scripts mixed
        ("簽证 korea", []),  # no such text: the fold widens no more than the matcher's does
        ("免签证政策 korea", ["中国对韩国实行免签证政策 KOREA"]),  # any case, next to Chinese
        ("國簽證(放寬) A.B*", ["韓國簽證(放寬) a.b*"]),  # brackets, dots and stars as written
        ("国签证(放", ["韓國簽證(放寬) a.b*"]),  # an opened bracket is no error
        ("国签证.放", []),  # a dot is a dot
    ],
)
def test_search_finds_chinese_in_either_script_as_the_matcher_does(
    store: Store, query: str, found: list[str]
) -> None:
    """A rule's term matches Traditional and Simplified text alike (`monitor.fold`); an
    analyst searching for the entry a rule matched, or missed, must find it in either script
    too, on SQLite and PostgreSQL alike. Before, `簽證` found only Traditional headlines."""
    titles = ["中国对韩国实行免签证政策 KOREA", "韓國簽證(放寬) a.b*"]
    storeops.add_entries(
        store,
        [
            webdata.news("yonhap", 20 + n, title, f"https://e.example/{n}", NOW + n * DAY)
            for n, title in enumerate(titles)
        ],
        now=NOW,
    )
    assert [s.entry.title for s in store.search_entries(query)] == found


def test_a_long_chinese_search_is_no_error(store: Store) -> None:
    """`monitor search` takes a query of any length (GET /entries at most 200 characters): a
    query of a thousand Chinese characters that have two forms is no SQL too deep for SQLite."""
    chars = (chr(code) for code in range(0x4E00, 0xA000))
    long = "".join(itertools.islice((c for c in chars if len(variants(c)) > 1), 1200))
    title = f"长 {long} 长"
    storeops.add_entries(
        store, [webdata.news("yonhap", 30, title, "https://e.example/30", NOW)], now=NOW
    )
    assert [s.entry.title for s in store.search_entries(long)] == [title]


# ---------------------------------------------------------------- the migration


def test_0003_adds_verdicts_and_keeps_recorded_changes(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            migrate.upgrade(conn, metadata, "0002")
            conn.execute(
                text(
                    "INSERT INTO status_change (indicator_id, at, old_status, new_status, "
                    "evidence, definition_hash, replayed) VALUES ('v', :at, 'quiet', "
                    "'eased:reported', '[]', 'h', false)"
                ),
                {"at": "2026-01-01 00:00:00.000000" if "sqlite" in empty_database_url else NOW},
            )
    finally:
        engine.dispose()

    assert upgrade(empty_database_url) == ("0002", migrate.head())

    assert schema_differences(empty_database_url) == []
    with open_store(empty_database_url) as opened:
        (kept,) = opened.history("v")
        assert (kept.new_status, kept.reason) == ("eased:reported", "")
        assert opened.verdicts() == []


def test_the_digest_says_which_verdict_changed_a_status(store: Store, defs: Definitions) -> None:
    herald = found(store, VISA_HERALD)
    judge(
        defs, store, entry_id=herald.id, target=("visa-easing", "eased"), verdict="no",
        who="cli", note="a tour-group story", now=LATER,
    )  # fmt: skip
    settings = webdata.settings(timezone="UTC")

    message = digest_message(defs, store, settings, day=(LATER + DAY).date(), now=LATER + DAY)

    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    reason = f"verdict: no on entry {herald.id} by cli: a tour-group story"
    assert f"because {reason}" in " ".join(text.split())
    assert f'because <span dir="auto">{reason}</span>' in html


def test_two_verdicts_at_once_through_two_stores_end_in_the_status_of_both(
    store: Store, defs: Definitions, database_url: str
) -> None:
    """Each verdict's change is compare-and-set: whichever order the two take, the recorded
    history is one chain and ends in the status both verdicts make."""
    ids = [found(store, VISA_HERALD).id, found(store, webdata.HOSTILE_TITLE).id]
    start = threading.Barrier(2)

    def verdict(entry: int) -> None:
        with open_store(database_url) as own:
            start.wait(60)  # a hang guard: both threads reach it however loaded the machine
            judge(
                defs, own, entry_id=entry, target=("visa-easing", "eased"), verdict="no",
                who=f"analyst-{entry}", now=LATER,
            )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(verdict, ids))

    assert status(store, "visa-easing") == "quiet"
    chain = list(reversed(store.history("visa-easing")))
    assert all(a.new_status == b.old_status for a, b in itertools.pairwise(chain))
    assert chain[-1].new_status == "quiet" and chain[-1].reason is not None
