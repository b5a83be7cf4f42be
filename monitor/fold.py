"""Traditional Chinese folded to Simplified, so that a term in either script matches text in
either. The only module that imports opencc.

OpenCC's `t2s` conversion is read once per process into a table of single characters (each of
its character mappings is one character to one, so offsets in the text stay valid), and a text
is rewritten only in its runs of Traditional characters (one regex scan; Simplified, Korean and
Latin text pass through untouched). Folding character by character drops OpenCC's
phrase-level choices; for matching that costs nothing, because terms and texts fold alike.
Japanese kanji go through the same fold (訪問 -> 访问, 関係 -> 関系): a Japanese term and
Japanese text still meet, since both sides are folded the same way.
"""

from __future__ import annotations

import functools
import re

import opencc

__all__ = ["NARROW", "WIDE", "fold", "narrow", "variants"]

# Full-width Latin letters and digits (ＳＡＭＳＵＮＧ, ２０２６), which the matcher's NFKC
# (`domain.normalize`) reads as ASCII, and those ASCII characters, in the same order.
WIDE = "".join(
    chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
)
NARROW = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NARROWING = str.maketrans(WIDE, NARROW)

_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00))  # ext. A, unified, compatibility


@functools.cache
def _table() -> tuple[dict[int, str], re.Pattern[str]]:
    """The character table, and a pattern of runs of the characters it changes."""
    chars = [chr(code) for low, high in _RANGES for code in range(low, high)]
    folded = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    table: dict[int, str] = {}
    if len(folded) == len(chars):  # else a mapping across lines: no character is trusted
        table = {
            ord(char): simple
            for char, simple in zip(chars, folded, strict=True)
            if simple != char and len(simple) == 1
        }
    runs = "".join(re.escape(chr(code)) for code in sorted(table)) or "\x00"
    return table, re.compile(f"[{runs}]+")


def fold(text: str) -> str:
    """`text` with every Traditional Chinese character as its Simplified form; same length."""
    if text.isascii():
        return text
    table, traditional = _table()
    return traditional.sub(lambda run: run.group().translate(table), text)


@functools.cache
def _inverse() -> dict[str, str]:
    """Simplified character -> the Traditional ones folded to it."""
    table, _ = _table()
    inverse: dict[str, str] = {}
    for code, simple in sorted(table.items()):
        inverse[simple] = inverse.get(simple, "") + chr(code)
    return inverse


def variants(char: str) -> str:
    """Every character that `fold` makes `char` (itself first) for a `char` already folded:
    what a database that cannot fold its columns compares a folded query's character with."""
    return char + _inverse().get(char, "")


def narrow(text: str) -> str:
    """`text` with full-width Latin letters and digits as ASCII, as NFKC makes them (entry search:
    its other changes, to punctuation, would make a query and a column differ in what
    PostgreSQL cannot change in its column: `store.search`); same length."""
    return text if text.isascii() else text.translate(_NARROWING)
