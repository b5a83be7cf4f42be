"""Evidence an analyst judged `no` after the change that listed it, on SQLite and PostgreSQL:
`monitor history` (text and `--json`), GET /indicators/{id}/history and the digest mark it
with the digest's words (`✗ judged not relevant by ana at …`), also a copy of the story judged
(a `no` takes a story's copies out of the evidence), and a later `yes` takes the mark away;
the recorded change stays as it was. The page is in tests/test_web_browser.py and
tests/test_web_a11y.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.domain import Definitions
from monitor.statuses import judge
from monitor.store import Store
from monitor.web import create_app
from tests import webdata
from tests.test_digest_verdicts import (
    HERALD,
    SCMP,
    YONHAP,
    at,
    joined,
    parts,
    sent,
    visa_eased,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

defs = webdata.defs  # fixture
COPY = "https://en.yna.co.kr/view/AEN14"  # HERALD's story under its own headline, a copy
EASED = ("visa-easing", "eased")


@pytest.fixture
def store(database_url: str, defs: Definitions) -> Iterator[Store]:
    """test_digest_verdicts' store (visa easing confirmed at 01:00 by three publishers, after
    the digest of the day before went out) with a later copy of the Herald's story (its
    headline, Yonhap's link), which the change does not list: it lists each story once, by its
    first copy."""
    copy = webdata.news("yonhap", 14, HERALD, COPY, at(0.8))
    with visa_eased(database_url, defs, copy) as opened:
        (change,) = opened.history("visa-easing")
        assert [e.title for e in change.evidence] == [SCMP, YONHAP, HERALD]
        yield opened


@pytest.fixture
def env(store: Store, database_url: str) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }


@pytest.fixture
def client(store: Store, defs: Definitions) -> Iterator[TestClient]:
    app = create_app(store=store, definitions=lambda: defs, settings=webdata.settings(),
                     clock=lambda: at(7))  # fmt: skip
    with TestClient(app) as c:
        yield c


def entry(store: Store, title: str, link: str = "https://www.koreaherald.com/article/11") -> int:
    """The id of the one stored entry with this headline (and link: the Herald's has a copy)."""
    found = store.search_entries(title)
    (hit,) = [
        s.id for s in found if s.entry.title == title and (title != HERALD or s.entry.link == link)
    ]
    return hit


def copy_of_herald(store: Store) -> int:
    return entry(store, HERALD, COPY)


def said_no(
    defs: Definitions, store: Store, entry_id: int, hours: float, verdict: str = "no"
) -> None:
    judge(defs, store, entry_id=entry_id, target=EASED, verdict=verdict, who="ana",
          note="a tour-group story, not visas", now=at(hours))  # fmt: skip


def history(env: dict[str, str], *args: str) -> str:
    result = webdata.run_cli(env, "history", "visa-easing", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def pieces(env: dict[str, str]) -> dict[str, Any]:
    """The first change's evidence in `monitor history --json`, by headline."""
    first = json.loads(history(env, "--json").splitlines()[-1])
    assert first["old_status"] == "quiet"
    return {e["title"]: e for e in first["evidence"]}


def under(text: str, entry_id: int) -> str:
    """The lines `monitor history` prints under one piece of evidence."""
    return text.split(f"[entry {entry_id}]")[1].split("    [entry")[0]


def test_history_marks_a_piece_judged_no_since_in_text_json_and_the_api(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient
) -> None:
    herald = entry(store, HERALD)
    recorded = store.history("visa-easing")
    said_no(defs, store, herald, 2)

    text = history(env)
    mark = "      ✗ judged not relevant by ana at 2026-03-10 02:00 UTC\n"
    assert mark in under(text, herald)
    assert text.count("✗") == 1  # not the others
    found = pieces(env)
    assert found[HERALD]["judged_since"] == {
        "verdict": "no", "who": "ana", "at": "2026-03-10T02:00:00Z",
        "note": "a tour-group story, not visas", "copy_of": None,
    }  # fmt: skip
    assert found[YONHAP]["judged_since"] is None and found[SCMP]["judged_since"] is None
    printed = [json.loads(line) for line in history(env, "--json").splitlines()]
    assert client.get("/indicators/visa-easing/history").json()["items"] == printed
    assert store.history("visa-easing")[-1] == recorded[-1]  # the change is as recorded


def test_a_no_on_a_copy_marks_the_story_listed_in_history_and_the_digest(
    defs: Definitions, store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    """The `no` is on the later copy, which no change lists; the Herald's first copy, listed,
    is no evidence since (the same story), and is marked as that copy."""
    herald, copy = entry(store, HERALD), copy_of_herald(store)
    said_no(defs, store, copy, 2)

    words = f"✗ judged not relevant by ana at 2026-03-10 02:00 UTC, as a copy of entry {copy}"
    text, html = parts(sent(defs, store, tmp_path))
    changed = text.split("WHAT CHANGED")[1].split("ANALYSTS' VERDICTS")[0]
    assert words in joined(changed.split(HERALD)[1])
    assert html.count('data-not-relevant="1"') == 1 and words[2:] in html
    assert words in under(history(env), herald)
    assert pieces(env)[HERALD]["judged_since"]["copy_of"] == copy


@pytest.mark.parametrize("then", ["yes on the copy judged", "yes of its own"])
def test_a_later_yes_takes_the_mark_away(
    defs: Definitions, store: Store, env: dict[str, str], client: TestClient, then: str
) -> None:
    """A `yes` on the entry judged `no` stands instead of it; a `yes` on the piece listed keeps
    it evidence whatever its copies were judged (the README's `Verdicts`)."""
    herald, copy = entry(store, HERALD), copy_of_herald(store)
    said_no(defs, store, copy, 2)
    said_no(defs, store, copy if then == "yes on the copy judged" else herald, 3, "yes")

    assert "✗" not in history(env)
    assert all(e["judged_since"] is None for e in pieces(env).values())
    served = client.get("/indicators/visa-easing/history").json()["items"]
    assert all(e["judged_since"] is None for c in served for e in c["evidence"])
