"""Addresses that are not ASCII in MONITOR_DIGEST_TO and MONITOR_DIGEST_FROM: taken, a Unicode
domain written in IDNA A-labels; a malformed one is one line at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.settings import Settings
from tests import test_digest_resend
from tests.test_cli_ops import run, shipped

_no_monitor_variables = test_digest_resend._no_monitor_variables  # autouse fixture

KIM = "김@example.kr"
ANA = "ana@예시.kr"
ANA_SENT = "ana@xn--vv4b11d.kr"  # its domain in A-labels (IDNA 2008, RFC 5890)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("ana@예시..kr", "'ana@예시..kr' is not an email address: its domain 예시..kr is not a "
                        "domain name (IDNA: Empty Label)"),
        ("ana@☃.net", "'ana@☃.net' is not an email address: its domain ☃.net is not a domain "
                      "name (IDNA: Codepoint U+2603 at position 1 of '☃' not allowed)"),
        ("김@", "'김@' is not an email address (e.g. ops@example.com)"),
        ("김 철수@example.kr", "'김 철수@example.kr' is not an email address (e.g. "
                               "ops@example.com)"),
        ("가" * 22 + "@example.kr", f"'{'가' * 22}@example.kr' is not an email address: its part "
                                    "before @ is longer than 64 bytes"),
    ],
)  # fmt: skip
def test_a_malformed_non_ascii_recipient_is_one_line_at_start_up(
    tmp_path: Path, value: str, line: str
) -> None:
    result = run(["check"], tmp_path, shipped(tmp_path) | {"MONITOR_DIGEST_TO": value})

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"Error: settings: MONITOR_DIGEST_TO: {line}"]


def test_non_ascii_recipients_are_taken_and_an_idn_domain_is_kept_in_a_labels() -> None:
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        digest_to=f"{KIM}, 김철수 <kim@예시.kr>, {ANA}, ana@EXAMPLE.kr",
        digest_from="모니터 <monitor@예시.kr>",
    )

    assert s.digest_to == [KIM, "김철수 <kim@xn--vv4b11d.kr>", ANA_SENT, "ana@EXAMPLE.kr"]
    assert s.digest_from == "모니터 <monitor@xn--vv4b11d.kr>"
