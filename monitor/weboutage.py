"""The HTTP endpoint's one record of a database that does not answer, shared by every endpoint
(`web._State.outage`): /healthz answering `unavailable`, and every other one's 503, the error
page of a browser's request too (`web.replies`).

Each request the database fails counts, whatever it asked and whichever store error it met
(each endpoint reads its own way): the outage is logged once, then at the 2nd, 4th, 8th… failed
request in a row (`repeats.Repeats`), and once at INFO when a request finds it answering again.
So a load balancer probing /healthz and a dashboard polling /indicators every few seconds log a
handful of lines through an hour's outage, not one a request. A request that never reaches the
database (an unknown indicator's 404, a sign-in) neither counts nor ends the run.
"""

from __future__ import annotations

import logging

from monitor.counts import count
from monitor.errors import StoreError
from monitor.repeats import Repeats

__all__ = ["Outage"]

log = logging.getLogger("monitor.web")  # logged as the app's

_DOWN = "the database does not answer"  # one error for Repeats: every store error is this one


class Outage:
    """Failed requests in a row, safe to share between the threads answering requests.
    `asked` names the request in the line logged ("GET /indicators")."""

    def __init__(self) -> None:
        self._repeats = Repeats()

    def failed(self, asked: str, exc: StoreError) -> None:
        """A request the database did not answer: logged the first time and at the 2nd, 4th,
        8th… in a row, with the store's error of that request."""
        said, failures = self._repeats.failed(_DOWN)
        if said == "first":
            log.error("web: %s: %s; answering 503 while it lasts (said again at the 2nd, 4th, "
                      "8th… failed request in a row)", asked, exc)  # fmt: skip
        elif said == "again":
            log.error("web: %s: the database still does not answer (%d requests in a row): %s",
                      asked, failures, exc)  # fmt: skip

    def answered(self, asked: str) -> None:
        """A request the database answered: after failed ones, said once."""
        if failed := self._repeats.worked():
            log.info("web: %s: the database answers again, after %s in a row", asked,
                     count(failed, "failed request"))  # fmt: skip
