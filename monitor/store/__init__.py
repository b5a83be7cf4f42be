"""SQLModel tables and every query: the only package that imports SQLModel or SQLAlchemy.

`open_store(url)` gives a `Store`; its methods take and return domain objects or small frozen
dataclasses, never ORM rows. SQLite serves one daemon (WAL, 30 s busy timeout, writes take the
lock up front with BEGIN IMMEDIATE); PostgreSQL serves several, which claim due feeds with
`FOR UPDATE SKIP LOCKED` and a lease. Writes that could race are compare-and-set. Datetimes are
timezone-aware UTC in and out. Database errors surface as `StoreError("store: …")`.

One module per job; `Store` is their methods in one object:

    schema     the tables and their column types
    engine     opening a database, schema revisions (`upgrade`, `schema_status`)
    base       one transaction per call, compare-and-set claims, the match version
    feeds      configured feeds, due feeds and leases, feed health
    fetches    what each fetch found, recorded on its feed (a moved or retaken feed's read left out)
    entries    entries and their matches
    looks      an indicator new or edited: its matches in its window made what its rule gives
    itemkeys   which of the items offered are stored already (by key, item key, deleted key)
    feedlocks  the feeds a batch is stored for: their locks
    search     entries searched by their words, a page at a time
    evidence   matches in a window with verdicts applied, kept while the match version holds
               (and the verdicts that mark a recorded change's evidence judged `no` since)
    stories    stories kept between evaluations, and the matches and verdicts since
    forgetting forgetting kept stories when their matches are rewritten or deleted
    replays    a replay's hold on the matches while it rewrites them a batch at a time
    rehearsals a dry run's store: written and read back, then gone, holding no daemon's lock
    leftovers  a dry run's copy of a SQLite file, locked while its process lives; left ones go
    verdicts   analysts' append-only verdicts
    silences   analysts' append-only silences (and when one ended early)
    changes    statuses, status changes and the alert outbox
    rests      alert channels that asked to be left alone (Retry-After), for every process
    definers   which indicators each checking process has; when monitoring one ended
    exports    every status change a page at a time, the latest few (exports, Atom feeds)
    digests    the daily digest's claim
    copying    every row of one database into another, empty one (`monitor db copy`)
    claims     taking over every kind of claim of a daemon that is gone
    health     cycles, and what /healthz and /metrics read
    retention  deleting what retention no longer keeps, and giving the space back
"""

from __future__ import annotations

from sqlalchemy import Engine

from monitor import migrate
from monitor.errors import StoreError
from monitor.store.base import StoreBase, after_a_lost_connection, log, once_more_if_disconnected
from monitor.store.changes import AlertClaim, Around, ChangesMixin, FailingAlerts
from monitor.store.claims import ClaimsMixin, TakenOver, log_taken_over
from monitor.store.copying import Copied, copy_database
from monitor.store.definers import DefinersMixin
from monitor.store.digests import DIGEST_CLAIM_TIMEOUT, DigestsMixin, DigestState
from monitor.store.engine import (
    BUSY_TIMEOUT_MS,
    OpenedFile,
    Upgrade,
    check_schema,
    connect,
    new_revision,
    remove_left_copies,
    revision_problem,
    schema_differences,
    schema_status,
    sqlite_file,
    upgrade,
    upgrade_database,
    where,
)
from monitor.store.entries import Added, EntriesMixin, StoredEntry
from monitor.store.evidence import EvidenceMixin, EvidenceRead, JudgedRead
from monitor.store.exports import ExportsMixin
from monitor.store.feeds import (
    STALE_AFTER,
    DueFeed,
    FeedCounts,
    FeedsMixin,
    FeedState,
    FeedStateWord,
)
from monitor.store.fetches import Dropped, FetchesMixin, FetchRecord
from monitor.store.health import Cycle, CycleTotals, HealthMixin
from monitor.store.looks import Looked, LooksMixin
from monitor.store.rehearsals import RehearsalsMixin
from monitor.store.replays import ReplayHold, ReplaysMixin
from monitor.store.rests import RestsMixin
from monitor.store.retention import Pruned, RetentionMixin
from monitor.store.schema import metadata
from monitor.store.search import SearchMixin
from monitor.store.silences import SilencesMixin
from monitor.store.stories import (
    Basis,
    Changes,
    KeptStories,
    OutcomeKept,
    SourceKept,
    StoriesMixin,
    StoryReading,
    StorySession,
)
from monitor.store.verdicts import VerdictsMixin

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DIGEST_CLAIM_TIMEOUT",
    "STALE_AFTER",
    "Added",
    "AlertClaim",
    "Around",
    "Basis",
    "Changes",
    "Copied",
    "Cycle",
    "CycleTotals",
    "DigestState",
    "Dropped",
    "DueFeed",
    "EvidenceRead",
    "FailingAlerts",
    "FeedCounts",
    "FeedState",
    "FeedStateWord",
    "FetchRecord",
    "JudgedRead",
    "KeptStories",
    "Looked",
    "OutcomeKept",
    "Pruned",
    "ReplayHold",
    "SourceKept",
    "Store",
    "StoredEntry",
    "StoryReading",
    "StorySession",
    "TakenOver",
    "Upgrade",
    "after_a_lost_connection",
    "copy_database",
    "log_taken_over",
    "metadata",
    "new_revision",
    "open_store",
    "schema_differences",
    "schema_status",
    "upgrade",
    "upgrade_database",
]


class Store(
    FeedsMixin,
    FetchesMixin,
    EntriesMixin,
    LooksMixin,
    SearchMixin,
    EvidenceMixin,
    StoriesMixin,
    VerdictsMixin,
    SilencesMixin,
    ChangesMixin,
    RestsMixin,
    DefinersMixin,
    ClaimsMixin,
    ExportsMixin,
    DigestsMixin,
    HealthMixin,
    RetentionMixin,
    ReplaysMixin,
    RehearsalsMixin,
    StoreBase,
):
    """Every query monitor makes. Each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._file = OpenedFile.of(engine)  # the SQLite file, to notice it deleted

    def file_problem(self) -> str | None:
        """Why the SQLite file opened is no longer at its path (deleted under a running
        daemon), or None (always on PostgreSQL): one stat."""
        return None if self._file is None else self._file.problem()

    @property
    def where(self) -> str:
        """The database as a person names it (`engine.where`): a SQLite file's path, else the
        database and its server, never a password."""
        return where(self._engine.url)

    @once_more_if_disconnected
    def schema_problem(self) -> str | None:
        """Why the database is no longer at the code's schema revision (another version
        migrated it since it was opened), or None."""
        return revision_problem(self._engine)


def open_store(
    url: str, *, read_only: bool = False, checkpoints: bool = True, must_exist: bool = False
) -> Store:
    """Connect to `url` and return the store, once its schema is the code's (`check_schema`:
    an empty SQLite database is migrated first, and the log says so, naming the file; an empty
    PostgreSQL database is refused until `monitor db upgrade`). A store that may write deletes
    the copies of the database that dry runs killed outright left (`remove_left_copies`).

    `read_only`, for commands that only read: nothing can write through it (SQLite `mode=ro`,
    PostgreSQL `default_transaction_read_only`) and nothing is migrated; a missing database is
    refused in one line that says how to make one. `must_exist`, for commands that write only
    to rows stored already (end a silence, judge an entry, replay the stored news): a missing
    (or empty) database is refused so too, rather than made and migrated for nothing.

    Without `checkpoints` (the daemon's store), SQLite's commits leave the write-ahead log to
    `Store.checkpoint`, which the daemon calls in a job of its own, so a check cycle does not
    wait for the log to be copied into the file.
    """
    engine = connect(url, read_only=read_only, checkpoints=checkpoints, must_exist=must_exist)
    if not read_only:
        remove_left_copies(engine.url)
    try:
        created = check_schema(engine, read_only=read_only, must_exist=must_exist)
    except StoreError:
        engine.dispose()
        raise
    if created and sqlite_file(engine.url) is not None:
        log.info(
            "created a new SQLite database, %s (schema revision %s)",
            where(engine.url),
            migrate.head(),
        )
    return Store(engine)
