"""A digest worth reading: each piece of evidence listed once (what changed first, the standing
status refers back to it), and every status in the colour the page draws it in."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.definitions import load_definitions
from monitor.digest import build_digest, render
from monitor.page import render_error
from monitor.timeline import look
from monitor.views import COLOURS, tone_of
from monitor.webmodels import OutcomeOut
from tests.test_digest import GOOD_LINK, RECIPIENTS, SENDER, change, evidence, parts, sample

ROOT = Path(__file__).resolve().parent.parent


def test_each_piece_of_evidence_is_listed_once_and_the_standing_status_refers_back() -> None:
    text, html = parts(build_digest(sample(), sender=SENDER, recipients=RECIPIENTS))

    for part in (text, html):
        assert part.count("Xi tells Lee China will enforce sanctions") == 1
    standing = text[text.index("STANDING STATUS") :]
    assert "(2 pieces of evidence listed under What changed, above)" in standing
    anchor = re.search(r'<div id="(change-1-nk)"', html)
    assert anchor is not None
    assert f'<a href="#{anchor.group(1)}"' in html[html.index("Standing status") :]


def test_a_standing_status_lists_evidence_another_standing_status_lists_too() -> None:
    """One article behind two indicators, and no change since the last digest: each standing
    status lists it. Nothing is "listed under What changed" when nothing is listed there."""
    shared = evidence("China eases visas as flights resume", GOOD_LINK, hour=1)
    first, second = sample().indicators
    data = sample(
        changes=(),
        indicators=(
            dataclasses.replace(first, evidence=(shared,), evidence_count=1),
            dataclasses.replace(
                second, status="eased:reported", evidence=(shared,), evidence_count=1
            ),
        ),
    )

    text, html = render(data)

    assert text.count("China eases visas as flights resume") == 2
    assert html.count("China eases visas as flights resume") == 2
    assert "listed under What changed" not in text + html
    assert 'href="#"' not in html


def test_evidence_of_a_second_change_refers_back_to_the_first() -> None:
    shared = evidence("Xi tells Lee China will enforce sanctions", GOOD_LINK, hour=1)
    other = evidence("Lee and Xi agree on hotline", "https://example.org/2", hour=3)
    data = sample(
        changes=(
            change("nk", "quiet", "pressure:reported", shared, hour=2),
            change("nk", "pressure:reported", "pressure:confirmed", shared, other, hour=5),
        )
    )

    text, html = render(data)

    assert text.count("Xi tells Lee") == 1 and html.count("Xi tells Lee") == 1
    assert text.count("Lee and Xi agree on hotline") == 1
    assert "(1 piece of evidence listed under an earlier change, above)" in text


def test_evidence_shared_with_another_indicator_s_change_is_listed_under_each() -> None:
    """One article behind two indicators' changes (a games licence story: regulatory relief and
    culture let back in). Before, the second change said "1 piece of evidence listed under an
    earlier change" and pointed to the first indicator's, with that indicator's matched terms:
    the reader of the second saw one story behind a `confirmed`, which needs two sources."""
    games = evidence("China grants publishing licences to Korean games", GOOD_LINK, hour=1)
    hallyu = evidence("Hallyu ban easing sparks K-pop return", "https://example.org/2", hour=3)
    as_culture = dataclasses.replace(games, indicator_id="tw", terms=("games",))
    hallyu = dataclasses.replace(hallyu, indicator_id="tw", terms=("Hallyu ban",))
    data = sample(
        changes=(
            change("nk", "quiet", "pressure:reported", games, hour=2),
            change("tw", "opened:reported", "opened:confirmed", hallyu, as_culture, hour=3),
        )
    )

    text, html = render(data)

    second = text[text.index("* Taiwan Strait patrols") : text.index("STANDING STATUS")]
    assert "China grants publishing licences to Korean games" in second
    assert "matched: games" in second
    assert "earlier change" not in second
    assert html.count("China grants publishing licences to Korean games") == 2


def test_the_snippet_of_the_digest_does_not_repeat_the_headline() -> None:
    item = dataclasses.replace(
        evidence("China eases visa rules", GOOD_LINK, hour=1),
        snippet="China eases visa rules. Seoul welcomes the move.",
        terms=("/eas\\w+ visa/",),
    )
    text, _ = render(sample(changes=(change("nk", "quiet", "pressure:reported", item),)))

    assert '"Seoul welcomes the move."' in text
    assert "matched: eases visa" in text
    assert "/eas" not in text  # a regex is shown as the words it matched, never its source


def _page_css() -> dict[str, str]:
    """The page's CSS rules of the status badges: selector -> declarations."""
    html = render_error(404, "x", now=datetime(2026, 1, 6, tzinfo=UTC), zone=ZoneInfo("UTC"))
    return dict(re.findall(r"^(\.[\w.]+) \{ ([^}]*) \}$", html, re.M))


@pytest.mark.parametrize("tone", sorted(COLOURS))
def test_the_page_draws_every_status_from_the_one_colour_table(tone: str) -> None:
    colour = COLOURS[tone]
    declarations = _page_css()["." + tone.replace(" ", ".")]
    assert f"background:{colour.background};" in declarations
    assert f"color:{colour.text};" in declarations


@pytest.mark.parametrize(
    "status", ["quiet", "unknown", "mixed", "pressure:reported", "balance:confirmed", "gone:x"]
)
def test_a_status_has_the_same_colour_in_the_digest_and_on_the_page(status: str) -> None:
    definitions = load_definitions(ROOT / "indicators", ROOT / "config" / "feeds.yaml")
    indicator = definitions.indicator("north-korea-stance")
    ids = [o.id for o in indicator.outcomes]
    assert ids[:2] == ["pressure", "balance"]
    outcomes = tuple(
        OutcomeOut(id=o.id, label=o.label, level="none", sources=[], evidence_count=0)
        for o in indicator.outcomes
    )
    view = dataclasses.replace(
        sample().indicators[0], id=indicator.id, status=status, outcomes=outcomes, evidence=()
    )
    _, html = render(sample(indicators=(view,), changes=()))

    tone = look(definitions, indicator.id, status).tone  # the page's class
    assert tone == tone_of(status, ids)
    colour = COLOURS[tone]
    badge = re.search(
        r'<span data-status="[^"]*" style="(background:[^"]*)">', html[html.index("Standing") :]
    )
    assert badge is not None
    assert badge.group(1).startswith(f"background:{colour.background};color:{colour.text};")


def test_an_outcome_takes_its_hue_from_its_place_in_the_indicator() -> None:
    assert tone_of("pressure:confirmed", ["balance", "pressure"]) == "o1 confirmed"
    assert tone_of("pressure:confirmed", ["a", "b", "c", "d", "pressure"]) == "o0 confirmed"
    assert tone_of("pressure:confirmed", []) == "other"  # an outcome no longer defined


def test_an_unknown_indicator_says_unknown_once_with_its_reason_under_it() -> None:
    why = "feeds not read: yonhap: never read (fetch: connection refused)"
    lines = sample().indicators
    unknown = dataclasses.replace(lines[1], reason=why)
    text, html = render(sample(indicators=(lines[0], unknown)))

    standing = text[text.index("STANDING STATUS") : text.index("FEED HEALTH")]
    assert standing.count("⚠ unknown") == 1
    assert "  ⚠ unknown   (since 2026-01-05 12:00 KST)\n  " + why in standing
    html_standing = html[html.index("Standing status") : html.index("Feed health")]
    assert html_standing.count("⚠ unknown") == 1 and why in html_standing


def test_the_evidence_of_a_change_to_unknown_is_not_read_as_its_cause() -> None:
    """A change to unknown keeps the evidence read before its feeds went unread; under a bare
    "Evidence:" a reader took those headlines for why it became unknown."""
    old = evidence("China backs UN sanctions", GOOD_LINK, hour=1)
    new = evidence("China presses Pyongyang", GOOD_LINK + "?2", hour=3)
    to_unknown = change("nk", "pressure:reported", "unknown", old, hour=4)
    to_reported = change("nk2", "quiet", "pressure:reported", new, hour=3)
    text, html = render(sample(changes=(to_unknown, to_reported)))

    said = "Evidence, all read before the feeds went unread (not why it is unknown):"
    changed = text[text.index("WHAT CHANGED") : text.index("STANDING STATUS")]
    blocks = changed.split("\n* ")[1:]
    (unknown,) = [b for b in blocks if "→ ⚠ unknown" in b]
    (reported,) = [b for b in blocks if "→ ⚠ unknown" not in b]
    assert said in unknown and "China backs UN sanctions" in unknown
    assert said not in reported and "  Evidence:" in reported
    assert html.count(said) == 1
