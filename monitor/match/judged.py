"""The analyst's verdict that stands on an entry as evidence of an outcome, as an explanation of
that outcome carries it (`explain.OutcomeExplanation.verdict`): who said what, when, whether it
agrees with the rule, and what it does to the evidence now. `monitor explain`, its `--json`, the
explain endpoint and its page all read this one model. Pure: no I/O.

And a piece of evidence listed under a recorded status change that an analyst judged `no`
after it, itself or as a copy of the story judged (`JudgedSince`, `judged_marks`): the digest,
`monitor history` (and `--json`), the history endpoint and the indicator's page all mark it
with `not_relevant_words`; the change stays as it was recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.domain import Evidence, Judgement, StatusChange, Verdict, iso_time, utc_text
from monitor.stories import copy_finder

__all__ = [
    "JudgedSince",
    "StandingVerdict",
    "judged_marks",
    "not_relevant_words",
    "standing_verdict",
    "verdict_line",
    "verdict_words",
]


@dataclass(frozen=True, slots=True)
class StandingVerdict:
    verdict: Judgement  # yes: it is evidence (also when the rule missed it); no: it is not
    who: str  # `cli`, or over HTTP the token's name
    at: str  # when it was given: ISO 8601 in UTC with `Z`, as every time in an answer
    note: str
    agrees: bool  # with the rule: a yes where the outcome matched, a no where it did not
    # a yes on an entry older than the indicator's window, why it adds no evidence now, in the
    # words of the page's verdicts and `monitor verdict list`; "" else
    beyond_window: str = ""


def standing_verdict(verdict: Verdict, matched: bool, beyond_window: str = "") -> StandingVerdict:
    """`verdict`, standing on an entry on which the outcome `matched` (or not)."""
    return StandingVerdict(
        verdict=verdict.verdict,
        who=verdict.who,
        at=iso_time(verdict.at),
        note=verdict.note,
        agrees=matched == (verdict.verdict == Judgement.YES),
        beyond_window=beyond_window,
    )


def verdict_line(standing: StandingVerdict) -> str:
    """Under an outcome's first line: the verdict, and what it does to the evidence (as the
    page's verdicts and `monitor history` tell it), which the rule's `matched` alone would
    misstate: `  but an analyst's verdict stands: no by cli at … ("old news"): not relevant:
    it is not evidence, whatever the rule says`. The page of an explanation says the same words
    (`verdict_words`) beside the tree, its time in the page's zone."""
    lead, does = verdict_words(standing)
    note = f' ("{standing.note}")' if standing.note else ""
    at = utc_text(datetime.fromisoformat(standing.at))
    return f"  {lead}: {standing.verdict} by {standing.who} at {at}{note}: {does}"


def verdict_words(standing: StandingVerdict) -> tuple[str, str]:
    """What comes before the verdict (`but an analyst's verdict stands`, without `but` where it
    agrees with the rule) and what it does to the evidence (`not relevant: it is not evidence,
    whatever the rule says`); a yes on an entry older than the window adds no evidence now."""
    if standing.verdict == Judgement.NO:
        does = ("not relevant, as the rule says" if standing.agrees
                else "not relevant: it is not evidence, whatever the rule says")  # fmt: skip
    elif standing.beyond_window:
        said = "as the rule says" if standing.agrees else "though the rule missed it"
        does = f"confirmed, {said}; {standing.beyond_window}"
    else:
        does = ("confirmed, as the rule says" if standing.agrees
                else "confirmed: it is evidence, though the rule missed it")  # fmt: skip
    but = "" if standing.agrees else "but "
    return f"{but}an analyst's verdict stands", does


def not_relevant_words(who: str, when: str, copy_of: int | None = None) -> str:
    """Beside a piece of evidence an analyst has since judged `no` (listed under the change it
    backed, in the digest, `monitor history` and the indicator's page): `judged not relevant by
    ana at WHEN`, in the words of the page's verdicts ("Not relevant") and of `verdict_words`;
    `when` as the reader writes times. A copy of the story judged (`copy_of`, the entry the
    verdict is on) adds `, as a copy of entry 123`."""
    copy = f", as a copy of entry {copy_of}" if copy_of is not None else ""
    return f"judged not relevant by {who} at {when}{copy}"


@dataclass(frozen=True, slots=True)
class JudgedSince:
    """The analyst's `no` that stands on a piece of evidence listed under a change, given after
    that change: on the piece itself, or (`copy_of`, the entry judged) on a copy of its story,
    which a `no` takes out of the evidence with it."""

    who: str
    at: datetime
    note: str
    copy_of: int | None = None

    @property
    def verdict(self) -> Judgement:
        return Judgement.NO

    def words(self, when: str) -> str:
        """`not_relevant_words`, `when` its time as the reader writes times."""
        return not_relevant_words(self.who, when, self.copy_of)


# A piece of a change's evidence, as its marks are keyed: (entry id, outcome id).
Piece = tuple[int, str]


def judged_marks(
    changes: Sequence[StatusChange],
    judged: Sequence[tuple[Verdict, Evidence]],
    ledes: Mapping[int, str] | None = None,
) -> list[dict[Piece, JudgedSince]]:
    """Per change of `changes`, the pieces of its evidence that the standing verdicts `judged`
    (each with its entry as evidence: `Store.judged_after`) say are no evidence since the
    change: a `no` on the piece given after it, or, on a piece with no verdict of its own (a
    copy confirmed `yes` stays evidence), a `no` given after it on a copy of the piece's story
    (`stories.copy_finder`, through the index clustering uses: a page of changes against
    thousands of `no`s compares each piece with the few stories it could be a copy of;
    `ledes`: the pieces' entries' ledes, which a change does not keep). A later `yes` stands
    instead of a `no`, so it leaves no mark: only standing verdicts are in `judged`."""
    own = {(v.entry_id, v.indicator_id, v.outcome_id): v for v, _entry in judged}
    noes: dict[tuple[str, str], list[tuple[Verdict, Evidence]]] = {}
    for v, entry in judged:
        if v.verdict == Judgement.NO:
            noes.setdefault((v.indicator_id, v.outcome_id), []).append((v, entry))
    finders = {key: _finder(tuple(entry for _v, entry in found)) for key, found in noes.items()}
    by_entry = {key: {v.entry_id: v for v, _e in found} for key, found in noes.items()}
    last_no = {key: max(v.at for v, _e in found) for key, found in noes.items()}
    found_ledes = ledes or {}
    originals: dict[tuple[tuple[str, str], Evidence], int | None] = {}  # a story listed again
    marks: list[dict[Piece, JudgedSince]] = []
    for change in changes:
        mine: dict[Piece, JudgedSince] = {}
        for piece in change.evidence:
            key = (piece.indicator_id, piece.outcome_id)
            verdict = own.get((piece.entry_id, *key))
            if verdict is not None:  # its own verdict says what it is
                if verdict.verdict == Judgement.NO and verdict.at > change.at:
                    mine[piece.entry_id, piece.outcome_id] = _mark(verdict)
                continue
            if key not in finders or last_no[key] <= change.at:  # no `no` since it
                continue
            item = replace(piece, lede=found_ledes.get(piece.entry_id, piece.lede))
            if (key, item) not in originals:  # consecutive changes list mostly the same stories
                originals[key, item] = finders[key](item)
            original = originals[key, item]
            judged_no = by_entry[key].get(original) if original is not None else None
            if judged_no is not None and judged_no.at > change.at:
                mine[piece.entry_id, piece.outcome_id] = _mark(judged_no, copy_of=original)
        marks.append(mine)
    return marks


@functools.lru_cache(maxsize=8)
def _finder(originals: tuple[Evidence, ...]) -> Callable[[Evidence], int | None]:
    """`copy_finder` over the entries judged `no` of one outcome, built once for the pages of an
    export and the polls of a feed, which read the same `no`s until another is given (a build
    over 1,000 is about a fifth of a second)."""
    return copy_finder(originals)


def _mark(verdict: Verdict, copy_of: int | None = None) -> JudgedSince:
    return JudgedSince(verdict.who, verdict.at, verdict.note, copy_of)
