"""What every shape of `monitor.webmodels` is made of: the frozen model that refuses unknown
fields, the time every answer writes, and the id of a recorded row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from monitor.domain import iso_time

# Every time in an answer: ISO 8601 in UTC with `Z`, by the one function the CLI uses too.
Time = Annotated[
    datetime,
    PlainSerializer(iso_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def recorded(row_id: int | None, what: str) -> int:
    """The id of a stored row; what has no id yet was never recorded and is not shown."""
    if row_id is None:
        raise ValueError(f"{what} is shown once it is recorded (it has no id yet)")
    return row_id
