"""The language of a text by its script, for the scorer and for the pages that show the text.

    language_of("北 미사일 발사")   -> "ko"
    marked_language("Xi meets Lee") -> ""     (the page's own `en` stands for it)

One reading for everyone: `monitor.labeled` splits its figures by it, and the page and the
digest mark each headline, snippet and name with it (`lang`), so that a browser draws Japanese
with Japanese glyph forms and a screen reader reads Korean with a Korean voice. Feeds declare no
language the store keeps, so the script is all there is to go by. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["LANGUAGES", "language_of", "marked_language"]

LANGUAGES = ("en", "ko", "zh", "ja")

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """The language of a text by its script: Hangul ko, kana ja, other Han zh, else en.

    Kana before Han, since Japanese writes with both; Hangul first, since Korean news often
    mixes in Han characters (韓中, 中).
    """
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return "en"


def marked_language(text: str) -> str:
    """The `lang` a page gives `text`: `language_of` it for Korean, Japanese and Chinese; ""
    (no `lang`: the page's `en` stands) for any other script, whose language the script alone
    does not tell (Latin writes English and French alike, Arabic script Arabic and Persian)."""
    language = language_of(text)
    return "" if language == "en" else language
