"""Every error monitor raises on purpose derives from MonitorError.

    MonitorError
    ├── DefinitionError     definitions: a YAML file or feeds file is invalid (file:line: message)
    ├── FetchError          fetch: `monitor match` could not read a URL (carries `permanent`)
    ├── ParseError          parse: a body is not a feed
    ├── StoreError          store: the database refused or is behind the code
    ├── DigestError         digest: a digest could not be built or delivered
    ├── VerdictError        verdict: it names no stored entry, or no indicator or outcome
    ├── SilenceError        silence: it names no indicator, outcome or silence, or is over
    └── ConfigError         settings: a setting has a value that cannot work

Messages start with the stage that raised them:
"fetch: ...", "definitions: indicators/x.yaml:12: ...".
This module imports nothing.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every deliberate monitor error."""


class SilenceError(MonitorError):
    """A silence names no indicator or outcome, lasts no time, or (to end it) names no silence
    or one that is over; `problem` says which ("unknown", "over", "invalid"). `field` is the
    value given wrong (`for`, `reason`) when one is, `detail` what is wrong with it: each edge
    names the field as its users wrote it (`worded`), the CLI its flag, HTTP its JSON field."""

    def __init__(self, message: str, *, problem: str, field: str | None = None) -> None:
        self.problem = problem
        self.field = field
        self.detail = message
        super().__init__(f"silence: {field}: {message}" if field else message)

    def worded(self, field: str) -> str:
        """The message, its field named `field` (`--for`, or `"for"`); without one, as it is."""
        return f"silence: {field}: {self.detail}" if self.field else str(self)


class ConfigError(MonitorError):
    """A setting has a value that cannot work."""


class DefinitionError(MonitorError):
    """Definitions are invalid; `problems` lists every `file:line: message`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("definitions: " + "; ".join(self.problems))


class FetchError(MonitorError):
    """A feed given to `monitor match` could not be fetched; `permanent` for 410 Gone. (The
    check cycle raises none: a failed fetch is a FetchResult, recorded on the feed.)"""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


class ParseError(MonitorError):
    """A body is not a feed that can be read."""


class StoreError(MonitorError):
    """The database refused an operation or its schema does not match the code.
    `disconnected`: the connection was lost (a restarted server), so nothing of that
    transaction was kept unless the loss came while it committed. `dry_run_lost`: a dry run's
    one connection was lost, and with it all the dry run did (it is one transaction): it can
    only start again."""

    def __init__(
        self, message: str, *, disconnected: bool = False, dry_run_lost: bool = False
    ) -> None:
        super().__init__(message)
        self.disconnected = disconnected
        self.dry_run_lost = dry_run_lost


class DigestError(MonitorError):
    """A digest could not be built or delivered."""


class VerdictError(MonitorError):
    """A verdict names no stored entry, or no indicator or outcome of the definitions, is
    neither yes nor no, or its note is too long; `unknown` says which ("entry", "indicator",
    "outcome", "verdict", "note")."""

    def __init__(self, message: str, *, unknown: str) -> None:
        self.unknown = unknown
        super().__init__(message)
