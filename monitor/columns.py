"""Plain text wrapped by the columns it takes in a fixed-width font, not by its characters. Pure.

    width(text) -> int                       columns: 2 for each wide character, 0 for a mark
    wrap(text, columns, indent=0, hang=None) lines of at most `columns` columns
    clip(text, columns) -> str               itself, or its start and `…` in `columns` columns

A Chinese, Japanese or Korean character takes two columns (East Asian Width W or F), so counting
characters let a line of headlines in those scripts run to twice its width. Chinese and Japanese
are written without spaces: a line may break between two of their characters (but not before a
closing mark such as 。or 」, nor after an opening one), else a whole headline stayed one line.
Korean puts spaces between its words and breaks there, as English does; a word wider than a line
on its own breaks between its syllables. A link ("https://…", "www.…", wide characters and all)
never breaks, nor does a run of letters and digits such as an entry id, nor a command in backticks
(`monitor history ID`, spaces and all): it gets a line to itself, however long. A moment as the
digest writes it (2026-01-06 07:00 KST) stays on one line too. A run of spaces
between two words on one line stays (a gap a line is laid out with); other white space (a line
break, a tab) is one space, and none is left at a break.
The standard library's unicodedata is enough for this, so no dependency is added.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# No line starts with these (closing marks, small kana, the prolonged sound mark) and none ends
# with those: the rules of Japanese and Chinese typesetting (kinsoku) that readers notice most.
_NO_START = frozenset(
    "、。，．,.：:；;？?！!）)］]｝}〕〉》」』】〙〗〟’”・ー々〻‐゠–〜～…‥％%"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"
)
_NO_END = frozenset("（(［[｛{〔〈《「『【〘〖〝‘“")
_QUOTES = frozenset("\"'")  # straight quotes open and close alike: they keep to their neighbour
# A link runs from its scheme (or "www.") to a space or to a wide mark no address holds: the
# parentheses, brackets and stops a Chinese or Japanese sentence puts around one.
_LINK = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)[^\s（）「」『』【】〈〉《》、。，：；！？]*", re.IGNORECASE
)
_CODE = re.compile(r"`[^`]*`")  # a command or id in backticks: copied whole, never broken
# What stays on one line, spaces and all: a command in backticks, and a moment as the digest
# writes it ("2026-01-06 07:00 KST", "2026-09-30 05:00 -03"), read whole or misread.
_WHOLE = re.compile(
    r"`[^`]*`|\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?: (?:[A-Z][A-Za-z]{1,5}|[+-]\d{2,4})\b)?"
)
_KEPT = "\x00"  # a space inside one of those while the text is cut into words (a control
# character: none comes in, `views.clean` drops them)


def _char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    if "\u1160" <= char <= "\u11ff" or "\ud7b0" <= char <= "\ud7ff":
        return 0  # the vowel and final consonant of a Hangul syllable spelled in jamo (NFD)
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """The columns `text` takes in a fixed-width font."""
    return sum(_char_width(char) for char in text)


def _hangul(char: str) -> bool:
    return unicodedata.name(char, "").startswith("HANGUL")


def _breaks_between(left: str, right: str, *, in_words: bool) -> bool:
    """Whether a line may end between `left` and `right` within one word: beside a wide character
    (of Chinese or Japanese; of Korean too when `in_words`), unless a mark forbids it."""
    if right in _NO_START or left in _NO_END or left in _QUOTES or right in _QUOTES:
        return False
    return any(_char_width(char) == 2 and (in_words or not _hangul(char)) for char in (left, right))


def _pieces(word: str, room: int) -> list[str]:
    """`word` cut where a line may end inside it, never inside a link. A piece still wider
    than `room` (a Korean word longer than a line) is cut between its syllables as well."""
    whole = [*_LINK.finditer(word), *_CODE.finditer(word)]
    inside = {i for span in whole for i in range(span.start() + 1, span.end())}
    pieces = _cut(word, 0, inside, in_words=False)
    if all(width(piece) <= room for piece in pieces):
        return pieces
    cut: list[str] = []
    for piece in pieces:
        start = sum(map(len, cut))
        cut += _cut(piece, start, inside, in_words=width(piece) > room)
    return cut


def _cut(word: str, start: int, inside: set[int], *, in_words: bool) -> list[str]:
    """`word` (found at `start` in its whole word) cut where a line may end, but not at the
    positions `inside` a link."""
    pieces = [word[:1]]
    for offset, (left, right) in enumerate(itertools.pairwise(word), start + 1):
        if offset not in inside and _breaks_between(left, right, in_words=in_words):
            pieces.append(right)
        else:
            pieces[-1] += right
    return pieces


def wrap(text: str, columns: int = 76, indent: int = 0, hang: int | None = None) -> str:
    """`text` on lines of at most `columns` columns, `indent` spaces before the first line and
    `hang` (default `indent`) before the others. A run of spaces between two words on a line is
    kept, other white space is one space (inside a command in backticks too), and a break
    leaves none. A piece that cannot be cut and is wider than a line gets a line of its own,
    as textwrap's `break_long_words=False` does: for text of single-column characters without
    tabs or line breaks the lines are textwrap.fill's."""
    hang = indent if hang is None else hang
    lines: list[str] = []
    line, used, empty = " " * indent, indent, True
    for word, space in _words(text):
        for index, piece in enumerate(_pieces(word, columns - max(indent, hang))):
            gap = space if index == 0 and not empty else ""
            needed = width(gap) + width(piece)
            if not empty and used + needed > columns:
                lines.append(line)
                line, used, gap, needed = " " * hang, hang, "", width(piece)
            line, used, empty = line + gap + piece, used + needed, False
    if not empty:
        lines.append(line)
    return "\n".join(lines).replace(_KEPT, " ")


ELLIPSIS = "…"  # one column: what says a clipped text was cut


def clip(text: str, columns: int) -> str:
    """`text` when it takes at most `columns` columns; else its longest start that leaves a
    column for ELLIPSIS, with it (and no space before it), so a reader sees that the rest was
    cut. A wide character that would straddle the end is left out whole, and the marks after
    the last character kept (an accent, the rest of a Hangul syllable in jamo) stay with it."""
    if width(text) <= columns:
        return text
    room = columns - width(ELLIPSIS)
    return _start(text, room).rstrip() + ELLIPSIS if room >= 0 else ""


def _start(text: str, columns: int) -> str:
    """The longest start of `text` that takes at most `columns` columns (see `clip`)."""
    used = 0
    for index, char in enumerate(text):
        used += _char_width(char)
        if used > columns:
            return text[:index]
    return text


def _words(text: str) -> list[tuple[str, str]]:
    """Each word of `text` (`_WHOLE`'s spans one word each, their spaces `_KEPT`) with the white
    space before it as kept between words on one line: a run of spaces as it is, any other
    white space as one space."""
    kept = _WHOLE.sub(lambda span: _KEPT.join(span.group().split()), text)
    words, end = [], 0
    for found in re.finditer(r"\S+", kept):
        before = kept[end : found.start()]
        words.append((found.group(), before if before.strip(" ") == "" else " "))
        end = found.end()
    return words


__all__ = ["clip", "width", "wrap"]
