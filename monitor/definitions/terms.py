"""A term as written (`phrase`, `=phrase`, `prefix*`, `/regex/`, `title:...`) -> Term."""

from __future__ import annotations

import functools

import regex

from monitor.domain import CONTROLS, as_written, normalize
from monitor.ruletree import Term, TermKind
from monitor.wordforms import word_forms


@functools.lru_cache(maxsize=4096)  # pure: a vocabulary list is compiled at every reference
def compile_term(raw: str, *, check_regex: bool = True) -> Term:
    """A term as written (`phrase`, `=phrase`, `prefix*`, `/regex/`, `title:...`) -> Term.

    A plain phrase also matches the English forms of its words (see wordforms); `=` before it
    matches it only as written. Raises ValueError with a message naming what is wrong.
    `check_regex=False`: a regex is not compiled to check it (nor to see whether it matches
    empty text): for a term checked already, or read by a command that never runs a rule.
    """
    _check_controls(raw)
    text = raw.strip()
    title_only = text.startswith("title:")
    if title_only:
        text = text[len("title:") :].strip()
    exact = text.startswith("=")
    if exact:
        text = text[1:].strip()
        if text.startswith("@"):
            raise ValueError(
                f"'=' in term {as_written(raw)}: put '=' on the terms of the vocabulary list"
            )
    if text.startswith("title:"):  # `=title:US`, `title:title:US`: a phrase no title holds
        raise ValueError(f"'title:' in term {as_written(raw)} comes first, once (e.g. title:=US)")
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        if exact:
            raise ValueError(
                f"'=' in term {as_written(raw)}: a regex matches only as written anyway"
            )
        source = text[1:-1]
        if not source:
            raise ValueError(f"empty regex in term {as_written(raw)}")
        if check_regex:
            _check_regex(source, raw)
        return Term(raw=raw, kind=TermKind.REGEX, text=source, title_only=title_only)
    kind = TermKind.PHRASE
    if text.endswith("*"):
        if exact:
            raise ValueError(f"'=' in term {as_written(raw)}: a prefix cannot also be exact")
        kind, text = TermKind.PREFIX, text[:-1]
    phrase = _phrase(text)
    if not phrase:
        raise ValueError(f"empty term {as_written(raw)}")
    forms: tuple[str, ...] = ()
    if kind == TermKind.PHRASE and not exact:
        forms = tuple(dict.fromkeys(_phrase(form) for form in word_forms(text)))
    return Term(raw=raw, kind=kind, text=phrase, title_only=title_only, forms=forms)


def _check_controls(raw: str) -> None:
    """A control character never matches: parse drops them from the news (`CONTROLS`). One in a
    term comes from an escape in a double-quoted YAML string: `"/\\bvisa\\b/"` is a regex of a
    backspace, `visa` and a backspace, written for word boundaries."""
    found = CONTROLS.search(raw)
    if found is not None:
        raise ValueError(
            f"term {as_written(raw)} holds a control character (U+{ord(found.group()):04X}), "
            "which no news text holds: in double quotes YAML reads a backslash as an escape "
            "(\"\\b\" is a backspace); write a regex in single quotes ('/\\bvisa\\b/') or "
            'double each backslash ("/\\\\bvisa\\\\b/")'
        )


def _phrase(text: str) -> str:
    return " ".join(normalize(text).split())


def _check_regex(source: str, raw: str) -> None:
    """Compiled with `regex`, whose parser is Python: for the shipped rules' 490 regex terms,
    about half of reading the definitions."""
    try:
        pattern = regex.compile(source, regex.IGNORECASE)
        matches_empty = pattern.search("", timeout=0.1) is not None
    except (regex.error, TimeoutError, ValueError, OverflowError, RecursionError) as exc:
        raise ValueError(f"bad regex in term {as_written(raw)}: {exc}") from None
    if matches_empty:
        raise ValueError(
            f"regex in term {as_written(raw)} matches empty text, so it would match everything"
        )
