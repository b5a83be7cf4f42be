"""The frozen types every stage exchanges. Pure: imports only the standard library,
`monitor.identity` (an item of a feed, `Entry`, and its keys: re-exported here with `digest_of`
and `normalize`) and `monitor.ruletree` (a rule as data: its terms and operators' nodes).

definitions -> (Indicator, Feed) ; parse -> Entry ; match -> Match ;
store -> Evidence, FeedHealth ; evaluate -> Status ; store <- StatusChange
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum, StrEnum
from typing import Literal

from monitor.identity import Entry as Entry
from monitor.identity import digest_of as digest_of
from monitor.identity import normalize as normalize
from monitor.ruletree import Rule, Term

# ---------------------------------------------------------------- text

# Control characters but tab and line breaks, and the bidi overrides, embeddings and isolates:
# a NUL is refused by PostgreSQL (one would fail the whole batch it is stored in), an unmatched
# right-to-left override turns the rest of a headline around wherever it is shown, and an
# escape sequence printed reaches the terminal. Parse drops them from a feed's text, and the
# labeled TSV reader from its cells.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def without_controls(text: str) -> str:
    """`text` without `CONTROLS`. A printable text holds none (they are control and format
    characters), and saying so scans a text faster than the pattern does."""
    return text if text.isprintable() else CONTROLS.sub("", text)


# What an entry keeps of a feed item's title and text (`parse`), and of those `monitor explain`
# is given: no rule is matched against more.
MAX_TITLE = 1_000
MAX_TEXT = 20_000

# A cell a spreadsheet would take for a formula starts with one of these (and might then run
# `=WEBSERVICE(…)` or a DDE command from a headline); a leading `'` makes it text.
FORMULA_STARTS = ("=", "+", "-", "@")


def inert_cell(text: str) -> str:
    """`text` as a spreadsheet cell that is never a formula: `'` before one that would be, and
    before one that starts with `'` and then such a character (so `read_cell` gives it back)."""
    if text.startswith(FORMULA_STARTS) or (text[:1] == "'" and text[1:].startswith(FORMULA_STARTS)):
        return "'" + text
    return text


def read_cell(cell: str) -> str:
    """The text of a cell `inert_cell` wrote (or a spreadsheet saved as it showed it)."""
    return cell[1:] if cell[:1] == "'" and inert_cell(cell[1:]) == cell else cell


def as_written(text: str) -> str:
    """A term in a message as its YAML file writes it in single quotes: `'/\\bvisa\\b/'`, its
    backslashes as they are, where `repr` doubles them (a regex author then looks for a `\\\\b`
    the file does not hold); `repr` when it holds a quote or a character that is not seen."""
    return f"'{text}'" if text.isprintable() and "'" not in text else repr(text)


# ---------------------------------------------------------------- times


def iso_time(moment: datetime) -> str:
    """A moment as people and tools read it everywhere (CLI --json, the API): ISO 8601 in UTC
    with `Z`, always to the whole second, `2026-01-06T07:00:00Z` (the fraction cut, not rounded:
    never later than the moment), so that one fixed format parses every time field; what
    happened in one second is ordered by the ids and the order of the lists. A naive moment is
    taken to be UTC already."""
    return as_utc(moment).isoformat(timespec="seconds").removesuffix("+00:00") + "Z"


def utc_text(moment: datetime) -> str:
    """A moment as lines and messages for people write it (the CLI's output and its errors):
    `2026-01-06 07:00 UTC`, to the minute. A naive moment is taken to be UTC already."""
    return f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"


_UTC_TEXT = re.compile(r"\b(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d) UTC\b")


def zoned_text(text: str, zone: tzinfo) -> str:
    """`text` with each moment `utc_text` wrote in it written in `zone` instead, as the page, the
    digest and alerts write every time (`2026-12-02 18:15 KST`): the reason of an `unknown`
    (`failing since 2026-12-02 09:15 UTC`) is kept and given (API, CLI) in UTC, but shown there
    beside times in `zone`, where a second zone would read as another moment."""

    def local(found: re.Match[str]) -> str:
        try:
            year, month, day, hour, minute = (int(part) for part in found.groups())
            moment = datetime(year, month, day, hour, minute, tzinfo=UTC)
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        except (ValueError, OverflowError):
            return found.group(0)

    return _UTC_TEXT.sub(local, text)


def as_utc(moment: datetime) -> datetime:
    """A moment in UTC; a naive one is taken to be UTC already. One that UTC cannot hold (the
    first hours of year 1 east of Greenwich, the last of 9999 west of it) becomes the
    earliest or latest moment there is, so that "since" such a moment still means what it
    says instead of failing."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == datetime.min.year else datetime.max
        return edge.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The one clock: now, aware, in UTC. Stages take `now` (or a `clock`) as an argument;
    only the edges (cli, scheduler, web) read this by default, so tests pass their own."""
    return datetime.now(UTC)


# How far ahead of a clock a recorded time may lie before it says the clock went back (a host's
# clock corrected after running ahead), and not that another daemon's clock is a little ahead.
CLOCK_SLACK = timedelta(minutes=5)


def parse_http_date(value: str) -> datetime | None:
    """An HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, Retry-After, If-Modified-Since) as an
    aware moment (a date without a zone is UTC); None when it cannot be read."""
    from email.utils import parsedate_to_datetime  # loads the email package: not at start-up

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# ---------------------------------------------------------------- durations

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_DURATION = timedelta(days=3650)  # ten years: longer is a typo, and dates run out at 9999


class TooLong(ValueError):
    """A duration longer than MAX_DURATION: written right, but no date can be that far."""


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """'90s', '15m', '2h', '30d', '1w' (or seconds as a number) -> timedelta; ValueError for
    anything else, and for a duration longer than MAX_DURATION (every window, interval and
    silence is added to or taken from a date)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif m := _DURATION.match(str(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h, 30d, 1w)")
    if not seconds <= MAX_DURATION.total_seconds():  # also NaN
        raise TooLong(f"too long: {value!r} (at most {MAX_DURATION.days}d, ten years)")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def how_long(value: timedelta) -> str:
    """A time gone by as a reader counts it, rounded down to its largest unit: `3 days`, `1
    day`, `26h` as `1 day`, `5h`, `47m` (at least `1m`); not `1563m` (`format_duration`
    writes a setting's value)."""
    if value.days:
        return f"{value.days} day{'s' * (value.days != 1)}"
    minutes = max(1, int(value.total_seconds() // 60))
    return f"{minutes // 60}h" if minutes >= 60 else f"{minutes}m"


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Outcome:
    id: str
    label: str
    rule: Rule
    corroborate: int = 2
    unless: tuple[Term, ...] = ()  # cues that cancel a match in the sentence of its terms


@dataclass(frozen=True)
class Example:
    text: str  # matched as the entry's title (a headline)
    expect: str  # an outcome id, or "none"
    body: str = ""  # optional lede, matched as the entry's text
    line: int = 0


@dataclass(frozen=True)
class FeedSelector:
    """Which feeds an indicator reads: by id or by tag. Empty means every feed."""

    ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.ids and not self.tags


@dataclass(frozen=True)
class Indicator:
    id: str
    group: str
    title: str
    question: str
    outcomes: tuple[Outcome, ...]
    window: timedelta = timedelta(days=30)
    feeds: FeedSelector = FeedSelector()
    examples: tuple[Example, ...] = ()
    source: str = ""  # the file it was loaded from
    hash: str = ""  # sha256 of the file's bytes: recorded with every status change

    def outcome(self, outcome_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)

    def no_outcome(self, outcome_id: str) -> str:
        """How every command and answer says that it has no outcome `outcome_id` (after its
        stage): `indicator 'visa-easing' has no outcome 'nope' (it has eased)`, with the one
        meant when it is a letter or two off one, or in another case (`meant`): `… has no
        outcome 'eaesd' (it has eased); did you mean 'eased'?`."""
        known = [o.id for o in self.outcomes]
        return (
            f"indicator {self.id!r} has no outcome {outcome_id!r} (it has {', '.join(known)})"
            + meant(outcome_id, known)
        )


@dataclass(frozen=True)
class Feed:
    id: str
    url: str
    tags: tuple[str, ...] = ()
    interval: timedelta | None = None  # None: the MONITOR_CHECK_INTERVAL setting
    title: str = ""
    silent_after: timedelta | None = None  # None: MONITOR_FEED_SILENT_AFTER; 0: never silent


@dataclass(frozen=True)
class Definitions:
    indicators: tuple[Indicator, ...]
    feeds: tuple[Feed, ...]
    hash: str = ""
    # every term written in a vocabulary file (`where` its file:line), used or not: warned of
    vocabulary: tuple[Term, ...] = field(default=(), compare=False)

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)

    def no_indicator(self, indicator_id: str, *, within: str = "") -> str:
        """How every command and answer says that it has no indicator `indicator_id` (after its
        stage), `within` the files it names when given, with the one meant when it is a letter
        or two off one, or in another case (`meant`, as for an outcome): `no indicator
        'visa-easng'; did you mean 'visa-easing'?`."""
        where = f" in {within}" if within else ""
        known = (i.id for i in self.indicators)
        return f"no indicator {indicator_id!r}{where}" + meant(indicator_id, known)

    def feeds_for(self, indicator: Indicator) -> tuple[str, ...]:
        """Ids of the feeds an indicator reads."""
        sel = indicator.feeds
        if sel.everything:
            return tuple(f.id for f in self.feeds)
        tags = set(sel.tags)
        return tuple(f.id for f in self.feeds if f.id in sel.ids or tags.intersection(f.tags))


def meant(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'talks'?` after an unknown name a letter or two off a known one (or the
    same in another case, `Shown` for `shown`), as after a mistyped key; else "". The one
    helper behind the definitions' hints (keys, vocabularies, an example's `expect`) and an
    unknown outcome's and indicator's (`Indicator.no_outcome`, `Definitions.no_indicator`)."""
    folded = {k.casefold(): k for k in sorted(known)}
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.75)
    return f"; did you mean '{folded[close[0]]}'?" if close else ""


# ---------------------------------------------------------------- matches


@dataclass(frozen=True)
class Match:
    """An entry satisfies one outcome of one indicator."""

    entry_key: str
    indicator_id: str
    outcome_id: str
    terms: tuple[str, ...]  # the raw terms that fired
    snippet: str  # the text around the first hit


# ---------------------------------------------------------------- status


class Level(Enum):
    NONE = 0
    REPORTED = 1
    CONFIRMED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


QUIET = "quiet"
MIXED = "mixed"
UNKNOWN = "unknown"
INITIAL = UNKNOWN  # an indicator's status before it is first evaluated: no feed was read for it


LEDE_CHARS = 200  # of an entry's text: its lede, which copies of a story share


@dataclass(frozen=True)
class Evidence:
    """A stored match with what the status model needs of its entry."""

    entry_id: int
    indicator_id: str
    outcome_id: str
    title: str
    link: str
    publisher: str
    time: datetime  # published if known and not in the future, else first seen
    terms: tuple[str, ...]  # empty for an entry an analyst added (`judged` "yes")
    snippet: str
    judged: str = ""  # "yes" when an analyst's standing verdict confirms it, else ""
    lede: str = ""  # the first LEDE_CHARS characters of the entry's text


@dataclass(frozen=True)
class FeedHealth:
    feed_id: str
    failing_since: datetime | None  # first failure since the last success; None if healthy
    interval: timedelta
    dead: bool = False  # gone: its last answer was 410 (tried again once a fetch.GONE_RETRY)
    last_error: str = ""
    never_read: bool = False  # no fetch of it has ever succeeded (or it was never fetched)
    last_read: datetime | None = None  # its last successful fetch
    # When it is (or was) next due: a check moves it on; a feed that started afresh is due
    # from then until a check tries it (`evaluate.overdue`). None: not known.
    due_at: datetime | None = None


UnreadWhy = Literal["gone", "never_read", "not_tried", "failing", "not_read", "clock_set_back"]


@dataclass(frozen=True)
class UnreadFeed:
    """A feed an indicator reads that supports no status at the moment asked
    (`evaluate.unread_feeds`): why, since when, and its last error, whole."""

    feed_id: str
    why: UnreadWhy  # gone (410); never read (and `not_tried` since due); failing for two
    # intervals; not read for two intervals; read after the moment asked (the clock set back)
    since: datetime | None  # failing: since its first failure; not_tried: due; not_read and
    # clock_set_back: its last read; gone: its failure, if known; never_read: None
    error: str = ""  # its last error ("" without one)


@dataclass(frozen=True)
class OutcomeState:
    outcome_id: str
    level: Level
    sources: tuple[str, ...]  # distinct publishers, one per story
    evidence: tuple[Evidence, ...]  # one per story (copies collapsed), newest first…
    stories: int  # …the newest of this many stories inside the window


@dataclass(frozen=True)
class Status:
    indicator_id: str
    status: str  # quiet | unknown | mixed | OUTCOME:LEVEL
    outcomes: tuple[OutcomeState, ...]
    definition_hash: str
    reason: str = ""  # why, when the status is unknown: "feeds not read: ..."
    unread: tuple[UnreadFeed, ...] = ()  # the feeds it reads that support no status now: all
    # of them when the status is unknown for it (`reason` names the first few)

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        """Evidence of the outcome(s) at the highest level."""
        top = max((o.level.value for o in self.outcomes), default=0)
        if top == 0:
            return ()
        return tuple(e for o in self.outcomes if o.level.value == top for e in o.evidence)

    @property
    def evidence_count(self) -> int:
        """Stories behind the status: of the outcome(s) at the highest level (`evidence` holds
        the newest of them)."""
        top = max((o.level.value for o in self.outcomes), default=0)
        if top == 0:
            return 0
        return sum(o.stories for o in self.outcomes if o.level.value == top)


@dataclass(frozen=True)
class StatusChange:
    indicator_id: str
    at: datetime
    old_status: str
    new_status: str
    evidence: tuple[Evidence, ...]
    definition_hash: str
    replayed: bool = False
    id: int | None = field(default=None, compare=False)
    reason: str = ""  # why it changed, when the evidence does not say: feeds not read, a verdict
    # How many evidence items it had, when `evidence` holds fewer: a recorded change keeps the
    # top ones (the newest stories) only. 0: `evidence` is all of it.
    evidence_total: int = field(default=0, compare=False)
    # The indicator as defined when it was recorded, shown once its file is gone: title, group
    # and its outcomes' (id, label); "" and () for a change recorded before migration 0023.
    title: str = field(default="", compare=False)
    group: str = field(default="", compare=False)
    labels: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # When it was recorded, which can be after `at`: a change to unknown is dated when the
    # feeds stopped supporting the status, a check's when its cycle began. A silence holds
    # what is recorded while it is in force. None: not recorded yet (or recorded at `at`).
    recorded_at: datetime | None = field(default=None, compare=False)
    # The feeds that supported no status when it was recorded, each whole (`Status.unread`):
    # what `reason` names the first few of. None: not known (recorded before migration 0034).
    unread: tuple[UnreadFeed, ...] | None = field(default=None, compare=False)

    @property
    def recorded(self) -> datetime:
        """When it was (or would be) recorded: `recorded_at`, else `at`."""
        return self.at if self.recorded_at is None else self.recorded_at

    @property
    def evidence_count(self) -> int:
        """How many evidence items it had (`evidence` may hold only the top ones)."""
        return max(self.evidence_total, len(self.evidence))


class Judgement(StrEnum):
    """An analyst's verdict on one entry as evidence of one outcome."""

    YES = "yes"  # it is evidence (also when the rule missed it)
    NO = "no"  # it is not, whatever the rule says


@dataclass(frozen=True)
class Verdict:
    """One verdict row: append-only; the latest per (entry, indicator, outcome) stands."""

    entry_id: int
    indicator_id: str
    outcome_id: str
    verdict: Judgement
    who: str
    at: datetime
    note: str = ""
    id: int | None = field(default=None, compare=False)

    @property
    def reason(self) -> str:
        """How a status change it caused names it."""
        note = f": {self.note}" if self.note else ""
        return f"verdict: {self.verdict} on entry {self.entry_id} by {self.who}{note}"
