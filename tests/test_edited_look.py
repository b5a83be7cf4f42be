"""An indicator's rule edited while its evidence is stored: at the reload (or the next check)
the stored entries inside its window are matched against the edited rule, so a false positive
the edit rules out stops counting at once, and a stored article a broadened rule matches counts,
without waiting for `monitor replay`. Feeds on 127.0.0.1, the store on SQLite and PostgreSQL,
real cycles at a fixed clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from monitor.daemon import Daemon, Stopping
from monitor.definitions import load_definitions
from monitor.domain import Definitions, Judgement, Verdict
from monitor.match import Matcher
from monitor.pipeline import Context, LookStopped, first_look, prepare, run_cycle
from monitor.settings import Settings
from monitor.statuses import NOT_LOOKED_AGAIN, pending_changes
from monitor.store import Store, open_store
from monitor.views import indicator_views
from tests import storeops
from tests.feedserver import FeedServer
from tests.news import Item, rss
from tests.test_feed_lock_order import Call, until_waiting
from tests.twofeeds import context

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
EDITED_AT = NOW + timedelta(minutes=20)  # the file is saved, the daemon reloads
EDITED = "definition edited (visa.yaml)"

WIRE = Item("Seoul and Beijing agree visa waiver for tour groups", "https://wire.example.com/1",
            NOW - timedelta(days=2))  # fmt: skip
SCAM = Item("Police warn of visa waiver scam texts", "https://police.example.net/2",
            NOW - timedelta(days=1))  # fmt: skip  # the false positive
OLD_SCAM = Item("Visa waiver scam hits travellers", "https://scams.example.org/3",
                NOW - timedelta(days=40))  # fmt: skip  # one outside the 30-day window
EASED = Item("Japan eases visa rules for Korean tourists", "https://news.example.jp/4",
             NOW - timedelta(days=1))  # fmt: skip  # what a broadened rule finds
LOCAL = Item("Busan port sees visa waiver tourists return", "https://local.example.org/5",
             NOW - timedelta(days=1))  # fmt: skip
OTHER = Item("Tokyo visa waiver talks stall", "https://other.example.org/6",
             NOW - timedelta(days=1))  # fmt: skip

RULE = "{any: [visa waiver]}"
NARROWED = "{any: [visa waiver], none: [scam]}"
BROADENED = "{any: [visa waiver, visa rules]}"
INDICATOR = """\
id: visa
group: Tests
title: Visas
question: Is there a visa waiver?
feeds: {{ids: [a]}}
window: 30d
outcomes:
  - id: waived
    label: A visa waiver
    corroborate: 2
    rule: {rule}
"""


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with open_store(database_url) as opened:
        yield opened


def definitions(folder: Path, url: str, rule: str = RULE) -> Definitions:
    """indicators/visa.yaml with `rule`, reading feed a at `url`."""
    (folder / "indicators").mkdir(exist_ok=True)
    (folder / "indicators" / "visa.yaml").write_text(INDICATOR.format(rule=rule))
    (folder / "feeds.yaml").write_text(f"feeds:\n  - {{id: a, url: '{url}'}}\n")
    return load_definitions(folder / "indicators", folder / "feeds.yaml")


def stored(tmp_path: Path, feed_server: FeedServer, store: Store, *items: Item) -> Context:
    """Feed a carrying `items`, read by a check at NOW with the first rule."""
    feed_server.route("/a.xml", body=rss("A", list(items)))
    ctx = context(definitions(tmp_path, feed_server.url("/a.xml")), store, now=NOW)
    run_cycle(ctx, now=NOW)
    return ctx


def edited(ctx: Context, folder: Path, rule: str) -> Context:
    """The context of the definitions with the rule edited (not prepared yet)."""
    found = definitions(folder, ctx.definitions.feeds[0].url, rule)
    return replace(ctx, definitions=found, matcher=Matcher(found.indicators))


def shown(ctx: Context, store: Store, now: datetime = EDITED_AT) -> tuple[str, set[str], str]:
    """visa's status on the page, the links of its evidence and why (an unknown's)."""
    (view,) = indicator_views(ctx.definitions, store, now=now)
    return view.status, {e.link for e in view.evidence}, view.reason


def history(store: Store) -> list[tuple[str, str, str]]:
    return [(c.old_status, c.new_status, c.reason or "") for c in reversed(store.history("visa"))]


def entry_id(store: Store, item: Item) -> int:
    return next(i for i, e, _seen in store.entries_since(NOW - timedelta(days=60))
                if e.link == item.link)  # fmt: skip


def test_a_rule_edited_to_rule_out_a_stored_false_positive_turns_the_status_back(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """The analyst saw the scam warning counted as a visa waiver and ruled it out: at the
    reload the status is what the wire story alone gives, and says the edit moved it. It
    stayed `confirmed` on the very evidence the new rule rejects until a replay."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, OLD_SCAM)
    assert shown(ctx, store, NOW)[:2] == ("waived:confirmed", {WIRE.link, SCAM.link})

    prepare(edited(ctx, tmp_path, NARROWED), now=EDITED_AT)

    assert history(store)[1:] == [("waived:confirmed", "waived:reported", EDITED)]
    assert shown(edited(ctx, tmp_path, NARROWED), store) == ("waived:reported", {WIRE.link}, "")
    # Outside the window the matches stay as they were: the old scam story keeps its match.
    older = storeops.evidence(store, ["visa"], NOW - timedelta(days=60))["visa"]
    assert {e.link for e in older} == {WIRE.link, OLD_SCAM.link}


def test_a_rule_broadened_finds_the_stored_article_it_matches_now(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    ctx = stored(tmp_path, feed_server, store, WIRE, EASED)
    assert history(store) == [("unknown", "waived:reported", "")]

    prepare(edited(ctx, tmp_path, BROADENED), now=EDITED_AT)

    assert history(store)[1:] == [("waived:reported", "waived:confirmed", EDITED)]
    assert shown(edited(ctx, tmp_path, BROADENED), store)[:2] == (
        "waived:confirmed", {WIRE.link, EASED.link},
    )  # fmt: skip


def test_analysts_verdicts_stand_through_the_edit(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """A `yes` keeps its entry as evidence though the edited rule no longer matches it, and a
    `no` keeps out one it still matches, as on a replay: the verdicts are the analysts', the
    matches the rule's."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, LOCAL, OTHER)
    for item, verdict in ((LOCAL, Judgement.YES), (OTHER, Judgement.NO)):
        store.add_verdict(Verdict(entry_id(store, item), "visa", "waived", verdict, "ana", NOW))
    run_cycle(ctx, now=NOW + timedelta(minutes=1))
    assert shown(ctx, store, NOW)[1] == {WIRE.link, SCAM.link, LOCAL.link}

    narrowed = edited(ctx, tmp_path, "{any: [visa waiver], none: [scam, port]}")
    prepare(narrowed, now=EDITED_AT)

    # LOCAL ("port") and SCAM no longer match; OTHER does. LOCAL's yes and OTHER's no stand.
    assert shown(narrowed, store) == ("waived:confirmed", {WIRE.link, LOCAL.link}, "")


def test_the_readers_say_unknown_until_the_edit_is_looked_at(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """Between the file saved and the reload (`monitor serve` alone, until the next check),
    the page does not claim a status the edited rule has not been matched against the stored
    news for, nor does a read-only command claim the check would record `unknown`."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM)
    narrowed = edited(ctx, tmp_path, NARROWED)

    assert shown(narrowed, store) == ("unknown", {WIRE.link, SCAM.link}, NOT_LOOKED_AGAIN)
    assert pending_changes(narrowed.definitions, store, now=EDITED_AT) == []

    prepare(narrowed, now=EDITED_AT)
    assert shown(narrowed, store) == ("waived:reported", {WIRE.link}, "")


def test_the_look_is_taken_once_and_logged(
    tmp_path: Path, feed_server: FeedServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, EASED)
    narrowed = edited(ctx, tmp_path, "{any: [visa waiver, tour groups], none: [scam]}")

    with caplog.at_level("INFO", logger="monitor.pipeline"):
        assert first_look(narrowed, now=EDITED_AT) == 2  # SCAM's taken back, WIRE's rewritten
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("look again")]
    assert lines == [
        "look again: 3 stored entries matched against 1 indicator edited since their last "
        "evaluation (visa): 1 match inside the window (0 added, 1 deleted, 1 rewritten)"
    ]
    assert first_look(narrowed, now=EDITED_AT) == 0  # not evaluated yet: nothing more to write
    prepare(narrowed, now=EDITED_AT)
    assert first_look(narrowed, now=EDITED_AT + timedelta(minutes=1)) == 0  # evaluated

    (wire,) = storeops.evidence(store, ["visa"], NOW - timedelta(days=30))["visa"]
    assert (wire.link, set(wire.terms)) == (WIRE.link, {"visa waiver", "tour groups"})
    assert history(store)[1:] == [("waived:confirmed", "waived:reported", EDITED)]


def test_nothing_is_looked_at_while_a_replay_holds_the_matches(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """A replay rewriting the matches (or stopped half way) has them half old and half new:
    the look leaves them to it, as the evaluations do; once it is done, the next look is
    taken."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM)
    narrowed = edited(ctx, tmp_path, NARROWED)
    store.begin_replay(NOW, owner="replay elsewhere", now=EDITED_AT, lease=timedelta(minutes=2))

    assert first_look(narrowed, now=EDITED_AT) == 0
    prepare(narrowed, now=EDITED_AT)
    found = storeops.evidence(store, ["visa"], NOW - timedelta(days=30))["visa"]
    assert {e.link for e in found} == {WIRE.link, SCAM.link}
    assert history(store)[1:] == []

    store.end_replay(owner="replay elsewhere")
    prepare(narrowed, now=EDITED_AT + timedelta(minutes=1))
    assert history(store)[1:] == [("waived:confirmed", "waived:reported", EDITED)]


@pytest.mark.postgres
def test_daemons_reloading_the_same_edit_look_once_between_them(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    """Several daemons sharing PostgreSQL reload the same edit at once: their looks wait for
    one another (each takes the evaluations' lock first, as a replay and the evaluations do:
    no deadlock), and the second finds the matches as the first wrote them."""
    plain = postgres_url.replace("+psycopg", "")
    with (
        open_store(postgres_url) as one,
        open_store(postgres_url) as two,
        psycopg.connect(plain, autocommit=True) as watch,
        psycopg.connect(plain) as gate,
    ):
        ctx = stored(tmp_path, feed_server, one, WIRE, SCAM, EASED)
        narrowed = edited(ctx, tmp_path, NARROWED)
        gate.execute("SELECT value FROM counter WHERE name = 'evaluated' FOR UPDATE")
        start = threading.Barrier(2)

        def look(store: Store) -> int:
            start.wait()
            return first_look(replace(narrowed, store=store), now=EDITED_AT)

        looks = [Call(lambda: look(one)), Call(lambda: look(two))]
        until_waiting(watch, 2, looks[1])
        assert all(c.thread.is_alive() for c in looks), "looked while an evaluation held them"
        gate.rollback()
        assert sorted(c.outcome() for c in looks) == [0, 1]  # type: ignore[type-var]

        found = storeops.evidence(one, ["visa"], NOW - timedelta(days=30))["visa"]
        assert {e.link for e in found} == {WIRE.link}


def test_a_look_leaves_the_matches_of_entries_it_did_not_read(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """An entry stored after the look read the window (by a cycle of another daemon, matched
    as it came) keeps its matches: the look rewrites only those of the entries it matched."""
    stored(tmp_path, feed_server, store, WIRE, SCAM)
    wire, scam = entry_id(store, WIRE), entry_id(store, SCAM)

    looked = store.look([wire], [], {"visa": NOW - timedelta(days=30)}, {"visa": "edited"})

    assert looked is not None and looked.deleted == {"visa": 1}
    found = storeops.evidence(store, ["visa"], NOW - timedelta(days=30))["visa"]
    assert [e.entry_id for e in found] == [scam]


def stopped_after_a_page(store: Store, stop: Callable[[], None]) -> list[int]:
    """`store`'s pages of stored entries, each read as usual, then `stop()` (SIGTERM comes)
    once the first is read; returns the sizes of the pages read."""
    read = store.entries_since
    pages: list[int] = []

    def entries_since(*args: Any, **kwargs: Any) -> Any:
        page = read(*args, **kwargs)
        pages.append(len(page))
        if len(pages) == 1:
            stop()
        return page

    store.entries_since = entries_since  # type: ignore[method-assign]
    return pages


def test_a_stop_ends_a_look_between_its_pages_writing_nothing(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """SIGTERM during a long look (an edited indicator with a wide window over a large store)
    no longer waits for the whole look: it ends after the page it reads, and since the look
    writes in one transaction at its end, nothing of it is written; the next start looks
    again."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM, OLD_SCAM)
    stop = threading.Event()
    narrowed = replace(edited(ctx, tmp_path, NARROWED), stop=stop)
    pages = stopped_after_a_page(store, stop.set)

    with pytest.raises(LookStopped, match=r"^visa: stopped after 1 stored entries read; nothing"):
        first_look(narrowed, now=EDITED_AT, batch=1)

    assert pages == [1]  # the other pages were not read
    found = storeops.evidence(store, ["visa"], NOW - timedelta(days=30))["visa"]
    assert {e.link for e in found} == {WIRE.link, SCAM.link}  # the matches as they were
    assert store.evaluated_with()["visa"] != narrowed.definitions.indicator("visa").hash
    assert shown(narrowed, store)[0] == "unknown"  # not looked at again yet, and says so
    stop.clear()
    prepare(narrowed, now=EDITED_AT)  # the next start
    assert history(store)[1:] == [("waived:confirmed", "waived:reported", EDITED)]


def test_a_daemon_stopped_during_its_start_up_look_abandons_it(
    tmp_path: Path, feed_server: FeedServer, store: Store
) -> None:
    """The daemon's start-up (and a reload) takes a stop during the look as a unit of work
    abandoned (`Stopping`), which ends the daemon as a stop before its start-up does."""
    ctx = stored(tmp_path, feed_server, store, WIRE, SCAM)
    narrowed = edited(ctx, tmp_path, NARROWED)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, indicators_dir=tmp_path / "indicators", feeds_file=tmp_path / "feeds.yaml",
        outbox_dir=tmp_path / "outbox", check_jitter=0,
    )  # fmt: skip
    daemon = Daemon(settings, store, narrowed.definitions, clock=lambda: EDITED_AT, owner="t")
    stopped_after_a_page(store, daemon.stop)

    with pytest.raises(Stopping, match=r"^looking at the stored news: visa: stopped after "):
        daemon.start()

    found = storeops.evidence(store, ["visa"], NOW - timedelta(days=30))["visa"]
    assert {e.link for e in found} == {WIRE.link, SCAM.link}
    assert history(store)[1:] == []
