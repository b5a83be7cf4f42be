"""Compiled rules: one pass over an entry finds every outcome it satisfies. Pure: no I/O.

Every literal term (phrase or prefix) of every indicator sits in one Aho-Corasick automaton
over the normalized text (NFKC, case-folded, whitespace as spaces). An outcome's rule is only
evaluated when one of its trigger terms hit (a set of terms one of which must hit for the rule
to hold), so the work per entry follows the hits, not the number of indicators. Regex terms run
lazily with the `regex` module under a timeout; a timeout counts as no match.

The package's modules, each importing only those after it: `matcher` (Matcher, examples,
general-news warnings), `explain` (why an outcome did or did not fire on an entry, node by
node) and `regexrisk` (regexes that can backtrack for ever) -> `scan` (one
entry) -> `machine` (compiling) -> `prefilter` (the literals a regex needs), `regexterms`
(running regexes), `textview` (views of the text).
"""

from monitor.match.machine import Machine
from monitor.match.matcher import (
    GENERAL_NEWS_MIN,
    GENERAL_NEWS_SHARE,
    ExampleResult,
    Matcher,
    general_news_warnings,
    run_examples,
)
from monitor.match.prefilter import MAX_GROUPS
from monitor.match.regexrisk import backtracking, regex_warnings
from monitor.match.regexterms import MAX_HITS_PER_TERM, REGEX_TIMEOUT, REGEX_WALL_FACTOR
from monitor.match.textview import MAX_SPACINGS, SNIPPET_CHARS

__all__ = [
    "GENERAL_NEWS_MIN",
    "GENERAL_NEWS_SHARE",
    "MAX_GROUPS",
    "MAX_HITS_PER_TERM",
    "MAX_SPACINGS",
    "REGEX_TIMEOUT",
    "REGEX_WALL_FACTOR",
    "SNIPPET_CHARS",
    "ExampleResult",
    "Machine",
    "Matcher",
    "backtracking",
    "general_news_warnings",
    "regex_warnings",
    "run_examples",
]
