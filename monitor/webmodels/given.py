"""What the API reads from a path or a query: the text of a search (not empty), every
integer as ASCII digits alone and every boolean as `true` or `false` alone, else a 422 of
pydantic's own type naming the parameter.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

EMPTY_SEARCH = "the query must not be empty (nor only white space)"
SEARCH_MAX = 200  # characters of a search's text; SQLite refuses a LIKE pattern over 50,000 bytes


def search_text(text: str) -> str:
    """The text of a search of the stored entries (GET /entries `?q=`, `monitor search TEXT`);
    a ValueError when it is empty or only white space, a search that would list every entry
    rather than find one (422 over HTTP, a usage error in the CLI), or longer than SEARCH_MAX
    characters (the CLI took any length, up to a store error past SQLite's limit)."""
    if not text.strip():
        raise ValueError(EMPTY_SEARCH)
    if len(text) > SEARCH_MAX:
        raise ValueError(f"the query must be at most {SEARCH_MAX} characters (it has {len(text)})")
    return text


SearchText = Annotated[str, AfterValidator(search_text)]


def whole_number(given: str, most: int) -> int | None:
    """`given` as a whole number when it is ASCII digits alone, no more of them than `most`
    has (the caller bounds the value); else None. int() and pydantic would take " 7", "+7" and
    "1_0" (10), pydantic "7.0", int() "١" (1), and each refuses 5,000 digits its own way."""
    if given.isascii() and given.isdigit() and len(given) <= len(str(most)):
        return int(given)
    return None


def digits_only(most: int) -> BeforeValidator:
    """Every integer of the API's paths and queries (`Annotated[int, Query(ge=, le=most),
    digits_only(most)]`): read by `whole_number`, else a 422 naming the parameter, of the type
    pydantic gives `abc` (`int_parsing`), saying what is taken."""
    refusal = "Input should be a valid integer: ASCII digits 0-9 alone, at most {most} of them"

    def read(given: object) -> object:
        if isinstance(given, int) and not isinstance(given, bool):
            return given  # a default
        found = whole_number(given, most) if isinstance(given, str) else None
        if found is None:
            raise PydanticCustomError("int_parsing", refusal, {"most": len(str(most))})
        return found

    return BeforeValidator(read)


TRUE_OR_FALSE = "Input should be a valid boolean: `true` or `false` alone"


def true_or_false() -> BeforeValidator:
    """Every boolean of the API's queries (`Annotated[bool, Query(), true_or_false()]`): `true`
    or `false` as JSON writes them, else a 422 naming the parameter, of the type pydantic gives
    `abc` (`bool_parsing`). pydantic reads `yes`, `on`, `1`, `t`, `Y` and `OFF` too: a client's
    `?active=1` or `?active=no` meant what it happened to read, and `?active=ture` was a 422."""

    def read(given: object) -> object:
        if isinstance(given, bool):
            return given  # a default
        if given in ("true", "false"):
            return given == "true"
        raise PydanticCustomError("bool_parsing", TRUE_OR_FALSE)

    return BeforeValidator(read)
