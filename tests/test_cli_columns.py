"""What the CLI prints of Chinese, Japanese and Korean text is measured in the columns a terminal
gives it (two for a wide character), not in characters: `monitor test --labeled` cuts each miss's
headline and lede at 160 columns, so a Korean one no longer runs to twice an English one's width,
and never between the halves of a character (a Hangul syllable spelled in jamo included); a cut
one ends with `…`, in its last column, so the reader sees that it was cut."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.columns import clip, width

# Long headlines no rule of the shipped indicators matches, labeled as if one should: misses.
HEADLINES = {
    "en": "Rain and strong winds are expected along the coast on Sunday, forecasters said " * 3,
    "ko": "주말 동안 남부 해안 지역에 강한 비와 바람이 예상된다고 기상청이 밝혔다 " * 4,
    "ko-nfd": unicodedata.normalize("NFD", "주말 동안 남부 해안 지역에 강한 비와 바람이 " * 8),
    "zh": "气象部门表示周末南部沿海地区将有强降雨和大风天气请市民注意出行安全" * 4,
    "ja": "気象庁によると週末は南部の沿岸地域で強い雨と風が予想されるので注意が必要です" * 4,
}
MISS = re.compile(r"^MISS visa-easing:eased (\S+) \((\w+)\): (.*)$")


def test_a_miss_is_cut_at_160_columns_in_every_script(tmp_path: Path) -> None:
    """Cut at 160 characters, the Korean, Chinese and Japanese headlines took 290 to 320 columns
    (the dev corpus's did), and a syllable spelled in jamo could lose its vowel."""
    labeled = tmp_path / "labeled.tsv"
    rows = ["id\ttitle\ttext\tvisa-easing:eased"]
    rows += [f"{key}\t{headline.strip()}\t\ty" for key, headline in HEADLINES.items()]
    labeled.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["test", "--labeled", str(labeled)], env={})

    assert result.exit_code == 0, result.output
    shown = dict(
        (found[1], found[3]) for line in result.stdout.splitlines() if (found := MISS.match(line))
    )
    assert set(shown) == set(HEADLINES)
    for key, text in shown.items():
        assert text.endswith("…"), key  # it said nothing of the cut
        assert HEADLINES[key].startswith(text.removesuffix("…"))
        composed = unicodedata.normalize("NFC", text)  # a syllable in jamo: one wide character
        assert 158 <= width(composed) <= 160, (key, width(composed))  # a wide one left out whole
    assert len(shown["ko"]) < len(shown["en"]) * 0.6
    syllables = unicodedata.normalize("NFC", shown["ko-nfd"].removesuffix("…"))
    assert not any("\u1100" <= char <= "\u11ff" for char in syllables)  # no half syllable


@pytest.mark.parametrize(
    ("text", "columns", "clipped"),
    [
        ("abcdef", 6, "abcdef"),  # fits: as it is, no mark
        ("abcdefg", 6, "abcde…"),
        ("abc defg", 5, "abc…"),  # no space before the mark
        ("ab한국어", 6, "ab한…"),  # 국 would take columns 5 and 6: left out whole
        ("ab한국어", 7, "ab한국…"),
        ("ab한국어", 8, "ab한국어"),
        ("abce\u0301fgh", 5, "abce\u0301…"),  # the accent stays with its letter
        ("abc", 0, ""),
    ],
)
def test_a_clipped_text_ends_with_an_ellipsis_in_its_columns(
    text: str, columns: int, clipped: str
) -> None:
    """Cut, a text ends with `…`, counted in its columns, never half a wide character; one
    that fits is left as it is. It was cut with no sign of it."""
    assert clip(text, columns) == clipped
    assert width(clip(text, columns)) <= columns
