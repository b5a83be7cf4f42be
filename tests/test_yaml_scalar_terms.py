"""A term YAML would read as a number, a bool or a date (`- 3.10`, `- no`, `- 2026-01-05`,
`- 1e3`) is the text the author wrote: definitions read every term from the YAML node's
source text, never from the value PyYAML would construct (3.1, False, a date, 1000.0), in
rules (`any`, `all`, `none`, `near`) and in vocabulary lists alike."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import VALID, env_for, invoke

INDICATOR = """\
id: x
group: g
title: t
question: q
outcomes:
  - id: yes
    label: l
    rule:
      all:
        - any: [3.10, no, 2026-01-05, 1e3, 2026, "@v.n"]
        - none: [off]
        - near: {terms: [1.50, on], within: 3}
examples:
  - {text: "Python 3.10 on 1.50 day", expect: yes}
  - {text: "Python 3.1 on 1.50 day", expect: none}
  - {text: "Say no on 1.50", expect: yes}
  - {text: "Talks 2026-01-05 on 1.50", expect: yes}
  - {text: "Talks 1e3 on 1.50", expect: yes}
  - {text: "Talks 1000 on 1.50", expect: none}
  - {text: "Talks 2026 on 1.50", expect: yes}
  - {text: "Version 7.0 on 1.50", expect: yes}
  - {text: "Version 7 on 1.50", expect: none}
  - {text: "Code 010 on 1.50", expect: yes}
  - {text: "Code 010 on 1.5", expect: none}
  - {text: "Code 010 on 1.50 off", expect: none}
"""


def test_terms_yaml_would_read_as_numbers_bools_or_dates_match_as_written(
    tmp_path: Path,
) -> None:
    indicators = tmp_path / "indicators"
    (indicators / "vocab").mkdir(parents=True)
    (indicators / "x.yaml").write_text(INDICATOR)
    (indicators / "vocab" / "v.yaml").write_text("n:\n  - 7.0\n  - 010\n")
    env = env_for(tmp_path, indicators, VALID / "feeds.yaml")

    validated = invoke(["validate"], env)
    tested = invoke(["test"], env)

    assert validated.exit_code == 0, validated.output
    assert tested.exit_code == 0, tested.output
    assert "12 passed, 0 failed" in tested.stdout
