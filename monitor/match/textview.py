"""The text as the matcher reads it: Latin and UTF-8 views for the automata, Korean spacings,
words and sentences, and snippets of the original text. Pure: no I/O."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable

import regex

from monitor.domain import normalize

SNIPPET_CHARS = 200
MAX_SPACINGS = 64  # spellings of one Korean term with and without spaces
_OTHER_SPACE = regex.compile(r"[^\S ]")  # whitespace other than the space itself
_ASCII_SPACES = bytes.maketrans(b"\t\n\x0b\x0c\r", b"     ")  # the same in ASCII
_CJK_WORD = r"\p{Han}\p{Hiragana}\p{Katakana}"
# Words for `near`: Latin (and Hangul) runs between spaces; in Chinese and Japanese, which
# write no spaces, every two characters count as one word.
TOKEN = regex.compile(rf"[{_CJK_WORD}ー]{{1,2}}|[^\W{_CJK_WORD}]+")
ASCII_TOKEN = regex.compile(r"\w+")
_ABBREVIATIONS = "mr|mrs|ms|dr|st|jr|sr|gen|sen|rep|gov|lt|col|capt|sgt|prof|no|vs|inc|corp|co|ltd"
_CJK_SCRIPT = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
# A sentence ends at ., ! or ? before a space (not after an initial or a known abbreviation:
# "U.S. envoy", "Mr. Xi"), at 。, ！, ？ and ． (which NFKC makes !, ? and .: after or before
# Chinese, Japanese or Korean, with no space) and at a line break; the title is a sentence of
# its own. An ellipsis (…, which NFKC makes "...") after or before Chinese, Japanese or Korean
# ends none: Korean headlines join two clauses with it ("中, 北 핵실험 규탄…'결의 위반'").
_CJK_END = r"(?:[!?]+[!?.]*|(?<!\.)\.{1,2}(?!\.))"
_SENTENCE_END = regex.compile(
    rf"(?<!(?:^|\W)(?:\w|{_ABBREVIATIONS}))(?<![{_CJK_SCRIPT}]\.{{2,}})\.(?=\s|$)"
    rf"|{_CJK_END}(?=[{_CJK_SCRIPT}])|[!?]+(?=\s|$)|(?<=[{_CJK_SCRIPT}]){_CJK_END}|[。\n]"
)


def _is_cjk(ch: str) -> bool:
    """Han, Kana, Hangul and their symbols: scripts matched as substrings."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xAC00 <= o <= 0xD7FF
        or 0x1100 <= o <= 0x11FF
        or 0xA960 <= o <= 0xA97F
        or 0xF900 <= o <= 0xFAFF
        or 0xFF66 <= o <= 0xFFDC
        or 0x20000 <= o <= 0x3FFFF
    )


def word_char(ch: str) -> bool:
    """A character that continues a Latin-script word (so a phrase may not end next to it)."""
    return (ch.isalnum() or ch == "_") and not _is_cjk(ch)


TABLE_SIZE = 0x10000
WORD_TABLE = bytes(word_char(chr(i)) for i in range(TABLE_SIZE))
_ASCII_VIEW = bytes(i if chr(i).isalnum() or i == 0x5F else 0x20 for i in range(128)) + bytes(
    range(128, 256)
)
_CJK_CLASS = (
    "\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uffdc"
    "\U00020000-\U0003ffff"
)
CJK = regex.compile(f"[{_CJK_CLASS}]")
LATIN_WORD = f"[^\\W{_CJK_CLASS}]"  # `word_char` as a class of `re` (and of `regex`)
LATIN_TERM = regex.compile(r"\w")
_HANGUL_SPACE = regex.compile(r"(?<=[\uac00-\ud7a3]) (?=[\uac00-\ud7a3])")
_HANGUL_RUN = regex.compile(r"[\uac00-\ud7a3]+")


def spaces(text: str) -> str:
    """Every whitespace character as a space (the length stays)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_SPACES).decode("ascii")
    return str(_OTHER_SPACE.sub(" ", text))


class _ViewTable(dict[int, int]):
    """str.translate table of the Latin view, filled as characters are met."""

    def __missing__(self, code: int) -> int:
        value = self[code] = code if word_char(chr(code)) else 0x20
        return value


_VIEW_TABLE = _ViewTable()


def latin_view(text: str) -> str:
    """`text` with every character but Latin-script word characters replaced by a space."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_VIEW).decode("ascii")
    return text.translate(_VIEW_TABLE)


def utf8_view(text: str) -> str:
    """The UTF-8 bytes of `text` as a str of code points < 256. Automata over it have few
    children per node (pyahocorasick searches them linearly), and UTF-8 keeps matches aligned
    on characters."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def spacings(text: str) -> list[str]:
    """Spellings of a term with and without spaces between its Hangul syllables: Korean writes
    compounds either way (무비자, 무 비자; 비자 면제, 비자면제). A space of the term may go, and
    a word of the term of three syllables or more may be split; a word of two never is, so
    that neither 중국 nor 중국 내 matches "중 국내". Past MAX_SPACINGS spellings, only the
    term as written and without any of its spaces."""
    pieces = _HANGUL_SPACE.split(text)  # the term's words, as far as spaces between Hangul go
    gaps: list[int] = []
    at = 0
    for n, piece in enumerate(pieces):
        if n:
            gaps.append(at)  # where the term has a space
        for run in _HANGUL_RUN.finditer(piece):
            if len(run.group()) >= 3:
                gaps.extend(at + run.start() + i for i in range(1, len(run.group())))
        at += len(piece)
    compact = "".join(pieces)
    if 1 << len(gaps) > MAX_SPACINGS:
        return list(dict.fromkeys([text, compact]))
    found = [compact]
    for choice in itertools.product((False, True), repeat=len(gaps)):
        cut = [gap for gap, on in zip(gaps, choice, strict=True) if on]
        if cut:
            pieces = [compact[a:b] for a, b in zip([0, *cut], [*cut, len(compact)], strict=True)]
            found.append(" ".join(pieces))
    return list(dict.fromkeys([text, *found]))


def unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def sentence_starts(norm: str) -> list[int]:
    """Start offsets of the sentences of normalized text."""
    return [0, *(found.end() for found in _SENTENCE_END.finditer(norm))]


def sentences_of(title: str, text: str, norm: str) -> tuple[str, ...]:
    """The sentences of an entry as written (title first), cut where the matcher's sentences
    of `norm`, its normalized `title + "\n" + text` (`Scan.norm`), begin: sentence N of a
    rule's explanation is item N - 1."""
    both = title + "\n" + text
    cuts = [_original_offset(both, start) for start in sentence_starts(norm)]
    ends = [*cuts[1:], len(both)]
    return tuple(" ".join(both[a:b].split()) for a, b in zip(cuts, ends, strict=True))


def _original_offset(original: str, target: int) -> int:
    """Offset in `original` of the character at `target` in its normalized form (approximate
    only where normalization joins characters across combining-sequence boundaries)."""
    if original.isascii():
        return min(target, len(original))
    length, i, size = 0, 0, len(original)
    while i < size:
        j = i + 1
        while j < size and unicodedata.combining(original[j]):
            j += 1
        length += len(normalize(original[i:j]))
        if length > target:
            return i
        i = j
    return size


def snippet_of(title: str, text: str, at: int) -> str:
    """The snippet of a hit at the normalized offset `at` of `title + "\n" + text`: around it in
    the text when it is there, so that no piece of the headline leads it; around it in the
    headline and the text after it when it is in the headline (the page and the digest leave
    the headline out of what they show: `views.lede`)."""
    both = title + "\n" + text
    center = _original_offset(both, at)
    if center > len(title) and text:
        return _window(text, center - len(title) - 1)
    return _window(both, center)


def _window(original: str, center: int) -> str:
    """About SNIPPET_CHARS characters of `original` around `center`, cut between words."""
    start = max(0, center - SNIPPET_CHARS // 3)
    end = min(len(original), start + SNIPPET_CHARS)
    start = max(0, min(start, end - SNIPPET_CHARS))
    piece = original[start:end]
    if start > 0:
        cut = piece.find(" ", 0, 20)
        piece = piece[cut + 1 :] if cut >= 0 else piece
    if end < len(original):
        cut = piece.rfind(" ", max(0, len(piece) - 20))
        piece = piece[:cut] if cut > 0 else piece
    text = " ".join(piece.split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(original) else "")
