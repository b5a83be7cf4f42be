"""Every time in a JSON answer has one format (`domain.iso_time`): a script parsing the API with
one fixed format reads each of them. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.store import open_store
from monitor.web import create_app
from tests import webdata

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

db_url, defs = webdata.db_url, webdata.defs  # fixtures
# What the README's "HTTP endpoint and page" promises for every time field.
ONE_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# A clock as a real one reads (with microseconds), where some times are whole seconds.
NOW = webdata.NOW + timedelta(microseconds=959737)
TIME_FIELDS = {"since", "at", "recorded_at", "published", "first_seen", "last_checked_at",
               "last_success_at", "last_new_at", "failing_since", "next_check_at",
               "held_until"}  # fmt: skip


def times(answer: Any) -> list[tuple[str, str]]:
    """(field, value) of every time field anywhere in a JSON answer."""
    if isinstance(answer, list):
        return [t for item in answer for t in times(item)]
    if not isinstance(answer, dict):
        return []
    found = [(k, v) for k, v in answer.items() if k in TIME_FIELDS and isinstance(v, str)]
    return found + [t for v in answer.values() for t in times(v)]


@pytest.fixture
def client(db_url: str, defs: Any) -> Iterator[TestClient]:
    with open_store(db_url) as store:
        webdata.populate(store, defs, now=NOW)
        webdata.record_fetches(store, webdata.NOW)  # a whole second, as some times fall
        app = create_app(store=store, definitions=lambda: defs, settings=webdata.settings(),
                         clock=lambda: NOW)  # fmt: skip
        with TestClient(app) as opened:
            yield opened


def test_every_time_of_the_json_answers_has_one_format(client: TestClient) -> None:
    """`…:58Z` next to `…:20.959737Z` in one field broke a script parsing with one format."""
    paths = ["/indicators", "/indicators/visa-easing", "/indicators/visa-easing/history",
             "/feeds", "/entries?q=visa"]  # fmt: skip
    found = [t for path in paths for t in times(client.get(path).json())]

    assert {field for field, _ in found} >= {"since", "at", "recorded_at", "last_checked_at"}
    assert [(f, v) for f, v in found if not ONE_FORMAT.fullmatch(v)] == []
