"""The rule language's operators: a closed set, so that every place that handles them is
checked for all of them.

Each member is a key of a rule mapping in `indicators/*.yaml`. Code that dispatches on an
operator (on the member, on its `domain` node or on its compiled node) ends its `match` or
`if` chain with `typing.assert_never`, so mypy (strict) fails at each place a new member is not
handled yet; README "Adding an operator" lists those places. Pure: no imports.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Operator"]


class Operator(StrEnum):
    ALL = "all"  # every child holds
    ANY = "any"  # at least one child holds
    NONE = "none"  # no child holds
    NEAR = "near"  # one term of every group, within N words (in an order)
