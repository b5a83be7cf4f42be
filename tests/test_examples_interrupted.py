"""Ctrl-C or SIGTERM in `monitor test --labeled FILE`: one line saying what it was doing and
what it did (the examples ran, nothing scored), exit 130 or 143, not click's `Aborted!`."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from tests.test_check_interrupted import SIGNALS
from tests.test_cli_ops import shipped
from tests.test_leases import wait_for
from tests.test_replay_held import monitor


@SIGNALS
def test_a_labeled_test_stopped_while_it_reads_the_file_says_the_examples_ran(
    tmp_path: Path, signum: int, code: int, why: str
) -> None:
    labeled = tmp_path / "labeled.tsv"
    os.mkfifo(labeled)  # read until the test closes it: the command waits on it
    test = monitor("test", "--labeled", str(labeled), env=shipped(tmp_path))
    writer: list[int] = []

    def reading() -> bool:  # the command opened the file (a FIFO opens once it has a reader)
        try:
            writer.append(os.open(labeled, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        return bool(writer) or test.poll() is not None

    try:
        wait_for(reading, "monitor test reading the labeled file")
        test.send_signal(signum)
        out, err = test.communicate(timeout=60)
    finally:
        for fd in writer:
            os.close(fd)

    assert test.returncode == code, err
    said = re.fullmatch(
        f"Error: test: {why} while reading {re.escape(str(labeled))}; the examples ran "
        "\\((\\d+) passed, 0 failed\\), nothing scored",
        err.splitlines()[-1],
    )
    assert said is not None, err
    assert out.splitlines()[-1] == f"{said[1]} passed, 0 failed"  # shown before it stopped
    assert "Traceback" not in err and "Aborted!" not in err
