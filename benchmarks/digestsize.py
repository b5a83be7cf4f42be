"""How big the daily digest gets: `python -m benchmarks.digestsize [--database URL] [--json]`.

A busy day built on a real store with the product's own code, then its digest as the daemon
builds it (`daily.digest_input`, `digest.build_digest`), and the quiet day after it. The busy
day: the shipped indicators over the shipped feeds and 40 more; every indicator changes two or
three times (its first outcome reported by one publisher, then confirmed by many, then for one
with a second outcome that one confirmed too: mixed), each change with 20 to 50 articles of
distinct publishers whose headlines and ledes are Chinese and Korean around the words of its
definition's examples; 30 feeds with a problem (failing, dead, rate limited, read with a
warning, stale), two silences in force and a few analysts' verdicts. The quiet day: the next
one, every feed read and nothing new. Prints the sizes of each digest's text and HTML parts
(UTF-8 bytes, as a mail client shows them), of the HTML part as sent (what the budget counts:
Gmail clips an HTML part over about 102 KB) and of the message as sent (each part in
quoted-printable or base64, whichever is smaller: `digest.transfer_encoding`). A measurement,
not a target: tests/test_digest_size.py holds the budget. Deterministic: the same figures on
every run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cycle import Context
from monitor.daily import digest_input, slot
from monitor.definitions import load_definitions
from monitor.digest import build_digest, sent_size
from monitor.domain import Definitions, Entry, Indicator
from monitor.fetch import FetchLimits
from monitor.match import Matcher
from monitor.pipeline import evaluate_and_record, prepare, store_entries
from monitor.silences import Silence
from monitor.statuses import judge
from monitor.store import Cycle, FetchRecord, Store, open_store

ROOT = Path(__file__).resolve().parents[1]
ZONE = "Asia/Seoul"
DIGEST_TIME = time(7, 0)
BUSY_DAY = date(2026, 12, 8)  # its digest lists the changes of the 24 hours before 07:00 KST
PUBLIC_URL = "https://monitor.example.org/"
EXTRA_FEEDS = 40
PROBLEM_FEEDS = 30
ARTICLES = (20, 50)  # articles per change, at least and at most
PUBLISHERS = [
    f"{name}.{tld}"
    for tld in ("co.kr", "com.cn", "co.jp", "com")
    for name in (
        "yna", "hani", "joongang", "chosun", "donga", "khan", "mk", "hankyung", "seoul",
        "xinhua", "people", "chinadaily", "globaltimes", "caixin", "thepaper", "sina",
        "nikkei", "asahi", "mainichi", "yomiuri", "kyodo", "scmp", "reuters", "apnews",
    )
]  # fmt: skip
CHINESE = (
    "中韩两国外长在北京举行会谈，双方就半岛局势和经贸合作深入交换意见。",
    "据消息人士透露，两国有关部门正在加紧磋商，预计将于近期公布具体方案。",
    "分析人士认为，此举标志着双边关系进入新的阶段，但仍面临诸多不确定因素。",
    "商务部发言人在例行记者会上表示，中方愿同韩方一道推动供应链稳定畅通。",
    "记者从相关部门获悉，具体细节将在下周的发布会上公布。",
)
KOREAN = (
    "한중 양국은 이날 서울에서 고위급 회담을 열고 경제 협력 방안을 논의했다.",
    "정부 관계자는 구체적인 일정은 아직 확정되지 않았다고 밝혔다.",
    "전문가들은 이번 합의가 양국 관계 개선의 신호탄이 될 수 있다고 평가했다.",
    "업계에서는 후속 조치가 나오기까지 시간이 걸릴 것이라는 전망이 나온다.",
    "관련 부처는 다음 주 브리핑에서 세부 내용을 공개할 예정이다.",
)


@dataclass(frozen=True)
class Sizes:
    """One digest's parts, in bytes: `text` and `html` as UTF-8, `message` as sent."""

    text: int
    html: int
    message: int
    changes: int
    problems: int
    html_sent: int = 0  # the HTML part's body as sent (`digest.sent_size`)

    def as_dict(self) -> dict[str, int]:
        return {
            "text_bytes": self.text,
            "html_bytes": self.html,
            "html_sent_bytes": self.html_sent,
            "message_bytes": self.message,
            "changes": self.changes,
            "feed_problems": self.problems,
        }


def sizes(message: EmailMessage, *, changes: int, problems: int) -> Sizes:
    text, html = parts(message)
    return Sizes(
        len(text.encode()), len(html.encode()), len(message.as_bytes()), changes, problems,
        sent_size(html),
    )  # fmt: skip


def parts(message: EmailMessage) -> tuple[str, str]:
    """The (text, html) of a digest, decoded."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
    return str(text.get_content()), str(html.get_content())


def digest_at(day: date) -> datetime:
    return slot(day, DIGEST_TIME, ZoneInfo(ZONE))


# ---------------------------------------------------------------- the busy day


def feeds_file(folder: Path) -> Path:
    """The shipped feeds file with EXTRA_FEEDS more, tagged as the shipped ones are."""
    tags = ("korea", "china", "japan", "international")
    extra = "".join(
        f"  - id: regional-{n:02d}\n    url: https://news{n:02d}.example.org/rss.xml\n"
        f"    tags: [{tags[n % len(tags)]}]\n"
        for n in range(EXTRA_FEEDS)
    )
    path = folder / "feeds.yaml"
    shipped = (ROOT / "config" / "feeds.yaml").read_text(encoding="utf-8")
    path.write_text(shipped.rstrip("\n") + "\n" + extra, encoding="utf-8")
    return path


def _examples(indicator: Indicator, outcome_id: str, matcher: Matcher) -> list[str]:
    """Example texts of `indicator` its rules match as `outcome_id` alone."""
    found = []
    for example in indicator.examples:
        if example.expect != outcome_id:
            continue
        probe = _entry("probe", "p", example.text, "", "example.org", None)
        outcomes = {m.outcome_id for m in matcher.match(probe) if m.indicator_id == indicator.id}
        if outcomes == {outcome_id}:  # not one that is also evidence of another outcome
            found.append(example.text)
    return found


def _entry(
    feed_id: str, guid: str, title: str, text: str, publisher: str, published: datetime | None
) -> Entry:
    link = f"https://www.{publisher}/news/{guid}"
    return Entry(feed_id, guid, link, title, text, published, publisher)


def _articles(
    rng: random.Random,
    matcher: Matcher,
    target: tuple[str, str],
    texts: Sequence[str],
    *,
    feeds: Sequence[str],
    publishers: Sequence[str],
    count: int,
    at: datetime,
    tag: str,
) -> list[Entry]:
    """`count` articles on `texts`, each of its own story and evidence of the `target` outcome
    alone: an example's words after a Chinese or Korean headline, and a lede in both."""
    entries: list[Entry] = []
    while len(entries) < count:
        n = len(entries)
        lead = rng.choice(CHINESE if n % 2 else KOREAN)
        said = "".join(rng.sample(CHINESE, 2) + rng.sample(KOREAN, 2))
        title = f"{lead[: rng.randint(14, 30)]} — {rng.choice(texts)} ({n + 1})"
        text = f"{said} {rng.choice(texts)}. {rng.choice(KOREAN)} 기사 {tag}-{n}."
        publisher = publishers[n % len(publishers)]
        published = at - timedelta(minutes=count - n)
        guid = f"{tag}/{target[0]}/{n}"
        entry = _entry(feeds[n % len(feeds)], guid, title, text, publisher, published)
        if {(m.indicator_id, m.outcome_id) for m in matcher.match(entry)} == {target}:
            entries.append(entry)
    return entries


def _read(store: Store, feed_ids: Sequence[str], at: datetime) -> None:
    store.record_fetches([FetchRecord(f, now=at, ok=True, http_status=200) for f in feed_ids])


def _problems(store: Store, feed_ids: Sequence[str], at: datetime) -> None:
    """Give each of `feed_ids` a problem, in turn: failing, dead, rate limited or ill-formed
    (read, with a warning); the others stay unread from here on (stale)."""
    records = []
    for n, feed in enumerate(feed_ids):
        kind = n % 5
        if kind == 0:
            records.append(FetchRecord(feed, now=at, ok=False, http_status=503, error="HTTP 503"))
        elif kind == 1:
            records.append(
                FetchRecord(feed, now=at, ok=False, http_status=410, error="HTTP 410", dead=True)
            )
        elif kind == 2:
            records.append(
                FetchRecord(feed, now=at, ok=False, http_status=429, error="HTTP 429",
                            rate_limited=True)
            )  # fmt: skip
        elif kind == 3:
            warning = (
                "ill-formed XML (not well-formed (invalid token) at line 212); 3 items left out"
            )
            records.append(FetchRecord(feed, now=at, ok=True, http_status=200, warning=warning))
    store.record_fetches(records)


def busy_day(definitions: Definitions, store: Store, *, seed: int = 8) -> None:
    """The day before BUSY_DAY's digest, as described in the module's docstring."""
    rng = random.Random(seed)
    ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits())
    start = digest_at(BUSY_DAY) - timedelta(days=1)
    all_feeds = [f.id for f in definitions.feeds]
    troubled = all_feeds[-PROBLEM_FEEDS - 5 : -5]  # regional feeds mostly, and some shipped
    healthy = [f for f in all_feeds if f not in troubled]
    prepare(ctx, now=start - timedelta(hours=1))
    _read(store, all_feeds, start - timedelta(minutes=30))
    evaluate_and_record(ctx, now=start - timedelta(minutes=30))  # first readings: quiet
    rounds = [start + timedelta(hours=h) for h in (2, 7, 13)]
    judged: list[tuple[int, str]] = []
    for turn, at in enumerate(rounds):
        _read(store, healthy if turn else all_feeds, at)
        if turn == 1:
            _problems(store, troubled, at)
        entries = []
        for indicator in definitions.indicators:
            outcomes = [o.id for o in indicator.outcomes]
            if turn == 2 and len(outcomes) == 1:
                continue  # one outcome: reported, then confirmed
            outcome = outcomes[0] if turn < 2 else outcomes[1]
            texts = _examples(indicator, outcome, ctx.matcher)
            if not texts:
                continue
            readers = [f for f in healthy if f in definitions.feeds_for(indicator)]
            publishers = PUBLISHERS[:1] if turn == 0 else rng.sample(PUBLISHERS, 30)
            count = rng.randint(*ARTICLES)
            entries += _articles(
                rng, ctx.matcher, (indicator.id, outcome), texts, feeds=readers,
                publishers=publishers, count=count, at=at, tag=f"r{turn}",
            )  # fmt: skip
        added = store_entries(ctx, entries, now=at)
        failed = len(troubled) if turn else 0
        store.record_cycle(
            Cycle(at, at + timedelta(minutes=1), feeds_checked=len(all_feeds), failed=failed,
                  new_entries=len(added.entries))
        )  # fmt: skip
        judged += [(entry_id, entry.guid.split("/")[1]) for entry_id, entry in added.entries]
        evaluate_and_record(ctx, now=at, checked=True)
    _verdicts(definitions, store, judged, rounds[-1] + timedelta(hours=1))
    end = digest_at(BUSY_DAY)
    for n, indicator in enumerate(definitions.indicators[:2]):
        store.add_silence(
            Silence(
                indicator.id, None, f"a known wire error, checked with the desk ({n + 1})",
                "analyst@example.org", end - timedelta(hours=2), end + timedelta(days=2),
            )
        )  # fmt: skip
    _read(store, healthy, end - timedelta(minutes=10))
    evaluate_and_record(ctx, now=end - timedelta(minutes=10), checked=True)


def _verdicts(
    definitions: Definitions, store: Store, judged: Sequence[tuple[int, str]], at: datetime
) -> None:
    """An analyst's yes on three stored entries, and a no with a note on one."""
    for n, (entry_id, indicator_id) in enumerate(judged[5:40:9]):
        outcome = definitions.indicator(indicator_id).outcomes[0].id
        judge(
            definitions, store, entry_id=entry_id, target=(indicator_id, outcome),
            verdict="no" if n == 0 else "yes", who="analyst@example.org",
            note="not about this" if n == 0 else "", now=at + timedelta(minutes=n),
        )  # fmt: skip


def quiet_day(definitions: Definitions, store: Store) -> None:
    """The day after: every feed read, nothing new."""
    ctx = Context(definitions, Matcher(definitions.indicators), store, FetchLimits())
    at = digest_at(BUSY_DAY + timedelta(days=1)) - timedelta(minutes=10)
    feeds = [f.id for f in definitions.feeds]
    _read(store, feeds, at)
    store.record_cycle(Cycle(at, at + timedelta(minutes=1), feeds_checked=len(feeds)))
    evaluate_and_record(ctx, now=at, checked=True)


def digest(
    definitions: Definitions, store: Store, day: date, *, public_url: str | None
) -> tuple[EmailMessage, Sizes]:
    now = digest_at(day) + timedelta(seconds=30)
    data = digest_input(
        definitions, store, day=day, now=now, timezone=ZONE, digest_time=DIGEST_TIME,
        public_url=public_url,
    )  # fmt: skip
    message = build_digest(data, sender="monitor@example.org", recipients=["reader@example.org"])
    return message, sizes(message, changes=len(data.changes), problems=len(data.feed_problems))


@contextmanager
def busy_store(folder: Path, database: str | None = None) -> Iterator[tuple[Definitions, Store]]:
    """Definitions and a store holding the busy day (`database`: a URL; else SQLite in
    `folder`)."""
    definitions = load_definitions(ROOT / "indicators", feeds_file(folder))
    store = open_store(database or f"sqlite:///{folder / 'monitor.db'}")
    try:
        busy_day(definitions, store)
        yield definitions, store
    finally:
        store.close()


def measure(database: str | None = None, public_url: str | None = PUBLIC_URL) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="digestsize-") as folder,
        busy_store(Path(folder), database) as (definitions, store),
    ):
        _message, busy = digest(definitions, store, BUSY_DAY, public_url=public_url)
        quiet_day(definitions, store)
        day = BUSY_DAY + timedelta(days=1)
        _message, quiet = digest(definitions, store, day, public_url=public_url)
    return {"busy": busy.as_dict(), "quiet": quiet.as_dict()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.digestsize",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="build it in this empty database at monitor's schema (`monitor db upgrade`);"
        " default: SQLite in a temporary folder",
    )
    parser.add_argument("--no-public-url", action="store_true", help="no MONITOR_PUBLIC_URL")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    found = measure(args.database, None if args.no_public_url else PUBLIC_URL)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for name, got in found.items():
        print(
            f"{name}: {got['changes']} changes, {got['feed_problems']} feed problems; text"
            f" {got['text_bytes'] / 1000:.1f} KB, HTML {got['html_bytes'] / 1000:.1f} KB"
            f" ({got['html_sent_bytes'] / 1000:.1f} KB as sent),"
            f" message as sent {got['message_bytes'] / 1000:.1f} KB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
