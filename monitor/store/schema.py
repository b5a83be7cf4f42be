"""The tables: SQLModel classes, the column types they share, and the Table objects every query
module reads (`feed_table`, `entry_table`, ...). Datetimes are timezone-aware UTC in and out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from monitor.errors import StoreError

# ---------------------------------------------------------------- column types


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC: timestamptz on PostgreSQL; on SQLite the text
    SQLAlchemy's DATETIME writes ("2026-01-31 12:00:00.000000", naive UTC), made in C."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"store: naive datetime {value.isoformat()}")
        if value.utcoffset():
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return sqlite_when(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_when(value: datetime) -> str:
    """An aware UTC datetime as UTCDateTime stores it on SQLite."""
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00"


def _when(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _seq() -> Any:
    return Column(BigInteger, nullable=False, index=True, default=0)


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


# ---------------------------------------------------------------- tables


class FeedTable(SQLModel, table=True):
    __tablename__ = "feed"

    id: str = Field(primary_key=True)
    url: str
    moved_to: str | None = None
    title: str = ""
    tags: list[str] = _json()
    interval_seconds: int
    active: bool = True
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    http_status: int | None = None
    last_checked_at: datetime | None = _when()
    last_success_at: datetime | None = _when()
    failing_since: datetime | None = _when()
    error_count: int = 0
    last_error: str = _text()
    warning: str = _text()  # of the body last read (ill-formed, a charset guessed...); "" none
    # When a check last stored a new entry of it, else its first successful read; None: never
    # read. Longer ago than silent_after_seconds (0: never), the feed is silent.
    last_new_at: datetime | None = _when()
    silent_after_seconds: int = 0
    next_check_at: datetime | None = _when(index=True)
    dead: bool = False
    lease_owner: str | None = None
    lease_until: datetime | None = _when()


class EntryTable(SQLModel, table=True):
    __tablename__ = "entry"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    feed_id: str
    guid: str
    link: str
    title: str = _text()
    text: str = _text()
    published: datetime | None = _when()
    first_seen: datetime = _when(nullable=False, index=True)
    time: datetime = _when(nullable=False, index=True)
    publisher: str
    # identity.item_key: the item by its link (without tracking parameters, if it has one),
    # headline and text, which finds it offered again under a new guid; None: an item with
    # neither a link nor a word of headline.
    item_key: str | None = Field(default=None, index=True)


class ForgottenEntryTable(SQLModel, table=True):
    """The keys of entries retention deleted: a feed that still carries one does not bring it
    back as news (an undated one would count as seen now). A key stays while feeds offer it
    and one retention period after they last did. An item offered under it with a headline
    other than the deleted entry's is another story (a CMS reusing a guid or link): news."""

    __tablename__ = "forgotten_entry"

    key: str = Field(primary_key=True)
    offered_at: datetime = _when(nullable=False, index=True)  # deleted, or last offered since
    # identity.headline_digest of the deleted entry's title; None when it had no headline, or
    # was deleted before revision 0013: whatever is offered under the key is left out.
    headline: str | None = None


class MatchTable(SQLModel, table=True):
    __tablename__ = "entry_match"
    # An indicator's matches in a window, newest first, are one range of this index.
    __table_args__ = (Index("ix_entry_match_indicator_time", "indicator_id", "time", "entry_id"),)

    entry_id: int = Field(
        sa_column=Column(Integer, ForeignKey("entry.id", ondelete="CASCADE"), primary_key=True)
    )
    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    terms: list[str] = _json()
    snippet: str = _text()
    definition_hash: str
    time: datetime = _when(nullable=False)  # the entry's time (entries are never rewritten)
    # The `matches` counter's value the transaction that wrote it moved it to: matches not
    # evaluated yet are those above the `evaluated` counter (`monitor.statuses.advance`).
    seq: int = Field(default=0, sa_column=_seq())


class IndicatorStateTable(SQLModel, table=True):
    __tablename__ = "indicator_state"

    indicator_id: str = Field(primary_key=True)
    status: str
    since: datetime = _when(nullable=False)
    definition_hash: str = ""
    version: int = 0
    started_at: datetime | None = _when()  # when monitoring it began (its state was made)
    # When its first reading (quiet: no change recorded, not news) ended its initial unknown;
    # NULL when that was a recorded change, has not happened, or is not known (migration 0019).
    read_at: datetime | None = _when()
    # When monitoring it ended: the last check that had its file, once no process checking
    # has it (`definer`); NULL while one has, or when no check has run since it was removed.
    ended_at: datetime | None = _when()


class StatusChangeTable(SQLModel, table=True):
    """Append-only: one row per recorded status change."""

    __tablename__ = "status_change"
    __table_args__ = (
        Index("ix_status_change_indicator_at", "indicator_id", "at", "id"),  # windows
        Index("ix_status_change_indicator_id", "indicator_id", "id"),  # history pages
        # The Atom feeds (every indicator's, one's) and what a silence held: newest recorded
        # first (a change to unknown is recorded after the moment it is dated).
        Index("ix_status_change_recorded_at", "recorded_at", "id"),
        Index("ix_status_change_indicator_recorded", "indicator_id", "recorded_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str
    at: datetime = _when(nullable=False, index=True)
    # When the row was written: `at` can be earlier (a change to unknown is dated when the
    # feeds stopped supporting the status); a silence holds what is recorded while in force.
    recorded_at: datetime = _when(nullable=False)
    old_status: str
    new_status: str
    evidence: list[dict[str, Any]] = _json()  # the top EVIDENCE_KEPT items…
    evidence_total: int = 0  # …of this many
    definition_hash: str
    replayed: bool = False
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The indicator as defined then, for when its file is gone (NULL: recorded before 0023).
    indicator_title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    indicator_group: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome_labels: list[list[str]] | None = Field(  # [[outcome id, label], ...]
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # The feeds that supported no status then, each whole: [{"feed", "why", "since", "error"}]
    # (`reason` names the first few). NULL: recorded before 0034, or by a daemon older.
    unread_feeds: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    # The alert outbox: NULL notified_at means the change still has to be alerted.
    notified_at: datetime | None = _when(index=True)
    notify_attempts: int = 0
    notify_after: datetime | None = _when()  # not retried before
    notify_owner: str | None = None  # the daemon sending it now…
    notify_until: datetime | None = _when()  # …until then (its claim)
    notify_error: str = _text()
    notify_done: list[str] = _json()  # keys of the channels that accepted it already


class VerdictTable(SQLModel, table=True):
    """Append-only: one row per analyst's verdict; the latest per (entry, indicator, outcome)
    stands (the highest id)."""

    __tablename__ = "verdict"
    __table_args__ = (Index("ix_verdict_indicator_entry", "indicator_id", "entry_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("entry.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    indicator_id: str
    outcome_id: str
    verdict: str  # yes | no
    who: str
    at: datetime = _when(nullable=False)
    note: str = _text()
    seq: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, index=True, default=0)
    )  # ^


class SilenceTable(SQLModel, table=True):
    """Append-only: one row per silence; ending one early appends a `silence_end` row."""

    __tablename__ = "silence"
    __table_args__ = (Index("ix_silence_indicator_until", "indicator_id", "until"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str
    outcome_id: str | None = None  # NULL: every outcome
    reason: str = _text()
    created_by: str
    created_at: datetime = _when(nullable=False)
    until: datetime = _when(nullable=False)


class SilenceEndTable(SQLModel, table=True):
    """Append-only: a silence ended before its `until`, by whom and when; at most one each."""

    __tablename__ = "silence_end"

    silence_id: int = Field(
        sa_column=Column(Integer, ForeignKey("silence.id", ondelete="CASCADE"), primary_key=True)
    )
    ended_at: datetime = _when(nullable=False)
    ended_by: str


class DigestTable(SQLModel, table=True):
    __tablename__ = "digest"

    day: date = Field(primary_key=True)
    # Who holds its claim now, claimed when: the sender until it is marked sent (or failed),
    # then a resend's sender until it is marked resent (`claim_resend`). NULL: no claim held.
    claimed_at: datetime | None = _when()
    claimed_by: str | None = None
    sent_at: datetime | None = _when()
    # Up to when its "What changed" listed changes: the next digest lists them from there (a
    # change recorded while this one was being sent would fall between it and `sent_at`).
    covered_until: datetime | None = _when()
    failed_at: datetime | None = _when()
    attempts: int = 0
    last_error: str = _text()
    # The recipients the SMTP server refused when it was sent (it took it for the others):
    # [{"address": …, "answer": "550 5.1.1 no such user"}, …].
    refused: list[dict[str, str]] = _json()
    # When those it refused with a temporary (4xx) answer are sent it again (NULL: none
    # pending); a claim moves it on (`claim_resend`). `resends`: how often it was sent again.
    resend_at: datetime | None = _when()
    resends: int = 0
    # The whole RFC 5322 message as it went out (NULL: sent before revision 0017, or not yet):
    # what a resend sends and `digest --preview --date` shows, never built again.
    message: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class CycleTable(SQLModel, table=True):
    __tablename__ = "cycle"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _when(nullable=False)
    finished_at: datetime = _when(nullable=False, index=True)
    feeds_checked: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    matches: int = 0
    changes: int = 0
    regex_timeouts: int = 0  # regex term runs out of their time budget in the cycle
    dropped: int = 0  # reads left out: their feed moved, or its lease taken, meanwhile
    ok: bool = True


class CycleSummaryTable(SQLModel, table=True):
    """One row (id 1): the sums of the cycles retention deleted, so /metrics counts go on."""

    __tablename__ = "cycle_summary"

    id: int = Field(primary_key=True)
    cycles: int = 0
    seconds: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    within: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ChangeSummaryTable(SQLModel, table=True):
    """Per indicator, how many of its status changes retention deleted, so /metrics counts go
    on."""

    __tablename__ = "change_summary"

    indicator_id: str = Field(primary_key=True)
    changes: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class OutcomeStateTable(SQLModel, table=True):
    """Incremental evaluation (`monitor.statuses.advance`): per outcome, what its stories
    (`story`) were last worked out over."""

    __tablename__ = "outcome_state"

    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    definition_hash: str  # of the indicator the stories were found with
    cutoff: datetime = _when(nullable=False)  # the window's start then
    last_time: datetime | None = _when()  # the latest item taken, by (time, entry id)
    last_entry: int = 0
    stories: int = 0  # rows in `story`
    # Its sources: [publisher, stories, newest story's time (as stored), its entry id] each.
    sources: list[list[Any]] = _json()


class StoryTable(SQLModel, table=True):
    """An outcome's stories inside its window: the first copy of each, as evidence shows it (a
    copy of the evidence: retention may delete the entry before the story leaves the window)."""

    __tablename__ = "story"
    __table_args__ = (
        Index("ix_story_outcome_time", "indicator_id", "outcome_id", "time", "entry_id"),
        Index("ix_story_indicator_time", "indicator_id", "time"),
        Index("ix_story_entry", "entry_id"),  # retention: the outcomes of deleted entries
    )

    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    entry_id: int = Field(primary_key=True)
    time: datetime = _when(nullable=False)
    publisher: str
    title: str = _text()
    link: str = _text()
    snippet: str = _text()
    lede: str = _text()  # the first LEDE_CHARS of its text: copies share it
    terms: list[str] = _json()
    judged: str = ""
    copies_until: datetime | None = _when()  # the newest copy found of it, if any


class StoryKeyTable(SQLModel, table=True):
    """The keys a story's first copy is found under (`monitor.stories.story_keys`)."""

    __tablename__ = "story_key"
    # An outcome's keys lie together (a check writes a few pages per outcome, not one per key:
    # the keys are hashes), and a lookup by keys is a range of them per key; a story's keys
    # leave with it through the index, which begins with the entry so that no other index
    # begins with the outcome (migration 0009 says why).
    __table_args__ = (Index("ix_story_key_entry", "entry_id", "indicator_id", "outcome_id"),)

    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    entry_id: int = Field(primary_key=True)


class StoryFrequentTable(SQLModel, table=True):
    """The shingles (their hashes) most of an outcome's stories shared when they were last
    worked out anew: `story_keys` keys them last."""

    __tablename__ = "story_frequent"

    indicator_id: str = Field(primary_key=True)
    outcome_id: str = Field(primary_key=True)
    key: int = Field(sa_column=Column(BigInteger, primary_key=True))


class DefinerTable(SQLModel, table=True):
    """Per process that checks (its owner name, `monitor.owners`), the indicators its
    definitions have and until when that counts: an indicator's monitoring ends when no
    process's holding row still has it (`DefinersMixin.note_defined`, migration 0029)."""

    __tablename__ = "definer"

    owner: str = Field(primary_key=True)
    indicators: list[str] = _json()
    noted_at: datetime = _when(nullable=False)  # its latest check (or start, or reload)
    until: datetime = _when(nullable=False)  # it counts until then, unless noted again


class CounterTable(SQLModel, table=True):
    """Counters moved in the transactions they count: `matches` moves with every write of
    matches or verdicts (the match version evidence reads are kept under)."""

    __tablename__ = "counter"

    name: str = Field(primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class ChannelRestTable(SQLModel, table=True):
    """An alert channel that answered 429 or 503 with Retry-After, and until when every process
    on the database leaves it alone (`notify.RETRY_AFTER_MAX` ahead at most). One row per
    channel; a row whose time has passed is deleted by the next write."""

    __tablename__ = "channel_rest"

    channel: str = Field(primary_key=True)  # `notify.channel_key`: a hash, never the URL
    not_before: datetime = _when(nullable=False)


class ReplayTable(SQLModel, table=True):
    """At most one row (id 1): a `monitor replay` is rewriting the matches from `since` on, a
    batch per transaction, or one stopped half way through (`monitor.store.replays`)."""

    __tablename__ = "replay"

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    since: datetime = _when(nullable=False)
    owner: str
    lease_until: datetime = _when(nullable=False)  # another replay may take it over after


metadata = SQLModel.metadata  # for Alembic's env.py
feed_table: Table = metadata.tables["feed"]
entry_table: Table = metadata.tables["entry"]
forgotten_table: Table = metadata.tables["forgotten_entry"]
match_table: Table = metadata.tables["entry_match"]
state_table: Table = metadata.tables["indicator_state"]
change_table: Table = metadata.tables["status_change"]
digest_table: Table = metadata.tables["digest"]
cycle_table: Table = metadata.tables["cycle"]
verdict_table: Table = metadata.tables["verdict"]
silence_table: Table = metadata.tables["silence"]
silence_end_table: Table = metadata.tables["silence_end"]
cycle_summary_table: Table = metadata.tables["cycle_summary"]
change_summary_table: Table = metadata.tables["change_summary"]
counter_table: Table = metadata.tables["counter"]
definer_table: Table = metadata.tables["definer"]
outcome_state_table: Table = metadata.tables["outcome_state"]
story_table: Table = metadata.tables["story"]
story_key_table: Table = metadata.tables["story_key"]
story_frequent_table: Table = metadata.tables["story_frequent"]
channel_rest_table: Table = metadata.tables["channel_rest"]
replay_table: Table = metadata.tables["replay"]


def sqlite_utc(value: datetime) -> str:
    return sqlite_when(aware(value).astimezone(UTC))


def aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise StoreError(f"store: naive datetime {value.isoformat()}")
    return value
