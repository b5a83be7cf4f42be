"""Matched terms as words a person wrote, for the page, the digest, alerts and Atom: where a
rule term is in the text shown (`term_spans`, for highlights) and the words it matched there
(`shown_terms`). Close to, not exactly, the matcher: no I/O, no store."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from monitor.fold import fold
from monitor.match.textview import LATIN_WORD, spacings
from monitor.wordforms import word_forms

__all__ = ["is_pattern", "shown_terms", "term_pattern", "term_spans", "whole_words"]

_CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def is_pattern(term: str) -> bool:
    """A `/regex/` term (perhaps `title:/regex/`)."""
    term = term.strip().removeprefix("title:").strip()
    return len(term) > 2 and term.startswith("/") and term.endswith("/")


def term_spans(raw: str, text: str) -> list[tuple[int, int]]:
    """Where a rule term is in display text (`term_pattern`): a phrase or prefix is looked for
    in the text folded as the matcher folds it (Traditional Chinese as Simplified, the same
    length), so 免签 is found in "免簽"; a regex in the text as it is."""
    pattern = term_pattern(raw)
    if pattern is None:
        return []
    plain = not is_pattern(raw.strip().removeprefix("title:").strip())
    return [
        m.span() for m in pattern.finditer(fold(text) if plain else text) if m.end() > m.start()
    ]


@functools.lru_cache(maxsize=4096)
def term_pattern(raw: str) -> re.Pattern[str] | None:
    """A pattern that finds a rule term in display text (close to, not exactly, the matcher):
    a phrase on word boundaries (as a substring in CJK, folded to Simplified Chinese, a Korean
    one with or without its spaces) with its English word forms, a prefix with the rest of its
    word, a regex as written (regex-module syntax: None)."""
    term = raw.strip().removeprefix("title:").strip()
    if is_pattern(term):
        try:
            return re.compile(term[1:-1], re.IGNORECASE)
        except re.error:  # regex-module syntax (\p{Han}, ...): not found here
            return None
    exact = term.startswith("=")
    term = term.removeprefix("=").strip()
    prefix = term.endswith("*")
    if not term.rstrip("*").split():
        return None
    forms = (term.rstrip("*"),) if prefix or exact else (term, *word_forms(term))
    if _CJK.search(term):
        forms = tuple(spacings(fold(term.rstrip("*"))))  # as the matcher writes it
    bodies = sorted(
        (r"\s+".join(re.escape(word) for word in form.split()) for form in forms), key=len
    )
    body = "(?:" + "|".join(reversed(bodies)) + ")" + (LATIN_WORD + "*" if prefix else "")
    if _CJK.search(term):
        return re.compile(body, re.IGNORECASE)
    # Word boundaries as the matcher draws them: CJK next to a Latin term is none ("UN이").
    return re.compile(rf"(?<!{LATIN_WORD}){body}(?!{LATIN_WORD})", re.IGNORECASE)


def _in_word(char: str) -> bool:
    return char.isalnum() and not _CJK.match(char)


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to the whole words it touches (`Korea` in `Korean` -> `Korean`), so a
    highlight never cuts a word; CJK text has no spaces between words and is left as it is."""
    if start < end and _in_word(text[start]):
        while start > 0 and _in_word(text[start - 1]):
            start -= 1
    if start < end and _in_word(text[end - 1]):
        while end < len(text) and _in_word(text[end]):
            end += 1
    return start, end


def shown_terms(terms: Sequence[str], *texts: str) -> tuple[str, ...]:
    """The matched terms as words a person wrote: each as the words it matched in `texts` (the
    headline, the snippet), whole words (`sanction*` -> `sanctions`); a term found in none of
    them as written, without `title:`, `=` or `*` — but a regex, whose source is no words, is
    then left out."""
    words: list[str] = []
    for raw in terms:
        term = raw.strip().removeprefix("title:").strip()
        found = _found(term, texts)
        if found or is_pattern(term):
            words.append(found)
        else:
            words.append(term.removeprefix("=").strip().rstrip("*"))
    shown = list(dict.fromkeys(w for w in words if w))
    return tuple(w for w in shown if not any(_within(w, other) for other in shown))


def _within(word: str, other: str) -> bool:
    """`word` is a part of `other` as shown (`Korean` of `South Korean`): shown once, in it."""
    word, other = word.casefold(), other.casefold()
    return word != other and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", other) is not None


def _found(term: str, texts: Sequence[str]) -> str:
    for text in texts:
        for start, end in term_spans(term, text):
            if text[start:end].strip():
                return " ".join(text[slice(*whole_words(text, start, end))].split())
    return ""
