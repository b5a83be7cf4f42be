"""Who holds a lease or a claim: the owner name of a process, and whether that process ended.

An owner is `host:pid:start@place`: the host name; the process id; when the process started,
in clock ticks after boot (field 22 of /proc/PID/stat), which tells a process from a later one
given the same pid; and `place`, 12 hex digits of the kernel's boot id and the process's PID
namespace, within which a pid means one process. A lease's holder **has ended** when its host
name and place are this process's and its pid names no process, a process that has ended but
was not waited for yet (a zombie), or one started at another time (the pid was given again).
Any other owner (another machine, a container of its own, a boot before, a name without the
start, or one of an older version: `cli`, `cli:HOST`) is never judged: its lease runs out.
The daemon, `monitor check`, `monitor digest --send` and the CLI's alert sends name themselves
by `owner_of`.

Linux only (/proc); elsewhere a process is named `host:pid` and no holder is judged ended.
Standard library only: this sits below every module that names an owner.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from pathlib import Path

__all__ = ["ended", "owner_of", "shown"]

_PROC = Path("/proc")


def owner_of(pid: int | None = None) -> str:
    """The owner name of the process `pid` (default: this one), `host:pid:start@place`; just
    `host:pid` where /proc cannot tell its start (then no other process judges it ended)."""
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname()
    start, place = _started(pid), _place()
    if start is None or place is None:
        return f"{host}:{pid}"
    return f"{host}:{pid}:{start}@{place}"


def ended(owner: str) -> bool:
    """Whether `owner` names a process of this host and place that no longer runs (see the
    module's docstring); False for an owner it cannot judge."""
    host, _, rest = owner.partition(":")
    pid, _, identity = rest.partition(":")
    start, _, place = identity.partition("@")
    if not (pid.isdigit() and start.isdigit() and place):
        return False
    if host != socket.gethostname() or place != _place():
        return False
    return _started(int(pid)) != int(start)


def shown(owner: str) -> str:
    """How a person reads an owner: `host:pid`."""
    host, _, rest = owner.partition(":")
    return f"{host}:{rest.partition(':')[0]}" if rest else owner


def _started(pid: int) -> int | None:
    """When the process `pid` started (clock ticks after boot); None when there is none, it
    has ended (a zombie, or dying), or /proc does not say."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the name, which may hold anything
    if len(fields) < 20 or fields[0] in ("Z", "X", "x") or not fields[19].isdigit():
        return None
    return int(fields[19])


@functools.cache
def _place() -> str | None:
    """This kernel boot and PID namespace, hashed; None where /proc does not tell them."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:12]
