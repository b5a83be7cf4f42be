"""The digest and analysts' verdicts, from SQLite and PostgreSQL through a real SMTP server
(aiosmtpd): a piece of evidence an analyst judged `no` after the change that listed it is
marked so under that change, in both parts, and the day's verdicts are listed in a section
of their own (who, INDICATOR:OUTCOME, the headline, yes or no, the note, whether it moved the
status), also a `no` that moved none; a busy day's list is capped as evidence is."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from monitor import columns
from monitor.daily import send_daily_digest
from monitor.digest import TEXT_WIDTH, render, sent_size
from monitor.digestinput import DayVerdict
from monitor.digestview import VERDICTS_LISTED
from monitor.domain import Definitions, Judgement, Verdict
from monitor.match.judged import JudgedSince
from monitor.pipeline import evaluate_and_record, prepare, store_entries
from monitor.silences import Silence
from monitor.statuses import judge
from monitor.store import Store, open_store
from tests import webdata
from tests.readfeeds import read_once
from tests.smtpserver import running_smtp_server
from tests.test_digest import sample

defs = webdata.defs  # fixture
DAY = date(2026, 3, 10)
T0 = datetime.combine(DAY, time(0), UTC)  # where the digest's span begins
HERALD = webdata.VISA_HERALD
YONHAP = "Chinese tour groups to get visa-free entry to Seoul from May"
SCMP = "China and South Korea agree visa-free travel for group tourists"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@contextlib.contextmanager
def visa_eased(database_url: str, defs: Definitions, *more: Any) -> Iterator[Store]:
    """Visa easing confirmed at 01:00 by three publishers, after the digest of the day before
    went out at 00:00; `more` news (`webdata.news`) stored with theirs."""
    with open_store(database_url) as opened:
        ctx = webdata.context(opened, defs)
        prepare(ctx, now=at(-48))
        read_once(ctx, now=at(-48))
        evaluate_and_record(ctx, now=at(-48))
        assert opened.claim_digest(DAY - timedelta(days=1), owner="test", now=at(0))
        opened.mark_digest_sent(DAY - timedelta(days=1), at(0))
        news = [
            webdata.news("herald", 11, HERALD, "https://www.koreaherald.com/article/11", at(0.5)),
            webdata.news("yonhap", 12, YONHAP, "https://en.yna.co.kr/view/AEN12", at(0.6)),
            webdata.news("yonhap", 13, SCMP, "https://www.scmp.com/news/13", at(0.7)),
            *more,
        ]
        store_entries(ctx, news, now=at(1))
        evaluate_and_record(ctx, now=at(1))
        assert opened.current_statuses()["visa-easing"][0] == "eased:confirmed"
        yield opened


@pytest.fixture
def store(database_url: str, defs: Definitions) -> Iterator[Store]:
    with visa_eased(database_url, defs) as opened:
        yield opened


def entry(store: Store, title: str) -> int:
    (hit,) = [s for s in store.search_entries(title) if s.entry.title == title]
    return hit.id


def sent(defs: Definitions, store: Store, tmp_path: Path) -> EmailMessage:
    with running_smtp_server() as smtp:
        settings = webdata.settings(
            smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
            digest_to=["reader@example.org"], digest_time=time(7, 0), timezone="UTC",
            outbox_dir=tmp_path / "outbox",
        )  # fmt: skip
        assert send_daily_digest(defs, store, settings, day=DAY, now=at(7), owner="t").sent
        (received,) = smtp.messages
    return received.message


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


def joined(text: str) -> str:
    return " ".join(text.split())


def test_a_no_after_the_change_marks_its_piece_and_the_days_verdicts_are_listed(
    defs: Definitions, store: Store, tmp_path: Path
) -> None:
    herald, yonhap = entry(store, HERALD), entry(store, YONHAP)
    kept = judge(
        defs, store, entry_id=herald, target=("visa-easing", "eased"), verdict="no",
        who="ana", note="a tour-group story, not visas", now=at(2),
    )  # fmt: skip
    assert kept.change is None  # two publishers still confirm it: no status moved
    moved = judge(
        defs, store, entry_id=yonhap, target=("visa-easing", "eased"), verdict="no",
        who="bo", now=at(3),
    )  # fmt: skip
    assert moved.change is not None and moved.status == "eased:reported"

    text, html = parts(sent(defs, store, tmp_path))

    changed = text.split("WHAT CHANGED")[1].split("ANALYSTS' VERDICTS")[0]
    first = changed.split("* Visa easing")[1].split("* Visa easing")[0]  # quiet -> confirmed
    assert "quiet → eased — confirmed" in first
    for title, mark in (
        (HERALD, "✗ judged not relevant by ana at 2026-03-10 02:00 UTC"),
        (YONHAP, "✗ judged not relevant by bo at 2026-03-10 03:00 UTC"),
    ):
        piece = joined(first.split(title)[1].split("    - ")[0])
        assert mark in piece
    assert "judged not relevant" not in first.split(SCMP)[1].split("    - ")[0]

    verdicts = joined(text.split("ANALYSTS' VERDICTS")[1].split("STANDING STATUS")[0])
    assert (
        f"* no (not relevant) for visa-easing:eased, by ana at 2026-03-10 02:00 UTC"
        f' on entry {herald}: {HERALD} "a tour-group story, not visas" moved no status'
        f" * no (not relevant) for visa-easing:eased, by bo at 2026-03-10 03:00 UTC"
        f" on entry {yonhap}: {YONHAP} moved the status to eased — reported"
    ) in verdicts
    assert all(columns.width(line) <= TEXT_WIDTH for line in text.splitlines())

    assert html.count('data-not-relevant="1"') == 2
    assert "judged not relevant by ana at 2026-03-10 02:00 UTC</strong>" in html
    section = html.split("Analysts' verdicts</h2>")[1].split("</ul>")[0]
    assert section.count('data-verdict="no"') == 2
    assert "a tour-group story, not visas" in section and "moved no status" in section
    assert "moved the status to eased — reported" in section


def test_a_day_without_verdicts_has_no_such_section(
    defs: Definitions, store: Store, tmp_path: Path
) -> None:
    text, html = parts(sent(defs, store, tmp_path))

    assert "VERDICTS" not in text and "verdicts</h2>" not in html
    assert "judged not relevant" not in text + html


def test_a_no_then_a_yes_the_same_day_leaves_the_piece_unmarked_the_yes_stands(
    defs: Definitions, store: Store, tmp_path: Path
) -> None:
    herald = entry(store, HERALD)
    for verdict, hours in (("no", 2), ("yes", 3)):
        judge(
            defs, store, entry_id=herald, target=("visa-easing", "eased"), verdict=verdict,
            who="ana", now=at(hours),
        )  # fmt: skip

    text, html = parts(sent(defs, store, tmp_path))

    assert "judged not relevant" not in text + html  # the yes stands
    verdicts = joined(text.split("ANALYSTS' VERDICTS")[1].split("STANDING STATUS")[0])
    assert verdicts.count(f"on entry {herald}: {HERALD}") == 2
    assert "* yes (confirmed) for visa-easing:eased, by ana" in verdicts


def test_a_busy_days_verdicts_are_capped_and_counted_with_where_to_read_them() -> None:
    verdicts = tuple(
        DayVerdict(
            Verdict(
                100 + n,
                "nk",
                "pressure",
                Judgement.NO,
                "ana",
                datetime(2026, 1, 6, 3, n, tzinfo=UTC),
            ),
            f"Headline {n}",
        )
        for n in range(VERDICTS_LISTED + 3)
    )
    text, html = render(dataclasses.replace(sample(), verdicts=verdicts))

    listed = text.split("ANALYSTS' VERDICTS")[1].split("STANDING STATUS")[0]
    assert listed.count("* no (not relevant)") == VERDICTS_LISTED
    assert (
        f"Headline {VERDICTS_LISTED - 1}" in listed and f"Headline {VERDICTS_LISTED}" not in listed
    )
    total = VERDICTS_LISTED + 3
    assert f"- and 3 more: see `monitor verdict list --limit {total}`" in listed
    assert (
        f'data-more-verdicts="3">and 3 more: see <code>monitor verdict list --limit {total}</code>'
        in html
    )
    assert html.count('data-verdict="no"') == VERDICTS_LISTED


def test_a_standing_status_that_refers_back_counts_the_pieces_judged_no_since(
    defs: Definitions, store: Store, tmp_path: Path
) -> None:
    """The change lists three pieces; two are judged `no` since, so the standing status's
    evidence is one: its line back to that change says the other two, or "1 piece listed
    above" would sit under a change that lists three."""
    for n, title in enumerate((HERALD, YONHAP)):
        judge(
            defs, store, entry_id=entry(store, title), target=("visa-easing", "eased"),
            verdict="no", who="ana", now=at(2 + n),
        )  # fmt: skip

    text, html = parts(sent(defs, store, tmp_path))

    standing = text.split("STANDING STATUS")[1].split("* Visa easing")[1].split("\n\n")[0]
    assert (
        "(1 piece of evidence listed under What changed, above; 2 more listed there were"
        " judged not relevant since)"
    ) in joined(standing)
    assert (
        "1 piece of evidence listed under What changed; 2 more listed there were judged not"
        ' relevant since — <a href="#change-1-visa-easing"'
    ) in html


def test_a_standing_status_whose_every_piece_was_judged_no_says_so() -> None:
    good, hostile = sample().changes[0].evidence
    judged = {
        (e.entry_id, e.outcome_id): JudgedSince("ana", datetime(2026, 1, 6, 5, tzinfo=UTC), "")
        for e in (good, hostile)
    }
    data = sample(judged=(judged,))
    lines = tuple(dataclasses.replace(v, evidence=(), evidence_count=0) for v in data.indicators)
    text, html = render(dataclasses.replace(data, indicators=lines))

    standing = joined(text.split("STANDING STATUS")[1].split("Taiwan")[0])
    assert (
        "(2 pieces of evidence listed under What changed, above, were judged not relevant since)"
    ) in standing
    assert "2 pieces of evidence listed under What changed were judged not relevant since" in html


def test_over_the_budget_the_verdicts_are_counted_before_any_evidence_is_cut() -> None:
    verdicts = tuple(
        DayVerdict(
            Verdict(
                100 + n,
                "nk",
                "pressure",
                Judgement.YES,
                "ana",
                datetime(2026, 1, 6, 3, n, tzinfo=UTC),
            ),
            f"Headline {n} " + "seoul beijing " * 20,
        )
        for n in range(VERDICTS_LISTED + 3)
    )
    data = dataclasses.replace(sample(), verdicts=verdicts)
    whole = render(data)
    assert "A busy day" not in whole[0] and whole[0].count("* yes (confirmed)") == VERDICTS_LISTED

    text, html = render(data, budget=max(map(sent_size, whole)) - 1)

    assert max(map(sent_size, (text, html))) < max(map(sent_size, whole))
    assert "(confirmed)" not in text + html
    said = joined(text)
    assert (
        "each change lists at most 5 pieces of evidence and each standing status at most 3" in said
    )
    assert "the analysts' verdicts are only counted; the rest are counted" in said
    assert "13 verdicts given: see `monitor verdict list --limit 13`" in said
    assert (
        'data-more-verdicts="13">13 verdicts given: see'
        " <code>monitor verdict list --limit 13</code>" in html
    )


def test_a_verdict_whose_change_a_silence_holds_back_says_so_with_until_when(
    defs: Definitions, store: Store, tmp_path: Path
) -> None:
    """The change the `no` caused is held back by a silence that ends after the digest: the
    verdict's line says so, as the digest says of held-back changes, not that it moved the
    status (which readers would look for under What changed, in vain)."""
    store.add_silence(Silence("visa-easing", None, "state visit", "ana", at(1.5), at(30)))
    for n, title in enumerate((HERALD, YONHAP)):
        judge(
            defs, store, entry_id=entry(store, title), target=("visa-easing", "eased"),
            verdict="no", who="ana", now=at(2 + n),
        )  # fmt: skip
    assert store.current_statuses()["visa-easing"][0] == "eased:reported"

    text, html = parts(sent(defs, store, tmp_path))

    assert "1 change held back by the silences below" in joined(text)
    verdicts = joined(text.split("ANALYSTS' VERDICTS")[1].split("SILENCED")[0])
    held = (
        "its change to eased — reported is held back by a silence until 2026-03-11 06:00 UTC;"
        " listed in the digest after it ends"
    )
    assert f"on entry {entry(store, YONHAP)}: {YONHAP} {held}" in verdicts
    assert "moved the status" not in verdicts and "moved no status" in verdicts
    assert held in html and "moved the status" not in html
    assert all(columns.width(line) <= TEXT_WIDTH for line in text.splitlines())
