"""The frame every page shares: the template environment, the visitor's slots (CSRF token,
"signed in as") and the page's policy, times as the pages show them, the pages' addresses, and
the small pages in that frame (an error, the sign-in page, the session bar, an explanation).
The index and an indicator's page, and the rows they list, are `monitor.page`'s.
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from monitor.counts import count, plural
from monitor.languages import marked_language
from monitor.match.explain import EntryExplanation
from monitor.match.explaintext import feed_note, numbered_sentences, outcome_blocks
from monitor.match.judged import StandingVerdict, verdict_words
from monitor.views import COLOURS, PALETTE, clean, web_url

# The pages run no script and load nothing: anything injected could not run or call out.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Where a page, rendered once for everyone, takes the visitor's CSRF token and "signed in as"
# (monitor.signin fills them per request). Autoescaping turns `<` in any feed text into `&lt;`,
# so no text of a feed can contain a slot.
CSRF_SLOT = "<!--csrf-->"
SESSION_SLOT = "<!--session-->"


def format_time(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in " + _span(-seconds)
    return "just now" if seconds < 60 else _span(seconds) + " ago"


def _span(seconds: float) -> str:
    """'2 hours', rounded to the nearest (a silence of 2 h begun just now ends 'in 2 hours')."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds / size + 0.5)
            return count(n, unit)
    return f"{int(seconds)} s"


def indicator_url(indicator_id: str) -> str:
    return f"/indicators/{quote(indicator_id, safe='')}/page"


def explain_url(indicator_id: str, entry_id: int, outcome_id: str | None = None) -> str:
    """GET /indicators/{id}/explain/{entry}, of one outcome (`?outcome=`) or of every one."""
    url = f"/indicators/{quote(indicator_id, safe='')}/explain/{entry_id}"
    return url if outcome_id is None else f"{url}?outcome={quote(outcome_id, safe='')}"


def evidence_anchor(entry_id: int, outcome_id: str) -> str:
    """The id of an entry as evidence of an outcome on the indicator's page: of its evidence
    item, or, once a `no` took it out, of its newest verdict; a verdict's redirect goes there."""
    return f"evidence-{entry_id}-{quote(outcome_id, safe='')}"


def verdict_url(indicator_id: str) -> str:
    """Where the page's verdict buttons post their form."""
    return f"{indicator_url(indicator_id)}/verdict"


def silence_url(indicator_id: str) -> str:
    """Where the page's silence form posts (and, with `/end`, its end button)."""
    return f"{indicator_url(indicator_id)}/silence"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = clean
    env.filters["language"] = marked_language  # the `lang` of a feed's or a person's text
    env.filters["count"], env.filters["plural"] = count, plural  # `n | count("feed")`
    env.globals["palette"] = PALETTE
    env.globals["colours"] = COLOURS  # every status's colour, as the digest draws it
    return env


def slots() -> dict[str, Markup]:
    return {"csrf": Markup(CSRF_SLOT), "session": Markup(SESSION_SLOT)}


def render_error(status: int, detail: str, *, now: datetime, zone: tzinfo) -> str:
    """The page a browser gets for an error (an unknown indicator's page, say), in the frame
    of the other pages and with a link back to every indicator (and the visitor's slots)."""
    return (
        environment()
        .get_template("page-error.html")
        .render(
            status=status,
            reason=HTTPStatus(status).phrase,
            detail=detail,
            now=format_time(now, zone),
            **slots(),
        )
    )


def render_explanation(
    explanation: EntryExplanation,
    *,
    indicator_title: str,
    headline: str,
    link: str,
    now: datetime,
    zone: tzinfo,
) -> str:
    """GET /indicators/{id}/explain/{entry} for a browser: the entry's headline and link, each
    outcome's tree as `monitor explain` prints it (`outcome_blocks`), and after it, in its own
    paragraph, the analyst's verdict that stands on the entry in the words `monitor explain`
    prints under the tree's first line (`_verdict_said`), after the note on a feed the
    indicator does not read (`feed_note`), then the sentences they number; a link back to the
    indicator's page."""
    shown = [o.outcome for o in explanation.outcomes]
    target = explanation.indicator + (f":{shown[0]}" if len(shown) == 1 else "")
    return (
        environment()
        .get_template("page-explain.html")
        .render(
            heading=f"Why {target} on entry {explanation.entry}",
            indicator_title=indicator_title,
            indicator_id=explanation.indicator,
            back=indicator_url(explanation.indicator),
            entry=explanation.entry,
            headline=clean(headline) or "(no headline)",
            href=web_url(link),
            link=clean(link),
            trees=[
                (outcome, "\n".join(lines), _verdict_said(outcome.verdict, zone))
                for outcome, lines in zip(
                    explanation.outcomes, outcome_blocks(explanation), strict=True
                )
            ],
            note=feed_note(explanation),
            sentences=numbered_sentences(explanation.sentences),
            lang=marked_language(" ".join(explanation.sentences)),  # the title's too
            now=format_time(now, zone),
            **slots(),
        )
    )


def _verdict_said(standing: StandingVerdict | None, zone: tzinfo) -> dict[str, str] | None:
    """The words around a standing verdict on the page (`verdict_words`: `monitor explain`'s),
    and its time in the page's zone; None where no verdict stands."""
    if standing is None:
        return None
    lead, does = verdict_words(standing)
    return {"lead": lead, "when": format_time(datetime.fromisoformat(standing.at), zone),
            "does": does}  # fmt: skip


def render_signin(
    *, next_path: str, problem: str | None, names: int, now: datetime, zone: tzinfo
) -> str:
    """GET /signin: a token (of `names` named ones) for a session; `problem` after a refusal."""
    return (
        environment()
        .get_template("page-signin.html")
        .render(next_path=next_path, problem=problem, names=names, now=format_time(now, zone))
    )


def render_session(name: str, csrf: str) -> str:
    """The bar of a signed-in visitor's pages: who, and the sign-out button (a CSRF form)."""
    return environment().get_template("page-session.html").render(name=name, csrf=csrf)
