"""Definition files that are not plain files, as they turn up in a user's `indicators/`: a folder
or a named pipe under a `.yaml` name, a link to nothing or to itself, a file far over the size
limit, two vocabularies of one name. Each is a `file:line: message` problem (the other
indicators are read as usual), and a running daemon's reloader notices it and keeps the last
valid set."""

from __future__ import annotations

import os
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.definitions import MAX_FILE_BYTES, load_definitions, validate
from monitor.errors import DefinitionError
from monitor.reloading import Reloader

VALID = Path(__file__).parent / "data" / "definitions" / "valid"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the valid definitions: `indicators/` (two indicators) and `feeds.yaml`."""
    shutil.copytree(VALID, tmp_path / "defs")
    return tmp_path / "defs"


def _make(kind: str, path: Path) -> None:
    if kind == "a folder":
        path.mkdir()
    elif kind == "a link to itself":
        path.symlink_to(path.name)
    elif kind == "a link to nothing":
        path.symlink_to(path.parent / "moved-away" / path.name)
    else:
        os.mkfifo(path)


NOT_FILES: list[tuple[str, str]] = [
    ("a folder", "cannot read file: a directory, not a file"),
    ("a link to itself", "cannot read file: a symbolic link that loops"),
    ("a link to nothing", "cannot read file: a symbolic link to {path.parent}/moved-away/"),
    ("a pipe", "cannot read file: not a regular file (a pipe, socket or device)"),
]


@pytest.mark.parametrize(("kind", "message"), NOT_FILES)
def test_an_indicator_that_is_not_a_file_is_a_problem_not_dropped(
    folder: Path, kind: str, message: str
) -> None:
    # Such an entry was passed over without a word: the indicator the user meant to add (or
    # had, before its target moved) was simply not monitored.
    path = folder / "indicators" / "visa.yaml"
    _make(kind, path)
    problems = validate(folder / "indicators", folder / "feeds.yaml")
    assert len(problems) == 1 and problems[0].startswith(
        f"{path}:1: " + message.format(path=path)
    ), problems


@pytest.mark.parametrize(("kind", "message"), NOT_FILES)
def test_a_vocabulary_that_is_not_a_file_is_a_problem(
    folder: Path, kind: str, message: str
) -> None:
    (folder / "indicators" / "vocab").mkdir()
    path = folder / "indicators" / "vocab" / "actors.yaml"
    _make(kind, path)
    problems = validate(folder / "indicators", folder / "feeds.yaml")
    assert len(problems) == 1 and problems[0].startswith(
        f"{path}:1: " + message.format(path=path)
    ), problems


def test_an_emacs_lock_is_not_a_definition(folder: Path) -> None:
    # Emacs keeps `.#name.yaml`, a link to nothing, while a buffer of name.yaml is modified.
    (folder / "indicators" / ".#xi-visit.yaml").symlink_to("ana@host.1234:1700000000")
    (folder / "indicators" / "vocab").mkdir()
    (folder / "indicators" / "vocab" / ".#actors.yaml").symlink_to("ana@host.1234:1700000000")
    assert validate(folder / "indicators", folder / "feeds.yaml") == []


def test_a_file_far_over_the_limit_is_not_read_into_memory(folder: Path) -> None:
    # A data dump saved under indicators/ by mistake was read whole at every reload.
    path = folder / "indicators" / "dump.yaml"
    with path.open("wb") as file:
        file.truncate(50 * MAX_FILE_BYTES)  # sparse: no disk space taken
    tracemalloc.start()
    try:
        problems = validate(folder / "indicators", folder / "feeds.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems == [
        f"{path}:1: file is too large ({50 * MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES})"
    ]
    assert peak < 5 * MAX_FILE_BYTES


def test_two_vocabulary_files_of_one_name_are_a_problem(folder: Path) -> None:
    # `@actors.china` could mean either; the second file silently replaced the first.
    vocab = folder / "indicators" / "vocab"
    vocab.mkdir()
    (vocab / "actors.yaml").write_text("china: [China]\n")
    (vocab / "actors.yml").write_text("china: [Beijing]\n")
    problems = validate(folder / "indicators", folder / "feeds.yaml")
    assert problems == [
        f"{vocab / 'actors.yml'}:1: another vocabulary file is named 'actors': "
        f"{vocab / 'actors.yaml'}"
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda path: path.symlink_to(path.name),
        lambda path: path.symlink_to(path.parent / "moved-away.yaml"),
        lambda path: path.mkdir(),
    ],
    ids=["a link to itself", "a link to nothing", "a folder"],
)
def test_a_running_daemon_sees_such_an_entry_and_keeps_the_last_valid_set(
    folder: Path, change: Callable[[Path], None]
) -> None:
    indicators, feeds = folder / "indicators", folder / "feeds.yaml"
    reloader = Reloader(indicators, feeds, load_definitions(indicators, feeds), settle=0)
    before = reloader.definitions
    change(indicators / "visa.yaml")
    with pytest.raises(DefinitionError) as caught:
        reloader.poll()
    assert [p.split(":", 2)[:2] for p in caught.value.problems] == [
        [str(indicators / "visa.yaml"), "1"]
    ]
    assert reloader.definitions is before and reloader.validity.invalid


def test_a_file_caught_half_written_is_not_taken_for_the_new_set(folder: Path) -> None:
    # An editor or `cp` truncates the file, then writes it: a poll in between read the first
    # half, valid YAML with an outcome and the examples cut off, and the daemon checked (and
    # recorded changes) with it until the next tick.
    indicators, feeds = folder / "indicators", folder / "feeds.yaml"
    now = [0.0]
    reloader = Reloader(
        indicators, feeds, load_definitions(indicators, feeds), settle=1.0, clock=lambda: now[0]
    )
    before = reloader.definitions
    path = indicators / "north-korea-stance.yaml"
    full = path.read_text()
    with path.open("w") as file:
        file.write(full[: full.index("  - id: balance")])  # a line ends there: valid YAML
        file.flush()
        now[0] = path.stat().st_mtime_ns / 1e9 + 0.1
        assert reloader.poll() is None  # written a tenth of a second ago: it may go on
        file.write(full[full.index("  - id: balance") :] + "# edited\n")
    written = path.stat().st_mtime_ns / 1e9
    now[0] = written + 0.5
    assert reloader.poll() is None and reloader.definitions is before
    now[0] = written + 1.0  # unchanged for the settle time: taken
    after = reloader.poll()
    assert after is not None and reloader.definitions is after
    outcomes = [o.id for o in after.indicator("north-korea-stance").outcomes]
    assert outcomes == ["pressure", "balance"] and not reloader.validity.invalid


def test_an_invalid_file_being_written_is_not_reported_until_it_settles(folder: Path) -> None:
    indicators, feeds = folder / "indicators", folder / "feeds.yaml"
    now = [0.0]
    reloader = Reloader(
        indicators, feeds, load_definitions(indicators, feeds), settle=1.0, clock=lambda: now[0]
    )
    path = indicators / "xi-visit.yaml"
    path.write_text(path.read_text().replace("outcomes:", "outcomes: [", 1))
    now[0] = path.stat().st_mtime_ns / 1e9
    assert reloader.poll() is None and not reloader.validity.invalid
    now[0] += 1.0
    with pytest.raises(DefinitionError):
        reloader.poll()
    assert reloader.validity.invalid


@pytest.mark.parametrize(
    ("start", "newline"),
    [(b"", b"\r\n"), (b"\xef\xbb\xbf", b"\n"), (b"\xef\xbb\xbf", b"\r\n"), (b"", b"\r")],
    ids=["CRLF", "BOM", "BOM and CRLF", "CR"],
)
def test_a_file_saved_by_a_windows_or_mac_editor_reads_as_any_other(
    folder: Path, start: bytes, newline: bytes
) -> None:
    # What already worked when audited; kept so that it goes on working.
    path = folder / "indicators" / "xi-visit.yaml"
    lines = path.read_bytes().splitlines()
    path.write_bytes(start + newline.join(lines) + newline)
    assert validate(folder / "indicators", folder / "feeds.yaml") == []
    typo = [line.replace(b"title: ", b"titel: ") for line in lines]
    path.write_bytes(start + newline.join(typo) + newline)
    number = next(n for n, line in enumerate(typo, 1) if line.startswith(b"titel:"))
    assert f"{path}:{number}: unknown key 'titel' in an indicator" in "\n".join(
        validate(folder / "indicators", folder / "feeds.yaml")
    )


@pytest.mark.timeout(30)  # it waited for a writer to the pipe for ever
def test_a_feeds_file_that_is_a_pipe_is_a_problem_not_a_hang(folder: Path) -> None:
    feeds = folder / "feeds.yaml"
    feeds.unlink()
    os.mkfifo(feeds)
    assert validate(folder / "indicators", feeds) == [
        f"{feeds}:1: cannot read file: not a regular file (a pipe, socket or device)"
    ]
