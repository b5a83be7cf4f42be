"""A failure that repeats is said once, then at the 2nd, 4th, 8th… in a row, each time with
its own count: the HTTP endpoint's threads share one run (`weboutage`), so two requests
failing at once must never both log the same "N requests in a row"."""

from __future__ import annotations

import threading

from monitor.repeats import Failed, Repeats


def test_a_run_is_said_first_then_at_powers_of_two_and_ends_with_its_count() -> None:
    repeats = Repeats()
    said = [repeats.failed("database down") for _ in range(9)]
    assert [s.said for s in said] == ["first", "again", "", "again", "", "", "", "again", ""]
    assert [s.failures for s in said] == list(range(1, 10))
    assert repeats.worked() == 9
    assert repeats.worked() == 0  # nothing failed since: nothing to say
    assert repeats.failed("database down").said == "first"  # a new run


def test_another_error_is_said_whole_and_counts_in_the_same_run() -> None:
    repeats = Repeats()
    repeats.failed("disk full")
    assert repeats.failed("database down") == ("first", 2)
    assert repeats.failed("database down") == ("", 3)  # 3 is not a power of two: quiet
    assert repeats.failed("database down") == ("again", 4)


def test_threads_failing_at_once_each_get_their_own_count() -> None:
    threads, rounds = 8, 250
    repeats = Repeats()
    repeats.failed("database down")  # the first, said whole
    start = threading.Barrier(threads)
    said: list[Failed] = []
    lock = threading.Lock()

    def fail() -> None:
        start.wait()
        mine = [repeats.failed("database down") for _ in range(rounds)]
        with lock:
            said.extend(mine)

    workers = [threading.Thread(target=fail) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(f.failures for f in said) == list(range(2, threads * rounds + 2))  # each once
    assert sorted(f.failures for f in said if f.said == "again") == [2, 4, 8, 16, 32, 64, 128,
                                                                     256, 512, 1024]  # fmt: skip
