"""Commands over the definitions alone: validate, test, init, new. They open no database."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from monitor.cli.common import (
    Runtime,
    command,
    echo_json,
    json_option,
    one_line,
    pass_runtime,
)
from monitor.cli.stops import stopped_by_signals
from monitor.counts import count
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.domain import Definitions, Entry, Indicator
    from monitor.labeled import LabeledItem, Score
    from monitor.labeledpairs import Comparison

# monitor.labeled.PARTS, spelled out here so that building the command line imports no matcher
# (tests/test_cli_ops.py checks that the two agree).
LABELED_PARTS = ("tune", "score", "all")


GENERAL_NEWS = Path("tests/data/general-news")  # the shipped sample, relative to the checkout


@command("validate", stopped="while checking the definitions and the feeds file; nothing written")
@click.option(
    "--general-news",
    "general_news",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Feed files (or folders of *.xml) of general news to warn about terms that fire on it;"
    f" repeatable. Default: {GENERAL_NEWS}/ when it exists in the working folder (it does"
    " in monitor's checkout); without it, one line on stderr says no term was checked so.",
)
@json_option(
    "Print one JSON object: valid, problems and warnings (every one, each"
    " {file, line, message}), and the indicators and feeds counted when valid."
)
@pass_runtime
def validate_cmd(rt: Runtime, general_news: tuple[Path, ...], as_json: bool) -> None:
    """Check indicators/*.yaml and the feeds file; exit 1 with file:line: message per error.

    Also prints `file:line: warning: ...` for risky terms (a prefix shorter than four
    letters, a term common in general news, a regex that can backtrack for ever: nested
    quantifiers, repeated overlapping alternatives, or out of its time budget on an adversarial
    text; those common in general news of the vocabulary lists no indicator uses, one
    `file: warning: ...` per vocabulary file); warnings leave the exit code 0. At most 20
    problems (and 20 warnings) are printed per file, then `file: … and N more`; --json lists
    every one.

    Example: monitor validate --general-news tests/data/general-news/general-news.xml
    """
    from monitor.definitions import shown_per_file, tag_warnings, unused_terms, warned
    from monitor.definitions import warnings as definition_warnings
    from monitor.errors import DefinitionError
    from monitor.match import Matcher, general_news_warnings, regex_warnings

    problems: list[str] = []
    try:  # loaded once, as the runtime's (`validate` loaded them, then the runtime again)
        rt.definitions  # noqa: B018 (loaded on first use)
    except DefinitionError as exc:
        problems = exc.problems
    found: list[str] = []
    if not problems:
        d = rt.definitions
        if not general_news and not GENERAL_NEWS.is_dir():  # out of the checkout: say so
            click.echo(
                "monitor: validate: no general news to check the terms against"
                f" ({GENERAL_NEWS}/ is not in this folder, as it is in monitor's checkout): pass"
                " --general-news PATH to be warned of terms common in it",
                err=True,
            )
        news = _general_news(general_news or ((GENERAL_NEWS,) if GENERAL_NEWS.is_dir() else ()))
        indicators = warned(d)  # and the vocabulary terms no indicator uses yet
        found = definition_warnings(d) + regex_warnings(indicators)
        if news:  # the matcher is built for them alone (none outside a checkout, without the flag)
            matcher = rt.matcher if indicators is d.indicators else Matcher(indicators)
            unused = {t.where for t in unused_terms(d)}  # one line per vocabulary file
            found += general_news_warnings(matcher, news, unused)
    if as_json:  # a tag no feed has, an indicator reading none: logged by every command
        _validate_json(rt, problems, (tag_warnings(rt.definitions) if not problems else []) + found)
    else:
        for line in shown_per_file(problems) + shown_per_file(found):
            click.echo(line)
        if not problems:
            d = rt.definitions
            click.echo(
                f"ok: {count(len(d.indicators), 'indicator')}, {count(len(d.feeds), 'feed')}"
            )
    if problems:
        raise SystemExit(1)


def _validate_json(rt: Runtime, problems: list[str], warnings: list[str]) -> None:
    from monitor.definitions import problem_parts

    def parts(line: str, prefix: str = "") -> dict[str, Any]:
        path, number, message = problem_parts(line)
        return {"file": path, "line": number, "message": message.removeprefix(prefix)}

    valid = not problems
    echo_json({
        "valid": valid,
        "problems": [parts(p) for p in problems],
        "warnings": [parts(w, "warning: ") for w in warnings],
        "indicators": len(rt.definitions.indicators) if valid else None,
        "feeds": len(rt.definitions.feeds) if valid else None,
    })  # fmt: skip


def _general_news(paths: tuple[Path, ...]) -> list[Entry]:
    """The entries of feed files, and of the *.xml files in folders; a file that is not a feed,
    or a folder without one (its terms were checked against nothing), is a one-line error."""
    files = [f for p in paths for f in (sorted(p.glob("*.xml")) if p.is_dir() else [p])]
    empty = next((p for p in paths if p.is_dir() and not any(p.glob("*.xml"))), None)
    if empty is not None:
        raise click.ClickException(f"validate: general news {empty}: no *.xml file in it")
    entries: list[Entry] = []
    if not files:
        return entries  # nor the parse stack (feedparser, the HTML cleaner) loaded for none
    from monitor.parse import parse_feed

    for path in files:
        try:
            body = path.read_bytes()
            entries += parse_feed(body, feed_id=path.stem, url=path.resolve().as_uri()).entries
        except (OSError, MonitorError) as exc:
            raise click.ClickException(f"validate: general news {path}: {one_line(exc)}") from None
    return entries


@command("test", stopped="before it ran any example; nothing scored")
@click.option(
    "--labeled",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also score the indicators on a labeled TSV (precision and recall).",
)
@click.option(
    "--part",
    type=click.Choice(LABELED_PARTS),
    default="all",
    show_default=True,
    help="Score only the rows of this part of the labeled file (split by a hash of the id).",
)
@click.option(
    "--figures-only",
    is_flag=True,
    help="Show the labeled figures only, not the rows missed or falsely matched: a held-out"
    " part stays unseen.",
)
@click.option(
    "--against",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="With --labeled: also compare with the indicators of this folder (another version of"
    " the rules), row by row: what each outcome gained and lost, and whether that is chance.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="With --labeled: after each miss and false alarm, why: the outcome's tree as `monitor"
    " explain` prints it (--json: each has an `explanation`, as `monitor explain --json` gives).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show every example, passed ones too, with its terms."
)
@json_option("Print one JSON document instead.")
@click.argument("indicator_ids", nargs=-1, metavar="[INDICATOR]...")
@pass_runtime
def test_cmd(
    rt: Runtime,
    labeled: Path | None,
    part: str,
    figures_only: bool,
    against: Path | None,
    explain: bool,
    verbose: bool,
    as_json: bool,
    indicator_ids: tuple[str, ...],
) -> None:
    """Run the examples of every indicator (or of the INDICATORs named); exit 1 on a failure,
    showing why.

    Ctrl-C or SIGTERM: one line saying what it was doing and what it did; exit 130 or 143.

    Example: monitor test north-korea-stance -v
    """
    if explain and figures_only:
        raise click.UsageError(
            "--explain shows the rows that --figures-only keeps unseen: give one or the other"
        )
    if labeled is None:
        source = click.get_current_context().get_parameter_source("part")
        given = {
            "--against": against is not None,
            "--explain": explain,
            "--figures-only": figures_only,
            "--part": source is ParameterSource.COMMANDLINE,
        }
        named = [name for name, used in given.items() if used]
        if named:
            raise click.UsageError(
                f"{named[0]} is about scores on a labeled file: give --labeled too"
            )
    doing = ["running the examples"]  # what it does now, and what it did

    def stopped(why: str) -> str:
        return f"test: {why} while {doing[-1]}"

    with stopped_by_signals(stopped):
        _run(
            rt, indicator_ids, labeled, part, figures_only, against, explain, verbose, as_json,
            doing,
        )  # fmt: skip


def _run(
    rt: Runtime,
    indicator_ids: tuple[str, ...],
    labeled: Path | None,
    part: str,
    figures_only: bool,
    against: Path | None,
    explain: bool,
    verbose: bool,
    as_json: bool,
    doing: list[str],
) -> None:
    """Run the examples, then score on `labeled` (and compare with `against`), with why each
    row was missed or falsely matched when `explain`; `doing` gets each step as it starts, for
    the line a Ctrl-C or SIGTERM ends the command with."""
    from monitor.labeledwhy import Explainer
    from monitor.match import run_examples

    other = None if against is None else _definitions_in(rt, against)
    results = run_examples(_chosen(rt, indicator_ids), rt.matcher)
    failures = [r for r in results if not r.passed]
    ran = f"the examples ran ({len(results) - len(failures)} passed, {len(failures)} failed)"
    doing.append(f"reading {labeled}; {ran}, nothing scored" if labeled else f"showing {ran}")
    why = Explainer(rt.definitions.indicators)  # compiles an indicator when first asked
    if as_json:
        document: dict[str, Any] = {
            "examples": {
                "passed": len(results) - len(failures),
                "failed": [
                    {
                        "indicator": r.indicator_id,
                        "file": rt.definitions.indicator(r.indicator_id).source,
                        "line": r.example.line,
                        "example": r.example.text,
                        "expected": r.expected,
                        "actual": list(r.actual),
                        "terms": list(r.terms),
                        "derived": [{"word": w, "term": t} for w, t in r.derived],
                        "explanation": why.example_json(r),
                    }
                    for r in failures
                ],
            },
        }
        if labeled is not None:
            items = _items(labeled, part)
            doing.append(f"scoring on {labeled}; {ran}, nothing scored")
            scored = _score(rt, items)
            _explaining(explain, doing, ran)
            found = scored.to_json(why=why.row_json if explain else None)
            if figures_only:
                del found["misses"], found["false_alarms"]
            document["labeled"] = {"file": str(labeled), "part": part, **found}
            if other is not None:
                doing.append(f"comparing with the indicators of {against}; {ran}, scored")
                compared = _compare(rt, items, other).to_json(rows=not figures_only)
                document["labeled"]["against"] = {"indicators": str(against), **compared}
        echo_json(document, indent=2)
        if failures:
            raise SystemExit(1)
        return
    for r in results if verbose else failures:
        click.echo(
            f"{'ok  ' if r.passed else 'FAIL'} {r.indicator_id} "
            f"({rt.definitions.indicator(r.indicator_id).source}:{r.example.line})"
        )
        click.echo(f"  example:  {r.example.text}")
        if r.example.body:
            click.echo(f"  body:     {r.example.body}")
        click.echo(f"  expected: {r.expected}")
        click.echo(f"  actual:   {', '.join(r.actual)}")
        click.echo(f"  terms found: {', '.join(r.terms) or '(none)'}")
        for word, term in r.derived:
            click.echo(f"  {not_a_form(word, term)}")
        if not r.passed:
            for line in why.example_lines(r):
                click.echo(line)
    click.echo(f"{len(results) - len(failures)} passed, {len(failures)} failed")
    if labeled is not None:
        items = _items(labeled, part)
        doing.append(f"scoring on {labeled}; {ran}, nothing scored")
        click.echo(f"labeled: {labeled}, part {part}")
        scored = _score(rt, items)
        _explaining(explain, doing, ran)
        click.echo(scored.report(errors=not figures_only, why=why.row_lines if explain else None))
        if other is not None:
            click.echo(
                f"\nagainst the indicators of {against} (+: this version has it, -: that one)"
            )
            doing.append(f"comparing with the indicators of {against}; {ran}, scored")
            click.echo(_compare(rt, items, other).report(rows=not figures_only))
    if failures:
        raise SystemExit(1)


def not_a_form(word: str, term: str) -> str:
    """What `monitor test` says of a noun of a missed example made from a term (cooperation,
    of cooperate), which the term's word forms, its inflections, do not reach."""
    from monitor.wordforms import word_forms

    return (
        f"not matched: {word}, a noun made from {term} (a term matches its inflections only:"
        f" {', '.join(word_forms(term))}); add {word} to the rule to match it"
    )


def _explaining(explain: bool, doing: list[str], ran: str) -> None:
    if explain:
        doing.append(f"explaining the misses and false alarms; {ran}, scored")


def _chosen(rt: Runtime, indicator_ids: tuple[str, ...]) -> tuple[Indicator, ...]:
    """The indicators named (all when none is); an unknown id is a usage error."""
    known = {i.id: i for i in rt.definitions.indicators}
    unknown = [i for i in indicator_ids if i not in known]
    if unknown:  # one line, one parenthesis: the usage error's `(see 'monitor test --help')`
        within = str(rt.settings.indicators_dir / "*.yaml")
        named = (
            rt.definitions.no_indicator(unknown[0], within=within)
            if len(unknown) == 1
            else f"no indicators {', '.join(map(repr, unknown))} in {within}"
        )
        raise click.BadParameter(named, param_hint="INDICATOR")
    return tuple(known[i] for i in dict.fromkeys(indicator_ids)) or rt.definitions.indicators


def _items(path: Path, part: str) -> list[LabeledItem]:
    from monitor.labeled import load_labeled, select

    try:
        return select(load_labeled(path), part)
    except ValueError as exc:  # a malformed TSV: file:line: message
        raise click.ClickException(str(exc)) from exc


def _score(rt: Runtime, items: list[LabeledItem]) -> Score:
    from monitor.labeled import score

    return score(items, rt.matcher, rt.definitions.indicators)


def _definitions_in(rt: Runtime, folder: Path) -> Definitions:
    """The indicators of another folder (another version of the rules), read with the same
    feeds file; a definition error there is one line naming its problems (20 per file; exit
    1)."""
    from monitor.definitions import load_definitions, shown_per_file
    from monitor.errors import DefinitionError

    try:
        other = load_definitions(folder, rt.settings.feeds_file)
    except DefinitionError as exc:
        shown = "; ".join(shown_per_file(exc.problems))
        raise click.ClickException(f"--against {folder}: {shown}") from None
    if not other.indicators:  # a watch list's folder for its indicators/: nothing compared
        inner = folder / "indicators"
        hint = f"; did you mean {inner}?" if inner.is_dir() else ""
        raise click.ClickException(f"--against {folder}: no indicator file in it{hint}")
    return other


def _compare(rt: Runtime, items: list[LabeledItem], other: Definitions) -> Comparison:
    from monitor.labeledpairs import compare
    from monitor.match import Matcher

    return compare(
        items,
        (rt.matcher, rt.definitions.indicators),
        (Matcher(other.indicators), other.indicators),
    )


def _folder(_ctx: click.Context, _param: click.Parameter, value: str) -> Path:
    """An empty DIRECTORY (`monitor init "$DIR"` with DIR unset) is no folder: it would lay
    the watch list out here, a .env among it."""
    if not value.strip():
        raise click.BadParameter("an empty name is no folder (`monitor init .` lays it out here)")
    return Path(value)


@command(
    "init",
    stopped=lambda p: (
        f"while laying out {p['directory']}; the files written so far stay "
        "(`monitor init` writes over none)"
    ),
)
@click.argument("directory", type=click.Path(file_okay=False), callback=_folder)
def init_cmd(directory: Path) -> None:
    """Lay out a fresh watch list in DIRECTORY: indicators/ with an example indicator,
    config/feeds.yaml and a .env listing every setting (commented out, at its default).

    It passes `monitor validate` and `monitor test` as it is; existing files are never
    overwritten (nothing is written when one exists).

    Example: monitor init my-watch-list
    """
    from monitor.scaffold import init

    written = init(directory)
    for path in written:
        click.echo(f"wrote {path}")
    go = "" if directory == Path() else f"cd {shlex.quote(str(directory))} && "
    click.echo(f"next: {go}monitor validate && monitor test && monitor check")


@command(
    "new",
    stopped=lambda p: (
        f"while writing the skeleton of {p['indicator_id']}; its file, if written, stays"
    ),
)
@click.argument("indicator_id", metavar="ID")
@pass_runtime
def new_cmd(rt: Runtime, indicator_id: str) -> None:
    """Add the skeleton of indicator ID to the indicators folder (MONITOR_INDICATORS_DIR).

    It is valid as it is, with a placeholder term and examples: edit it, then run
    `monitor validate` and `monitor test`.

    Example: monitor new ferry-routes
    """
    from monitor.scaffold import new_indicator

    path = new_indicator(rt.settings.indicators_dir, indicator_id)
    click.echo(f"wrote {path}")


COMMANDS = (
    validate_cmd,
    test_cmd,
    init_cmd,
    new_cmd,
)
