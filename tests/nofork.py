"""Imported by a forkserver as it starts (`tests.nostart.forkserver_that_cannot_fork` preloads
it), never elsewhere: its `os.fork` fails as the kernel's does when memory is short, so the
forkserver dies of the first process asked of it, as a real one does (its main loop lets the
OSError out), and the process that asked reads end of file."""

import errno
import os


def _fork() -> int:
    raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))


os.fork = _fork
