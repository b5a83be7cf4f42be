"""Entry search: the entries whose title or text contains a query, newest first, a page at a time;
any case, full-width Latin letters and digits as ASCII, a Chinese character in either script,
as the matcher reads them, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    LargeBinary,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
)

from monitor.fold import NARROW, WIDE, fold, narrow, variants
from monitor.store.base import StoreBase, once_more_if_disconnected
from monitor.store.entries import StoredEntry, stored_entry
from monitor.store.schema import entry_table


class SearchMixin(StoreBase):
    """Entries searched by their words."""

    @once_more_if_disconnected
    def search_entries(
        self, text: str, *, limit: int = 20, before: int | None = None
    ) -> list[StoredEntry]:
        """Entries whose title or text contains `text` (case-insensitive; Chinese in either
        script and full-width Latin letters and digits as ASCII, as the matcher reads them),
        newest first: by time, then id. `before`, the last entry id of the page before: only
        the entries after it in that order, so entries stored meanwhile (newer, or older by their
        published date) shift no page. KeyError when no stored entry has that id."""
        query = (
            select(entry_table)
            .where(_contains(self.dialect, text))
            .order_by(entry_table.c.time.desc(), entry_table.c.id.desc())
            .limit(limit)
        )
        with self._tx("search entries") as conn:
            if before is not None:
                query = query.where(_after(conn, before))
            return [stored_entry(row) for row in conn.execute(query)]


def _after(conn: Connection, entry_id: int) -> ColumnElement[bool]:
    """Entries after `entry_id` in the search's order (time, then id, newest first)."""
    at = conn.execute(select(entry_table.c.time).where(entry_table.c.id == entry_id)).scalar()
    if at is None:
        raise KeyError(entry_id)
    time, key = entry_table.c.time, entry_table.c.id
    return or_(time < at, and_(time == at, key < entry_id))


_ANY_WIDE = "[０-９Ａ-Ｚａ-ｚ]"  # a PostgreSQL regular expression: a text that has one
_WIDE_LEAD = b"\xef"  # the first byte of U+F000 to U+FFFF in UTF-8, full-width forms among them


def _contains(dialect: str, text: str) -> ColumnElement[bool]:
    """Title or text contains `text`, any case, full-width Latin letters and digits as ASCII
    (`fold.narrow`) on either side. A query with Chinese characters that have a Traditional
    and a Simplified form finds both, as a rule's term does: SQLite folds each row's text (a
    Python function, as for any query not in ASCII), PostgreSQL, which cannot, compares each
    such character with a class of its forms (a regular expression)."""
    text = narrow(text)  # ＳＡＭＳＵＮＧ is SAMSUNG, as for a rule
    columns = (entry_table.c.title, entry_table.c.text)
    folded = fold(text)
    han = any(len(variants(char)) > 1 for char in folded)
    if dialect != "sqlite" and han:
        pattern = "".join(_class(char) for char in folded.lower())
        return or_(*(_pg(c, lambda lower: lower.regexp_match(pattern)) for c in columns))
    if han:  # SQLite's lower() and LIKE fold ASCII only, and no script
        return or_(*(_folded_contains(column, folded) for column in columns))
    if dialect != "sqlite":
        lowered = text.lower()
        return or_(
            *(_pg(c, lambda lower: lower.contains(lowered, autoescape=True)) for c in columns)
        )
    if text.isascii():  # SQLite's LIKE ignores the case of ASCII letters, in C
        return or_(*(_sqlite_ascii_contains(column, text) for column in columns))
    casefolded = text.casefold()
    return or_(*(func.monitor_casefold(c).contains(casefolded, autoescape=True) for c in columns))


def _pg(column: Any, test: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """On PostgreSQL, `test` of `column` in lower case, or of it with its full-width Latin
    letters and digits as ASCII: `translate` takes 20 times what the test does, so only the
    rows that have one (a regular expression, half the time of the test) are translated."""
    narrow = func.lower(func.translate(column, WIDE, NARROW))
    return or_(test(func.lower(column)), and_(column.regexp_match(_ANY_WIDE), test(narrow)))


def _sqlite_ascii_contains(column: Any, text: str) -> ColumnElement[bool]:
    """On SQLite, `column` contains the ASCII `text` in any case, also written in full-width
    letters and digits: LIKE in C, and only the rows that may have a full-width one folded in
    Python. Those are found by a byte of their UTF-8, with `instr` over the bytes (a GLOB of
    the characters took 40 times what LIKE does; this about as long as LIKE)."""
    wide = func.instr(cast(column, LargeBinary), literal(_WIDE_LEAD, LargeBinary)) > 0
    folded = func.monitor_casefold(column).contains(text.casefold(), autoescape=True)
    return or_(column.contains(text, autoescape=True), and_(wide, folded))


_PRESENT_CHARS = 8


def _folded_contains(column: Any, folded: str) -> ColumnElement[bool]:
    """On SQLite, `column` folded contains `folded`. Folding a text in Python costs about ten
    times what LIKE does, so only rows holding some form of each of the query's Chinese
    characters that have two are folded: `instr` finds those in C, and they are few."""
    chars = [char for char in dict.fromkeys(folded) if len(variants(char)) > 1]
    present = [  # a few are enough to leave few rows; each is a level of SQLite's expression tree
        or_(*(func.instr(column, form) > 0 for form in variants(char)))
        for char in chars[:_PRESENT_CHARS]
    ]
    return and_(*present, func.monitor_fold(column).contains(folded.casefold(), autoescape=True))


def _class(char: str) -> str:
    """A PostgreSQL regular expression matching `char` as written, or in any form `fold` makes
    it (a Simplified character and its Traditional ones)."""
    forms = variants(char)
    if len(forms) > 1:
        return f"[{forms}]"
    return char if char.isalnum() else "\\" + char  # a backslash makes any other literal
