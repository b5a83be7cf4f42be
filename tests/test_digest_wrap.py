"""The digest's text part wrapped by display columns: Chinese, Japanese and Korean headlines fit
the line (a wide character takes two columns), Chinese and Japanese break between characters,
Korean at its spaces, and a link or an id never breaks."""

from __future__ import annotations

import dataclasses
import textwrap
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from monitor.columns import wrap
from monitor.digest import build_digest
from monitor.mail import deliver
from tests.smtpserver import running_smtp_server
from tests.test_digest import RECIPIENTS, SENDER, change, evidence, parts, sample, smtp_settings

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


@given(st.lists(st.text("abcdefghijklmnopqrstuvwxyz.,-:/", min_size=1, max_size=30), max_size=40))
def test_single_column_text_wraps_as_textwrap_does(words: list[str]) -> None:
    """Text of one-column characters gets the lines the digest got before (textwrap's)."""
    text = " ".join(words)
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
