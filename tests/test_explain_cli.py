"""`monitor explain` over a real SQLite file filled by the pipeline (tests/webdata.py), and
GET /indicators/{id}/explain/{entry} from the real server: the same document, and one-line
errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import Result

from monitor.definitions import load_definitions
from monitor.store import open_store
from monitor.web import WebServer, create_app
from tests import webdata
from tests.webdata import FLIGHTS, HOSTILE_TITLE, NOW, VISA_HERALD
from tests.webdata import cli_entry_id as entry_id
from tests.webdata import run_cli as run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('explain') / 'monitor.db'}"
    with open_store(url) as store:
        webdata.populate(store, webdata.definitions())
    return url


@pytest.fixture(scope="module")
def env(database: str) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": database,
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }


def test_a_stored_entry_is_explained_node_by_node(env: dict[str, str]) -> None:
    entry = entry_id(env, FLIGHTS)
    result = run(env, "explain", "flight-routes:expanded", "--entry", str(entry))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "flight-routes:expanded: matched (flight*, resum*, Shanghai, Incheon)",
        "  yes all in the entry",
        "      yes any (2 terms) in the entry: flight* (1)",
        "      yes any (3 terms) in the entry: resum* (1)",
        "      yes any (5 terms) in the entry: Shanghai (1), Incheon (1)",
        "sentences:",
        f"    1  {FLIGHTS}",
    ]


def test_a_miss_shows_which_part_failed(env: dict[str, str]) -> None:
    entry = entry_id(env, FLIGHTS)
    result = run(env, "explain", "visa-easing", "--entry", str(entry))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "visa-easing:eased: not matched: the entry lacks terms the rule needs"
        " (the parts marked no below)"
    )
    assert lines[1:5] == [
        "  no  all not in the entry",
        "      no  any (3 terms) not in the entry: none found; missing: China, Chinese, 중국",
        "      yes any (3 terms) in the entry: /\\bkorea/ (1)",
        "      no  any (3 terms) not in the entry: none found;"
        " missing: visa-free, /(extend|eas)\\w* (the )?visa/, 무비자",
    ]


def test_the_terms_a_failing_part_needed_are_in_the_json_the_endpoint_and_its_page(
    env: dict[str, str], server: WebServer
) -> None:
    """The page shows the lines `monitor explain` prints; --json and the endpoint the terms."""
    entry = entry_id(env, FLIGHTS)
    printed = json.loads(run(env, "explain", "visa-easing", "--entry", str(entry), "--json").stdout)
    url = f"{server.url}/indicators/visa-easing/explain/{entry}"
    served = httpx.get(url, timeout=60).json()
    page = httpx.get(url, headers={"Accept": "text/html"}, timeout=60).text

    china, korea, visa = (c["terms"] for c in printed["outcomes"][0]["rule"]["children"])
    assert [(t["missing"], t["missing_more"]) for t in (china, korea, visa)] == [
        (["China", "Chinese", "중국"], 0),
        (["Seoul", "한국"], 0),  # listed, not found, though the part holds by /\bkorea/
        (["visa-free", "/(extend|eas)\\w* (the )?visa/", "무비자"], 0),
    ]
    assert served == printed
    said = "no  any (3 terms) not in the entry: none found; missing: China, Chinese, 중국"
    assert escape(said) in page


def test_title_and_text_need_no_database(tmp_path: Path) -> None:
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    result = run(env, "explain", "north-korea-stance:balance", "--title", "China urges restraint",
                 "--text", "It calls on all sides to talk.", "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["entry"] is None
    assert document["sentences"] == ["China urges restraint", "It calls on all sides to talk."]
    (outcome,) = document["outcomes"]
    assert (outcome["outcome"], outcome["matched"], outcome["terms"]) == (
        "balance", True, ["China", "restraint", "all sides"],
    )  # fmt: skip
    restraint = outcome["rule"]["children"][1]
    assert restraint["terms"]["found"] == [
        {"term": "restraint", "sentences": [1]},
        {"term": "all sides", "sentences": [2]},
    ]
    assert not (tmp_path / "none.db").exists()


def test_a_title_and_text_given_are_cut_as_a_feeds_are_and_it_says_so(tmp_path: Path) -> None:
    """A 100 KB title and text (`--title "$(cat article.txt)"`) are explained as the feed path
    would keep them, the first 1,000 and 20,000 characters (`parse.MAX_TITLE`, `MAX_TEXT`), so
    the words past them, which no check would ever match, are not explained either; stderr
    says what was cut."""
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    title = "China urges " + "a" * 100_000 + " restraint"
    text = "It calls on " + "b " * 50_000 + "all sides to talk."
    result = run(env, "explain", "north-korea-stance:balance", "--title", title, "--text", text,
                 "--json")  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["sentences"][0] == title[:1_000]
    assert len("".join(document["sentences"][1:])) <= 20_000
    (outcome,) = document["outcomes"]
    assert "restraint" not in outcome["terms"] and "all sides" not in outcome["terms"]
    assert result.stderr.splitlines() == [
        "monitor: explain: --title was cut to its first 1,000 characters, as a feed's title is",
        "monitor: explain: --text was cut to its first 20,000 characters, as a feed's text is",
    ]


def test_a_vocabulary_reference_is_named_in_the_text_and_the_json(tmp_path: Path) -> None:
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "MONITOR_INDICATORS_DIR": str(webdata.with_vocabulary(tmp_path)),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    args = ("explain", "visa-easing:eased", "--title", VISA_HERALD)
    text, printed = run(env, *args), run(env, *args, "--json")

    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[1:3] == [
        "  yes all in the entry",
        "      yes any @places.china (3 terms) in the entry: Chinese (1)",
    ]
    rule = json.loads(printed.stdout)["outcomes"][0]["rule"]
    assert [c["vocabulary"] for c in rule["children"]] == ["@places.china", None, None]
    assert rule["vocabulary"] is None
    assert rule["children"][0]["terms"]["vocabularies"] == [
        {"vocabulary": "@places.china", "listed": 3}
    ]


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["visa-easing"], 2, "give --entry ID or --title TEXT, one of them"),
        (["visa-easing", "--entry", "1", "--title", "x"], 2, "one of them"),
        (["visa-easing", "--entry", "1", "--text", "x"], 2, "--text goes with --title"),
        (["visa-easing", "--title", ""], 2, "--title (with --text) is empty: nothing to explain"),
        (["visa-easing", "--title", " ", "--text", "\t"], 2, "is empty: nothing to explain"),
        (["visa-easing:", "--title", "x"], 2, "is not INDICATOR or INDICATOR:OUTCOME"),
        (["visa-easing", "--entry", "0"], 2, "0 is not in the range"),
        (["nope", "--title", "x"], 1, "Error: explain: no indicator 'nope'"),
        (
            ["visa-easing:nope", "--entry", "1"],
            1,
            "explain: indicator 'visa-easing' has no outcome 'nope' (it has eased)",
        ),
        (["visa-easing", "--entry", "999999"], 1, "Error: explain: no entry 999999"),
    ],
)
def test_errors_are_one_line(env: dict[str, str], args: list[str], code: int, said: str) -> None:
    result = run(env, "explain", *args)
    assert result.exit_code == code
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and said in result.stderr


def test_a_title_left_empty_with_a_text_is_explained(env: dict[str, str]) -> None:
    """An entry with no headline is news too: an empty --title with a --text is explained."""
    result = run(env, "explain", "visa-easing", "--title", "", "--text", "Visa-free entry extended")
    assert result.exit_code == 0, result.stderr
    assert "Visa-free entry extended" in result.stdout


def test_a_missing_database_is_one_line_and_none_is_made(tmp_path: Path) -> None:
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "MONITOR_INDICATORS_DIR": str(webdata.WEB / "indicators"),
        "MONITOR_FEEDS_FILE": str(webdata.WEB / "feeds.yaml"),
    }
    result = run(env, "explain", "visa-easing", "--entry", "1")
    assert result.exit_code == 1 and "store: no database at" in result.stderr
    assert not (tmp_path / "none.db").exists()


# ---------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[WebServer]:
    with open_store(database) as store:
        app = create_app(store=store, definitions=webdata.definitions,
                         settings=webdata.settings(), clock=lambda: NOW)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as running:
            yield running


def test_the_endpoint_answers_the_document_monitor_explain_prints(
    env: dict[str, str], server: WebServer
) -> None:
    entry = entry_id(env, VISA_HERALD)
    printed = json.loads(run(env, "explain", "visa-easing", "--entry", str(entry), "--json").stdout)
    served = httpx.get(f"{server.url}/indicators/visa-easing/explain/{entry}", timeout=60)
    one = httpx.get(
        f"{server.url}/indicators/visa-easing/explain/{entry}?outcome=eased", timeout=60
    )

    assert served.status_code == 200
    assert served.headers["cache-control"] == "no-store" and "etag" not in served.headers
    assert served.json() == printed
    assert printed["entry"] == entry and printed["outcomes"][0]["matched"] is True
    assert (printed["feed"], printed["feed_read"]) == ("herald", True)  # it reads every feed
    assert one.json() == printed  # its one outcome


@pytest.mark.parametrize(
    ("path", "code", "detail"),
    [
        ("/indicators/nope/explain/1", 404, "no indicator 'nope'\""),
        ("/indicators/Visa-Easing/explain/1", 404,
         "no indicator 'Visa-Easing'; did you mean 'visa-easing'?"),
        ("/indicators/visa-easing/explain/999999", 404, "explain: no entry 999999"),
        ("/indicators/visa-easing/explain/1?outcome=nope", 422, "has no outcome 'nope'"),
        ("/indicators/visa-easing/explain/1?outcome=eaesd", 422,
         "has no outcome 'eaesd' (it has eased); did you mean 'eased'?"),
        ("/indicators/visa-easing/explain/1_0", 422, "ASCII digits"),
    ],
)  # fmt: skip
def test_the_endpoint_refuses_unknown_ids(
    server: WebServer, path: str, code: int, detail: str
) -> None:
    answer = httpx.get(server.url + path, timeout=60)
    assert answer.status_code == code
    assert detail in json.dumps(answer.json()["detail"])


def test_with_tokens_set_the_endpoint_needs_one(database: str) -> None:
    with open_store(database) as store:
        settings = webdata.settings(api_token="t0ken")
        app = create_app(store=store, definitions=webdata.definitions, settings=settings,
                         clock=lambda: NOW)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as running:
            url = f"{running.url}/indicators/visa-easing/explain/1"
            refused = httpx.get(url, timeout=60)
            allowed = httpx.get(url, headers={"Authorization": "Bearer t0ken"}, timeout=60)
    assert (refused.status_code, allowed.status_code) == (401, 200)


LACKS = """\
id: lacks
group: g
title: parts some of whose terms occur
question: q
outcomes:
  - id: all-of
    label: an all of its own terms, two found
    rule: {all: [Korean, flights, Beijing, Gimpo, {any: [resum*, restart*]}]}
  - id: near-of
    label: a near, one group found
    rule: {near: {terms: [[Incheon, Gimpo], [Osaka, Tokyo]], within: 3}}
  - id: far
    label: a near whose groups are found, too far apart
    rule: {near: {terms: [Korean, hiatus], within: 2}}
"""


def test_what_a_part_some_of_whose_terms_occur_lacks_is_said_alike_everywhere(
    env: dict[str, str], database: str, tmp_path: Path
) -> None:
    """The text, --json, the endpoint and its page: an `all` names its terms not found, a
    `near` those of its groups not found, not the other alternatives of a group found."""
    indicators = tmp_path / "indicators"
    shutil.copytree(webdata.WEB / "indicators", indicators)
    (indicators / "lacks.yaml").write_text(LACKS)
    env = {**env, "MONITOR_INDICATORS_DIR": str(indicators)}
    entry = entry_id(env, FLIGHTS)
    text = run(env, "explain", "lacks", "--entry", str(entry)).stdout.splitlines()
    printed = json.loads(run(env, "explain", "lacks", "--entry", str(entry), "--json").stdout)
    defs = load_definitions(indicators, webdata.WEB / "feeds.yaml")
    with open_store(database) as store:
        app = create_app(store=store, definitions=lambda: defs, settings=webdata.settings(),
                         clock=lambda: NOW)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as server:
            url = f"{server.url}/indicators/lacks/explain/{entry}"
            served = httpx.get(url, timeout=60).json()
            page = httpx.get(url, headers={"Accept": "text/html"}, timeout=60).text

    said = [
        "  no  all (4 terms) not in the entry: Korean (1), flights (1); missing: Beijing, Gimpo",
        "  no  near (within 3) not in the entry: group 1: Incheon (1); group 2: none found;"
        " missing: Osaka, Tokyo",
        "  no  near (within 2) not in the entry: group 1: Korean (1); group 2: hiatus (1);"
        " every group found, but not close enough",
    ]
    assert [text[1], text[4], text[6]] == said
    assert text[2] == "      yes any (2 terms) in the entry: resum* (1)"  # restart* not named
    assert served == printed
    all_of, near_of, far = (o["rule"] for o in printed["outcomes"])
    assert all_of["terms"]["missing"] == ["Beijing", "Gimpo"]
    assert [g["missing"] for g in near_of["groups"]] == [["Gimpo"], ["Osaka", "Tokyo"]]
    assert [bool(g["found"]) for g in near_of["groups"]] == [True, False]
    assert [bool(g["found"]) for g in far["groups"]] == [True, True]
    assert all(escape(line.strip(), quote=False) in page for line in said)


# An entry of a feed the indicator does not read (its `feeds:`) is never its evidence: the
# explanation says which feed the entry is from and whether the indicator reads it, and the text
# (and the page) put a note first. Here visa-easing reads the herald alone; both of its stored
# entries fire its rule: the herald's, and yonhap's behind the hostile headline.


@pytest.fixture(scope="module")
def herald_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return webdata.reading_only(tmp_path_factory.mktemp("herald-only"), "visa-easing", "herald")


@pytest.fixture(scope="module")
def herald_env(env: dict[str, str], herald_only: Path) -> dict[str, str]:
    return {**env, "MONITOR_INDICATORS_DIR": str(herald_only)}


def stored_id(database: str, title: str) -> int:
    with open_store(database) as store:
        return webdata.entry_id(store, title)


def unread_note(entry: int) -> str:
    return (
        f"note: entry {entry} is from feed yonhap, which visa-easing does not read:"
        " it is never evidence for visa-easing, whatever the rule says"
    )


def explained(env: dict[str, str], entry: int) -> tuple[Result, dict[str, Any]]:
    """`monitor explain visa-easing --entry ENTRY` as printed, and its --json document."""
    printed = run(env, "explain", "visa-easing", "--entry", str(entry))
    found = json.loads(run(env, "explain", "visa-easing", "--entry", str(entry), "--json").stdout)
    return printed, found


def test_an_entry_of_a_feed_the_indicator_reads_has_no_note(
    herald_env: dict[str, str], database: str
) -> None:
    printed, found = explained(herald_env, stored_id(database, VISA_HERALD))

    assert printed.exit_code == 0, printed.output
    assert printed.stdout.splitlines()[0].startswith("visa-easing:eased: matched (")
    assert not [line for line in printed.stdout.splitlines() if line.startswith("note:")]
    assert (found["feed"], found["feed_read"]) == ("herald", True)


def test_an_entry_of_a_feed_the_indicator_does_not_read_says_so_first(
    herald_env: dict[str, str], database: str
) -> None:
    entry = stored_id(database, HOSTILE_TITLE)
    printed, found = explained(herald_env, entry)

    assert printed.exit_code == 0, printed.output
    lines = printed.stdout.splitlines()
    assert lines[0] == unread_note(entry)
    assert lines[1].startswith("visa-easing:eased: matched (")  # the rule alone would fire
    assert (found["feed"], found["feed_read"]) == ("yonhap", False)
    assert found["outcomes"][0]["matched"] is True


def test_a_feed_gone_from_the_feeds_file_is_not_read(
    env: dict[str, str], database: str, tmp_path: Path
) -> None:
    feeds = tmp_path / "feeds.yaml"
    kept = (webdata.WEB / "feeds.yaml").read_text().split("  - id: herald")[1]
    feeds.write_text("feeds:\n  - id: herald" + kept)  # yonhap's entries stay stored
    entry = stored_id(database, HOSTILE_TITLE)
    gone = {**env, "MONITOR_FEEDS_FILE": str(feeds)}
    printed = run(gone, "explain", "visa-easing", "--entry", str(entry))
    found = json.loads(run(gone, "explain", "visa-easing", "--entry", str(entry), "--json").stdout)

    assert printed.stdout.splitlines()[0] == unread_note(entry)
    assert (found["feed"], found["feed_read"]) == ("yonhap", False)


def test_words_given_have_no_feed(herald_env: dict[str, str]) -> None:
    args = ["explain", "visa-easing", "--title", VISA_HERALD]
    printed = run(herald_env, *args)
    found = json.loads(run(herald_env, *args, "--json").stdout)

    assert printed.exit_code == 0, printed.output
    assert printed.stdout.splitlines()[0].startswith("visa-easing:eased: matched (")
    assert (found["entry"], found["feed"], found["feed_read"]) == (None, None, None)


def test_the_endpoint_and_its_page_say_the_feed_is_not_read(
    herald_env: dict[str, str], herald_only: Path, database: str
) -> None:
    entry = stored_id(database, HOSTILE_TITLE)
    args = ["explain", "visa-easing", "--entry", str(entry), "--json"]
    printed = json.loads(run(herald_env, *args).stdout)
    defs = load_definitions(herald_only, webdata.WEB / "feeds.yaml")
    with open_store(database) as store:
        app = create_app(store=store, definitions=lambda: defs,
                         settings=webdata.settings(), clock=lambda: NOW)  # fmt: skip
        with WebServer(app, host="127.0.0.1", port=0) as running:
            url = f"{running.url}/indicators/visa-easing/explain/{entry}"
            served = httpx.get(url, timeout=60)
            page = httpx.get(url, headers={"Accept": "text/html"}, timeout=60).text

    assert served.json() == printed
    assert (printed["feed"], printed["feed_read"]) == ("yonhap", False)
    assert escape(unread_note(entry)) in page
    assert page.index(escape(unread_note(entry))) < page.index('<pre class="tree"')


WORDLESS = """\
id: w
group: g
title: t
question: q
outcomes:
  - id: shown
    label: shown
    rule: {scope: sentence, any: [placeholder], none: [denied]}
examples:
  - text: "A headline with no text"
    expect: shown
"""


def test_only_sentences_with_words_are_listed_and_numbered(tmp_path: Path) -> None:
    """A title with no text was listed with a second sentence, "" (and `--json`'s, and `monitor
    test --json`'s explanation, said so); two line breaks in a row left numbers out of those
    printed (1, 2, 5)."""
    (tmp_path / "indicators").mkdir()
    (tmp_path / "indicators" / "w.yaml").write_text(WORDLESS)
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - {id: a, url: 'https://example.org/a.xml'}\n")
    env = {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
        "MONITOR_INDICATORS_DIR": str(tmp_path / "indicators"),
        "MONITOR_FEEDS_FILE": str(tmp_path / "feeds.yaml"),
    }

    alone = json.loads(run(env, "explain", "w", "--title", "A headline", "--json").stdout)
    tested = run(env, "test", "--json")
    text = "A placeholder.\n\nB placeholder! C."
    printed = run(env, "explain", "w", "--title", "Chips", "--text", text)
    document = json.loads(
        run(env, "explain", "w", "--title", "Chips", "--text", text, "--json").stdout
    )

    assert alone["sentences"] == ["A headline"]
    (failed,) = json.loads(tested.stdout)["examples"]["failed"]
    assert failed["explanation"]["sentences"] == ["A headline with no text"]
    assert document["sentences"] == ["Chips", "A placeholder.", "B placeholder!", "C."]
    any_, none = document["outcomes"][0]["rule"]["children"]
    assert any_["terms"]["found"] == [{"term": "placeholder", "sentences": [2, 3]}]
    assert (none["holds"], none["sentences"]) == (True, [1, 2, 3, 4])
    assert printed.stdout.splitlines() == [
        "w:shown: matched (placeholder)",
        "  yes all in sentences 2, 3",
        "      yes any (1 term) in sentences 2, 3: placeholder (2, 3)",
        "      yes none (1 term): no veto fired (none of its terms found)",
        "sentences:",
        "    1  Chips",
        "    2  A placeholder.",
        "    3  B placeholder!",
        "    4  C.",
    ]
