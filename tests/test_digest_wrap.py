"""The digest's text part wrapped by display columns, every line by one rule (continuation
indented two more): Chinese, Japanese and Korean headlines fit the line (a wide character takes
two columns), Chinese and Japanese break between characters, Korean at its spaces, and a link,
an id or a command in backticks never breaks."""

from __future__ import annotations

import dataclasses
import itertools
import re
import textwrap
import unicodedata
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.columns import wrap
from monitor.digest import build_digest
from monitor.mail import deliver
from monitor.silences import Silence
from tests.smtpserver import running_smtp_server
from tests.test_digest import (
    RECIPIENTS,
    SENDER,
    change,
    evidence,
    line,
    parts,
    sample,
    smtp_settings,
)

# Headlines as the publishers wrote them (Yonhap, Xinhua, NHK, Asahi).
KOREAN = (
    "이재명 대통령, 시진핑 국가주석과 정상회담…한중 외교안보 2+2 대화 신설하고 단체관광객 "
    "비자 면제 확대에 합의했다고 대통령실이 밝혀"
)
CHINESE = (
    "习近平同韩国总统李在明举行会谈，双方同意建立外交安全对话机制，扩大人文交流，"
    "恢复和增加中韩航线航班，推动两国关系健康稳定发展"
)
JAPANESE = (
    "李在明大統領が習近平国家主席と首脳会談、外交・安全保障対話の新設と団体観光客の"
    "ビザ免除の拡大で合意「戦略的協力パートナーシップを全面的に回復」と大統領府が発表"
)
KOREAN_LINK = (
    "https://www.yna.co.kr/view/AKR20260106051200001?section=politics/all&site=major_news01"
)
CJK_LINK = "https://zh.wikipedia.org/wiki/李在明访华"  # an IRI: wide characters inside a link
XINHUA_LEDE = (
    "新华社北京1月6日电 国家主席习近平6日在人民大会堂同来华进行国事访问的韩国总统李在明举行会谈"
    f"（背景资料：{CJK_LINK}）。两国元首同意共同推动中韩战略合作伙伴关系行稳致远。"
)
CLOSING = "、。，．：；？！）」』】ー・"  # a line never starts with one of these
OPENING = "（「『【"  # nor ends with one of these


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def cjk_digest() -> str:
    """The text part of a digest of the three headlines, sent through a real SMTP server and
    read back as it arrived."""
    korean = evidence(KOREAN, KOREAN_LINK, hour=1, publisher="yna.co.kr")
    chinese = dataclasses.replace(
        evidence(CHINESE, "https://www.news.cn/world/20260106/c8a1.html", hour=2),
        publisher="news.cn", snippet=XINHUA_LEDE, entry_id=3,
    )  # fmt: skip
    japanese = dataclasses.replace(
        evidence(JAPANESE, "https://www3.nhk.or.jp/news/html/20260106/k1001.html", hour=3),
        publisher="nhk.or.jp", snippet=f"「{JAPANESE}」", entry_id=4,
    )  # fmt: skip
    verdict = "verdict: yes on entry 20260106051200001 by 김민수: 외교부 발표문과 일치함"
    moved = dataclasses.replace(
        change("nk", "quiet", "pressure:confirmed", korean, chinese, japanese), reason=verdict
    )
    message = build_digest(sample(changes=(moved,)), sender=SENDER, recipients=RECIPIENTS)
    with running_smtp_server() as server:
        deliver(message, smtp_settings(server))
        [received] = server.messages
    return parts(received.message)[0]


def block(text: str, start: str, until: str) -> list[str]:
    """The lines, stripped, from the one that starts with `start` to the one before `until`."""
    lines = [line.strip() for line in text.splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    end = next(i for i, line in enumerate(lines) if i > first and line.startswith(until))
    return lines[first:end]


def test_cjk_headlines_fit_the_line_by_display_columns() -> None:
    text = cjk_digest()
    wide = [line.strip() for line in text.splitlines() if columns(line) > 76]
    assert wide == [KOREAN_LINK]  # a link is never broken: the one line wider than 76
    for headline, publisher in ((CHINESE, "news.cn,"), (JAPANESE, "nhk.or.jp,")):
        lines = block(text, f"- {headline[:4]}", publisher)  # broken between characters
        assert len(lines) >= 2 and "".join(lines) == f"- {headline}"  # nothing lost or added
        assert all(columns(line) >= 64 for line in lines[:-1])  # each line filled
    korean = block(text, f"- {KOREAN[:4]}", "yna.co.kr,")  # at its spaces: every word whole
    assert len(korean) == 2 and " ".join(korean) == f"- {KOREAN}"


def test_no_line_starts_with_a_closing_mark_or_ends_with_an_opening_one() -> None:
    lines = [line.strip() for line in cjk_digest().splitlines() if line.strip()]
    assert [line for line in lines if line[0] in CLOSING] == []
    assert [line for line in lines if line[-1] in OPENING] == []


def test_links_and_entry_ids_are_never_broken() -> None:
    lines = cjk_digest().splitlines()
    assert f"      {KOREAN_LINK}" in lines
    assert any(CJK_LINK in line for line in lines)  # the IRI in a snippet, wide characters and all
    assert any("entry 20260106051200001" in line for line in lines)


WORDS = st.text("abcdefghijklmnopqrstuvwxyz.,-:/", min_size=1, max_size=30)


@given(st.lists(st.tuples(WORDS, st.integers(1, 3)), max_size=40))
def test_single_column_text_wraps_as_textwrap_does(words: list[tuple[str, int]]) -> None:
    """Text of one-column characters gets the lines the digest got before (textwrap's); a run of
    spaces between two words on a line stays, as textwrap keeps it, and goes at a break."""
    text = "".join(word + " " * spaces for word, spaces in words).rstrip(" ")
    for width, indent, hang in ((76, 0, 0), (76, 4, 6), (30, 2, 4), (12, 6, 2)):
        expected = textwrap.fill(
            text, width, initial_indent=" " * indent, subsequent_indent=" " * hang,
            break_long_words=False, break_on_hyphens=False,
        )  # fmt: skip
        assert wrap(text, width, indent, hang) == expected


def test_a_korean_word_wider_than_a_line_breaks_between_its_syllables() -> None:
    word = "한중외교안보대화" * 6  # 48 syllables, 96 columns: no space to break at
    lines = wrap(f"가 {word} 나", 40, 2).splitlines()
    assert all(columns(line) <= 40 for line in lines)
    assert len(lines) == 3 and "".join(lines).replace(" ", "") == f"가{word}나"


# Values as long as the definitions and feeds allow: an outcome id an analyst wrote out, a
# publisher's registrable domain, a CJK title and group, the longest day and zone names.
OUTCOME = "pressure-through-strict-enforcement-of-un-security-council-sanctions"
INDICATOR = "beijing-stance-on-north-korean-sanctions-enforcement-and-dialogue"
PUBLISHER = "international-correspondents-network-asia-bureau.example.co.kr"
CJK_TITLE = "北京在朝鲜半岛问题上的表态：是否加大对平壤的制裁执行力度，还是强调对话与平衡"
CJK_GROUP = (
    "朝鲜半岛：北京对平壤的制裁执行、对话立场与中韩外交安全对话机制和人文交流、航线恢复的进展"
)
DAY = timedelta(days=1)


def long_digest() -> str:
    """The text part of a digest of those values, with a command to copy (no MONITOR_PUBLIC_URL:
    the evidence left out is `monitor history ID`'s), as a real SMTP server received it."""
    confirmed = dataclasses.replace(
        evidence(CJK_TITLE, KOREAN_LINK, hour=1, publisher=PUBLISHER), judged="yes",
        indicator_id=INDICATOR, outcome_id=OUTCOME, time=datetime(2026, 9, 30, 7, 30, tzinfo=UTC),
    )  # fmt: skip
    moved = dataclasses.replace(
        change(INDICATOR, f"{OUTCOME}:reported", f"{OUTCOME}:confirmed", confirmed),
        at=datetime(2026, 9, 30, 8, tzinfo=UTC), replayed=True, evidence_total=7,
    )  # fmt: skip
    standing = dataclasses.replace(
        line(INDICATOR, CJK_TITLE, CJK_GROUP, f"{OUTCOME}:confirmed", moved.at, (confirmed,)),
        evidence_count=7,
    )
    silence = Silence(INDICATOR, OUTCOME, "state visit", PUBLISHER, moved.at, moved.at + DAY)
    data = sample(
        day=date(2026, 9, 30), generated_at=datetime(2026, 9, 30, 22, tzinfo=UTC),
        timezone="America/Argentina/ComodRivadavia", changes=(moved,), indicators=(standing,),
        page_url=None, silences=(silence,),
    )  # fmt: skip
    message = build_digest(data, sender=SENDER, recipients=RECIPIENTS)
    with running_smtp_server() as server:
        deliver(message, smtp_settings(server))
        [received] = server.messages
    return parts(received.message)[0].replace("\r\n", "\n")


def test_every_line_of_the_text_part_fits_but_a_link_or_a_command_alone() -> None:
    text = long_digest()
    command = f"`monitor history {INDICATOR}`"  # copied whole: never broken at its spaces
    wide = [line.strip() for line in text.splitlines() if columns(line) > 76]
    assert wide == [KOREAN_LINK, command, command]  # each alone on its line
    assert [line for line in text.splitlines() if line.count("`") % 2] == []


@pytest.mark.parametrize(
    ("section", "first", "whole"),
    [
        ("MONITOR", "MONITOR DIGEST,", "MONITOR DIGEST, Wednesday 30 September 2026"
         " (America/Argentina/ComodRivadavia)"),
        ("WHAT CHANGED", f"{OUTCOME} —", f"{OUTCOME} — reported → {OUTCOME} — confirmed"
         "   (2026-09-30 05:00 -03, replayed)"),
        ("WHAT CHANGED", f"{PUBLISHER},", f"{PUBLISHER}, 2026-09-30 04:30 -03, confirmed by an"
         " analyst"),
        ("STANDING STATUS", f"{OUTCOME} —", f"{OUTCOME} — confirmed   (since 2026-09-30 05:00"
         " -03)"),
        ("STANDING STATUS", CJK_GROUP[:4], CJK_GROUP),
    ],
)  # fmt: skip
def test_a_long_status_publisher_time_or_group_line_continues_indented(
    section: str, first: str, whole: str
) -> None:
    lines = long_digest().splitlines()
    begins = next(i for i, line in enumerate(lines) if line.startswith(section))
    start = next(i for i in range(begins, len(lines)) if lines[i].lstrip().startswith(first))
    indent = len(lines[start]) - len(lines[start].lstrip())
    rest = list(itertools.takewhile(lambda line: line.startswith(" " * (indent + 2)),
                                    lines[start + 1 :]))  # fmt: skip
    assert rest and all(not line[indent + 2].isspace() for line in rest)
    shown = [lines[start].strip(), *(line.strip() for line in rest)]
    joined = "".join(shown) if whole == CJK_GROUP else " ".join(shown)
    assert joined.replace("   ", " ") == whole.replace("   ", " ")
    assert all(columns(line) <= 76 for line in lines[start : start + 1 + len(rest)])


def test_a_command_in_backticks_is_never_broken() -> None:
    command = "`monitor history a-long-indicator-id`"
    for width in range(20, 60):
        lines = wrap(f"- and 3 more pieces of evidence: see {command}.", width, 4, 6).splitlines()
        assert any(f"{command}." in line for line in lines), width
        assert all(columns(line) <= width for line in lines if command not in line), width


def test_a_gap_of_spaces_stays_on_a_line_and_goes_at_a_break() -> None:
    assert wrap("quiet → pressure   (2026-01-06)", 76, 2) == "  quiet → pressure   (2026-01-06)"
    assert (
        wrap("quiet → pressure   (2026-01-06)", 20, 2, 4) == "  quiet → pressure\n    (2026-01-06)"
    )
    assert wrap("a\n\n  b\tc", 76) == "a b c"


def test_a_moment_is_never_broken_across_lines() -> None:
    """ "until 2026-12-09 22:07 / KST" read as two things: a moment goes to the next line whole."""
    silence = "* Flight routes between Chinese and Korean cities: until 2026-12-09 22:07 KST"
    assert wrap(silence, 76, 0, 2).splitlines()[1] == "  2026-12-09 22:07 KST"
    failing = "* herald: failing: fetch: HTTP 404 File not found (since 2026-12-07 21:07 -03)"
    assert wrap(failing, 76, 0, 2).splitlines()[1] == "  2026-12-07 21:07 -03)"
    text = long_digest()
    moments = re.findall(r"\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}\s+-03", text)
    assert len(moments) == len(re.findall(r"\d{4}-\d{2}-\d{2}", text)) == 6
    assert all(" " in moment and "\n" not in moment for moment in moments)
