"""Feeds read once, for tests that store news directly instead of fetching it: without a
successful fetch no feed supports `quiet`, and every indicator stays `unknown`."""

from __future__ import annotations

from datetime import datetime

from monitor.domain import StatusChange
from monitor.pipeline import Context, evaluate_and_record
from monitor.store import FetchRecord


def read_once(ctx: Context, *, now: datetime) -> list[StatusChange]:
    """Record a successful fetch of every configured feed at `now`, then evaluate (each
    indicator's first reading: quiet, recorded without a change, unless evidence is stored)."""
    feeds = [FetchRecord(f.id, now=now, ok=True, http_status=200) for f in ctx.definitions.feeds]
    ctx.store.record_fetches(feeds)
    return evaluate_and_record(ctx, now=now)
