"""The analyst's verdict that stands on an entry as evidence of an outcome, as an explanation of
that outcome carries it (`explain.OutcomeExplanation.verdict`): who said what, when, whether it
agrees with the rule, and what it does to the evidence now. `monitor explain`, its `--json`, the
explain endpoint and its page all read this one model. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.domain import Judgement, Verdict, iso_time, utc_text

__all__ = [
    "StandingVerdict",
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


def not_relevant_words(who: str, when: str) -> str:
    """Beside a piece of evidence an analyst has since judged `no` (the digest lists it under
    the change it backed): `judged not relevant by ana at WHEN`, in the words of the page's
    verdicts ("Not relevant") and of `verdict_words`; `when` as the reader writes times."""
    return f"judged not relevant by {who} at {when}"
