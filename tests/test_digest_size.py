"""A busy day's digest stays short enough for a mail client to show it whole (Gmail clips an
HTML part over about 102 KB, and what it cuts is the end: the standing statuses and feed
health), and names everything: every change, every standing status, every feed problem; what
it leaves out is evidence, counted, with where to read it. A normal day's lists all it did.

The busy day is `benchmarks.digestsize`'s (`python -m benchmarks.digestsize` measures it),
built on a real store, SQLite then PostgreSQL, and the digest sent through a real SMTP server.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from benchmarks import digestsize as busy
from monitor.daily import digest_input, send_daily_digest
from monitor.definitions import load_definitions
from monitor.digest import (
    EVIDENCE_PER_CHANGE,
    EVIDENCE_PER_INDICATOR,
    PART_BUDGET,
    DigestInput,
    render,
)
from monitor.domain import Definitions
from monitor.settings import Settings
from monitor.store import Store, open_store
from tests.smtpserver import running_smtp_server
from tests.test_digest import parts as crlf_parts

LISTED = re.compile(r"^  \((\d+) pieces? of evidence listed under", re.M)
COUNTED = r"(?:and (\d+) more|(\d+) pieces? of evidence): "  # after listed ones, or alone
ITEM = re.compile(rf"^    - (?!{COUNTED})", re.M)
MORE = re.compile(rf"^    - {COUNTED}(.*(?:\n {{6}}\S.*)*)", re.M)


def _send(definitions: Definitions, store: Store, day: date, tmp_path: Path, public_url: str | None
          ) -> tuple[EmailMessage, DigestInput]:  # fmt: skip
    """The digest of `day` as sent at its time through a real SMTP server, and its data."""
    now = busy.digest_at(day) + timedelta(seconds=30)
    with running_smtp_server() as smtp:
        settings = Settings(
            smtp_host=smtp.host, smtp_port=smtp.port, smtp_starttls=False,
            digest_to=["reader@example.org"], digest_time=busy.DIGEST_TIME, timezone=busy.ZONE,
            outbox_dir=tmp_path / "outbox", public_url=public_url,
        )  # fmt: skip
        assert send_daily_digest(definitions, store, settings, day=day, now=now, owner="t").sent
        (received,) = smtp.messages
    data = digest_input(
        definitions, store, day=day, now=now, timezone=busy.ZONE, digest_time=busy.DIGEST_TIME,
        public_url=public_url,
    )  # fmt: skip
    return received.message, data


def parts(message: EmailMessage) -> tuple[str, str]:
    """Both parts as built (the server's copy ends its lines in CRLF)."""
    text, html = crlf_parts(message)
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def _section(text: str, start: str, *ends: str) -> str:
    body = text.split(f"\n{start}\n", 1)[1]
    for end in ends:
        body = body.split(f"\n{end}\n", 1)[0]
    return body


def _blocks(section: str) -> list[str]:
    """The `* …` blocks of a section of the text part."""
    return [b for b in re.split(r"\n(?=\* )", section) if b.startswith("* ")]


def _shown(block: str) -> tuple[int, int, int, str]:
    """(listed above, listed here, counted, where the counted ones are) of one block."""
    above = sum(int(n) for n in LISTED.findall(block))
    more = MORE.search(block)
    if more is None:
        return above, len(ITEM.findall(block)), 0, ""
    rest = re.sub(r"\s+", " ", more.group(3))
    return above, len(ITEM.findall(block)), int(more.group(1) or more.group(2)), rest


def _build(tmp_path: Path, url: str) -> tuple[Definitions, Store]:
    definitions = load_definitions(busy.ROOT / "indicators", busy.feeds_file(tmp_path))
    store = open_store(url)
    busy.busy_day(definitions, store)
    return definitions, store


@pytest.fixture(scope="module")
def busy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The busy day stored once in a SQLite file (~2 CPU-seconds to write), which each SQLite
    test copies: each reads the day as written, and none writes into another's."""
    folder = tmp_path_factory.mktemp("busy")
    _definitions, store = _build(folder, f"sqlite:///{folder / 'monitor.db'}")
    store.close()
    assert not (folder / "monitor.db-wal").exists()  # all of it in the file copied
    return folder / "monitor.db"


def _busy_store(tmp_path: Path, url: str, busy_file: Path) -> tuple[Definitions, Store]:
    """The busy day in the database at `url`: on SQLite a copy of `busy_file`, else written."""
    if make_url(url).get_backend_name() != "sqlite":
        return _build(tmp_path, url)
    target = Path(make_url(url).database or "")
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(busy_file, target)
    definitions = load_definitions(busy.ROOT / "indicators", busy.feeds_file(tmp_path))
    return definitions, open_store(url)


def test_a_busy_day_s_digest_fits_and_names_every_change_status_and_feed_problem(
    tmp_path: Path, database_url: str, busy_file: Path
) -> None:
    """Before, its HTML part was 123 KB (the text 78 KB): Gmail clipped the feed health. Then,
    cut to fit 90,000 bytes as UTF-8, it went out at 113 KB in base64, over Gmail's line
    however Gmail weighs it; now each part fits as it arrives."""
    definitions, store = _busy_store(tmp_path, database_url, busy_file)
    try:
        message, data = _send(definitions, store, busy.BUSY_DAY, tmp_path, None)
    finally:
        store.close()
    text, html = parts(message)
    assert len(text.encode()) <= PART_BUDGET and len(html.encode()) <= PART_BUDGET
    for part in message.iter_parts():  # the bytes of its body as the server received them
        assert len(str(part.get_payload()).encode()) <= PART_BUDGET
    # Its Chinese and Korean go out in base64 (in quoted-printable, 9 bytes a character) and
    # arrive as built.
    assert [p["Content-Transfer-Encoding"] for p in message.iter_parts()] == ["base64"] * 2
    assert (text, html) == render(data)
    assert len(data.changes) == 15 and len(data.feed_problems) == busy.PROBLEM_FEEDS
    assert "A busy day:" in text and 'data-shortened="1"' in html
    note = re.sub(r"\s+", " ", text.split("A busy day:", 1)[1])
    most = re.search(
        r"each change lists at most (\d+) pieces? of evidence and each standing"
        r" status at most (\d+) pieces? of evidence"
        r"(?:, the analysts' verdicts are only counted)?; the rest are counted",
        note,
    )
    assert most is not None, note
    per_change, per_status = int(most.group(1)), int(most.group(2))
    assert per_change < EVIDENCE_PER_CHANGE

    changed = _blocks(
        _section(text, "WHAT CHANGED", "ANALYSTS' VERDICTS", "SILENCED", "STANDING STATUS")
    )
    ordered = sorted(data.changes, key=lambda c: (c.at, c.indicator_id))
    assert len(changed) == len(ordered) == html.count('id="change-')
    cut = 0
    for block, change in zip(changed, ordered, strict=True):
        title = next(v.title for v in data.indicators if v.id == change.indicator_id)
        assert block.startswith(f"* {title}")
        above, here, more, rest = _shown(block)
        assert above + here + more == change.evidence_count, block
        assert here <= per_change
        assert rest == ("" if not more else f"see `monitor history {change.indicator_id}`")
        cut += more
    assert cut > 300  # the long tail, counted

    standing = _blocks(_section(text, "STANDING STATUS", "FEED HEALTH"))
    views = {f"* {v.title}": v for v in data.indicators}
    assert sorted(b.split("\n")[0] for b in standing) == sorted(views)
    for block in standing:
        view = views[block.split("\n")[0]]
        above, here, more, rest = _shown(block)
        assert above + here + more == view.evidence_count, block
        assert here <= per_status
        assert not more or rest == f"see `monitor history {view.id}`"

    health = _section(text, "FEED HEALTH", "-- ")
    for problem in data.feed_problems:
        assert f"* {problem.feed_id}: " in health
        assert f">{problem.feed_id}</strong>" in html
    counted = [int(n) for n in re.findall(r'data-more="(\d+)"', html)]
    assert counted == [int(m.group(1) or m.group(2)) for m in MORE.finditer(text)]
    assert "see <code>monitor history north-korea-stance</code>" in html


def test_with_a_public_url_the_evidence_left_out_is_on_the_indicator_s_page(
    tmp_path: Path, busy_file: Path
) -> None:
    definitions, store = _busy_store(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}", busy_file)
    try:
        message, data = _send(definitions, store, busy.BUSY_DAY, tmp_path, busy.PUBLIC_URL)
    finally:
        store.close()
    text, html = parts(message)
    assert len(html.encode()) <= PART_BUDGET
    assert all(len(str(p.get_payload()).encode()) <= PART_BUDGET for p in message.iter_parts())
    for view in data.indicators:
        page = f"{busy.PUBLIC_URL}indicators/{view.id}/page"
        assert re.search(rf"- and \d+ more:\s+{re.escape(page)}\n", text), view.id
        assert f'<a href="{page}" style="color:#0b57d0">on its page</a></li>' in html
    assert "monitor history" not in text


def test_a_normal_day_s_digest_is_not_cut(
    tmp_path: Path, database_url: str, busy_file: Path
) -> None:
    """The quiet day after the busy one: each standing status lists its evidence as any day's
    did, three pieces, and no note says the digest was cut."""
    definitions, store = _busy_store(tmp_path, database_url, busy_file)
    try:
        busy.quiet_day(definitions, store)
        day = busy.BUSY_DAY + timedelta(days=1)
        message, data = _send(definitions, store, day, tmp_path, None)
    finally:
        store.close()
    text, html = parts(message)
    assert "A busy day" not in text and "data-shortened" not in html
    assert (text, html) == render(data, budget=10**9)  # as built with no budget at all
    standing = _blocks(_section(text, "STANDING STATUS", "FEED HEALTH"))
    views = {f"* {v.title}": v for v in data.indicators}
    assert sorted(b.split("\n")[0] for b in standing) == sorted(views) and len(views) == 7
    for block in standing:
        view = views[block.split("\n")[0]]
        above, here, more, _rest = _shown(block)
        assert above == 0 and here == min(EVIDENCE_PER_INDICATOR, len(view.evidence)), block
        assert more == view.evidence_count - here
