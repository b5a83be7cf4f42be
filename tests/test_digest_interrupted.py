"""Ctrl-C or SIGTERM while `monitor digest --send` waits on the SMTP server: one line saying
nothing was marked sent, exit 130 or 143, and the claim released as a failed send leaves it, so
the next `digest --send` sends the digest, once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.smtpserver import Handler, running_smtp_server
from tests.test_check_interrupted import SIGNALS
from tests.test_cli_ops import invoke, make_database, shipped
from tests.test_replay_held import monitor

DAY = "2026-01-06"


class Silent(Handler):
    """Takes the envelope, never answers DATA (until `released`, after the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_data = threading.Event()
        self.released = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_data.set()
        while not self.released.is_set():  # the server's own loop; the test waits on in_data
            await asyncio.sleep(0.05)
        return "451 4.3.0 gone"


def smtp_env(tmp_path: Path, port: int) -> dict[str, str]:
    return shipped(tmp_path) | {
        "MONITOR_DIGEST_TO": "ops@example.com",
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(port),
        "MONITOR_SMTP_STARTTLS": "false",
    }


@SIGNALS
def test_a_digest_send_stopped_while_the_server_is_silent_is_sent_by_the_next_send(
    tmp_path: Path, signum: int, code: int, why: str
) -> None:
    silent = Silent()
    with running_smtp_server(handler=silent) as smtp:
        env = smtp_env(tmp_path, smtp.port)
        make_database(env)
        send = monitor("digest", "--send", "--date", DAY, env=env)
        try:
            assert silent.in_data.wait(60), send.communicate(timeout=60)
            send.send_signal(signum)
            out, err = send.communicate(timeout=60)
        finally:
            silent.released.set()

    assert send.returncode == code, err
    assert err.splitlines()[-1] == (
        f"Error: digest {DAY}: {why} before it was marked sent; nothing marked sent, "
        "`monitor digest --send` sends it again"
    )
    assert "Traceback" not in err and "Aborted!" not in err and out == ""
    with running_smtp_server() as working:
        env = smtp_env(tmp_path, working.port)
        again = invoke(["digest", "--send", "--date", DAY], env)
        once_more = invoke(["digest", "--send", "--date", DAY], env)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"digest {DAY}: sent to smtp:127.0.0.1:{working.port}\n"
    assert once_more.exit_code == 1 and "already sent" in once_more.stderr
    assert [m.rcpt_tos for m in working.messages] == [("ops@example.com",)]
