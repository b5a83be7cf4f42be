"""A count and its noun, singular or plural as the count asks: `1 feed`, `2 feeds`, `0 feeds`.

The one helper behind every count a person reads (command output, log lines, the digest, the
page, /healthz reasons), so none says `1 indicators`. Pure; imports nothing of monitor.
"""

from __future__ import annotations

__all__ = ["count", "every_one_failed", "plural"]

_IRREGULAR = {"entry": "entries", "story": "stories", "body": "bodies", "copy": "copies"}
_SIBILANT = ("s", "sh", "ch", "x", "z")


def plural(noun: str, n: int = 2) -> str:
    """`noun` as `n` of them are called: `feed` for 1, `feeds` else. Several words inflect
    their last (`status change` -> `status changes`, `due feed` -> `due feeds`)."""
    if n == 1:
        return noun
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR:
        many = _IRREGULAR[last]
    elif last.endswith(_SIBILANT):
        many = last + "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        many = last[:-1] + "ies"
    else:
        many = last + "s"
    return f"{head} {many}" if head else many


def count(n: int, noun: str) -> str:
    """`1 feed`, `2 feeds`, `0 feeds`: the number, then the noun for that number."""
    return f"{n} {plural(noun, n)}"


def every_one_failed(n: int) -> str:
    """How `n` tries that all failed end, as a person says it: `1 feed checked, and it failed`,
    `2 feeds checked, every one failed` (`monitor check`, the digest's feed reads)."""
    return "and it failed" if n == 1 else "every one failed"
