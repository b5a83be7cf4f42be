"""English word forms of a phrase term: `oppose` also matches opposes, opposed, opposing.

Pure and small on purpose: regular inflectional suffixes (-s/-es/-ies, -ed/-d/-ied, -ing with
e-drop and consonant doubling) and a short table of irregular verbs, generated once when a term
is compiled. The matcher adds every form to its automaton as a whole-word phrase, so a form can
never run into a longer word the way a `*` prefix does (`ban` gives bans, banned, banning — never
bank or Bangkok; `ease` gives eases, eased, easing — never East).

Not inflected: words written with a capital (names: China, Xi, Park) or in capitals (US, DPRK),
words with digits or non-ASCII letters, one-letter words, and a few function words (of, on, the).
A word in -ing is taken for a noun and only gets its plural (meeting, meetings).
A generator where a library (lemminflect) would need a part-of-speech guess per word: a term is
a bare word without context, so every regular form is produced and the extras cost nothing
(nobody writes "visaed").
"""

from __future__ import annotations

import itertools
import re

__all__ = ["MAX_FORMS", "derived", "word_forms"]

MAX_FORMS = 256  # spellings of one phrase; past it only the first and last words vary

_PARTS = re.compile(r"([ -])")
_VOWELS = frozenset("aeiou")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "onto",
        "or",
        "out",
        "over",
        "per",
        "than",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "up",
        "upon",
        "via",
        "with",
    ]
)


def _table(text: str) -> dict[str, tuple[str, ...]]:
    """`word form form, word form, ...` -> {word: (form, form), word: (form,), ...}."""
    return {word: tuple(forms) for word, *forms in (entry.split() for entry in text.split(","))}


# Irregular verbs news writes about; forms that are also common other words are left out
# (win->won, the Korean currency; leave->left; see->saw; find->found).
_IRREGULAR = _table(
    "meet met, hold held, make made, take took taken, give gave given, say said, pay paid, "
    "lay laid, seek sought, buy bought, bring brought, begin began begun, lead led, "
    "send sent, build built, spend spent, lose lost, tell told, sell sold, fly flew flown, "
    "go went gone, come came, break broke broken, speak spoke spoken, choose chose chosen, "
    "freeze froze frozen, rise rose risen, fall fell fallen, keep kept, stand stood, "
    "write wrote written, draw drew drawn, grow grew grown, know knew known, "
    "throw threw thrown, strike struck stricken, withdraw withdrew withdrawn, "
    "undertake undertook undertaken, drive drove driven, feel felt, deal dealt, mean meant, "
    "think thought, get got gotten, forbid forbade forbidden, man men, woman women, "
    "child children, person people, crisis crises, analysis analyses, basis bases"
)


def word_forms(phrase: str) -> tuple[str, ...]:
    """Other spellings of `phrase` (as written, before case folding) with each word inflected,
    lower case, words joined by single spaces; () when no word inflects."""
    parts = _PARTS.split(" ".join(phrase.split()))  # words at even indexes, separators between
    options = [
        _forms(part) if i % 2 == 0 and not _inside_compound(parts, i) else (part.casefold(),)
        for i, part in enumerate(parts)
    ]
    if _count(options) > MAX_FORMS:
        options = [o if i in (0, len(options) - 1) else o[:1] for i, o in enumerate(options)]
    if _count(options) > MAX_FORMS:
        return ()
    base = "".join(part.casefold() for part in parts)
    found = ("".join(combo) for combo in itertools.product(*options))
    return tuple(form for form in dict.fromkeys(found) if form != base)


# Suffixes that make a noun of a verb, which word forms do not reach: cooperation, agreement,
# approval, assurance, conference, exporter, investor (each also with its plural -s)
_DERIVING = ("ation", "ion", "ment", "al", "ance", "ence", "er", "or")


def derived(word: str, term: str) -> bool:
    """Whether `word` is a noun made from `term`, a single word that inflects (cooperation of
    cooperate, agreement of agree, investor of invest): its stem, with or without a final e,
    of four letters or more and one of the suffixes above. `monitor test` says so of a word
    of an example that no term matched; matching itself never reaches such a noun."""
    lower = word.casefold()
    if not _plain(term) or not _inflects(term) or lower in _forms(term):
        return False
    stems = {term, term[:-1] if term.endswith("e") else term}
    return any(
        lower in (stem + suffix, stem + suffix + "s")
        for stem in stems
        if len(stem) >= 4
        for suffix in _DERIVING
    )


def _inside_compound(parts: list[str], index: int) -> bool:
    """A word before a hyphen: in "multiple-entry" only the last part (the head) inflects."""
    return index + 1 < len(parts) and parts[index + 1] == "-"


def _count(options: list[tuple[str, ...]]) -> int:
    total = 1
    for option in options:
        total *= len(option)
    return total


def _forms(word: str) -> tuple[str, ...]:
    """The word (case-folded) first, then its inflections."""
    lower = word.casefold()
    if not _inflects(word):
        if _plain(word) and _inflected(word) and word.endswith("ing"):
            return (lower, lower + "s")  # meeting, booking: a noun as a term, so its plural
        return (lower,)
    found = [lower, *_plural(lower), *_past(lower), *_gerund(lower)]
    found += _IRREGULAR.get(lower, ())
    return tuple(dict.fromkeys(found))


def _inflects(word: str) -> bool:
    return _plain(word) and not _inflected(word)


def _plain(word: str) -> bool:
    """A lower-case ASCII word of two letters or more that is not a function word."""
    return (
        len(word) >= 2
        and word.isascii()
        and word.isalpha()
        and word.islower()
        and word not in _STOP
    )


def _inflected(word: str) -> bool:
    """Already a form (flights, eased, talking): its own forms would be nonsense."""
    if word in _IRREGULAR or word.endswith(("ss", "us", "is", "eed")):
        return False
    if word.endswith("ing"):  # not bring, string, thing: no vowel before the suffix
        return any(ch in _VOWELS for ch in word[:-3])
    return word.endswith("s") or (len(word) > 4 and word.endswith("ed"))


def _consonant_y(word: str) -> bool:
    return len(word) >= 2 and word[-1] == "y" and word[-2] not in _VOWELS


def _doubles(word: str) -> bool:
    """Consonant-vowel-consonant ending (stop, ban, plan): the consonant may double."""
    return (
        len(word) >= 3
        and word[-1] not in _VOWELS
        and word[-1] not in "wxy"
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    )


def _plural(word: str) -> list[str]:
    if _consonant_y(word):
        return [word[:-1] + "ies"]
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return [word + "es"]
    if word.endswith("o"):
        return [word + "s", word + "es"]
    return [word + "s"]


def _past(word: str) -> list[str]:
    if word.endswith("e"):
        return [word + "d"]
    if _consonant_y(word):
        return [word[:-1] + "ied"]
    if _doubles(word):
        return [word + word[-1] + "ed", word + "ed"]
    return [word + "ed"]


def _gerund(word: str) -> list[str]:
    if word.endswith("ie"):
        return [word[:-2] + "ying"]
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
        return [word[:-1] + "ing"]
    if _doubles(word):
        return [word + word[-1] + "ing", word + "ing"]
    return [word + "ing"]
