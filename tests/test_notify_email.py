"""Change alerts by e-mail (Apprise's `mailto://`), received by a real SMTP server (aiosmtpd) on
127.0.0.1 and read from the bytes of its DATA: Chinese, Japanese and Korean headlines and
indicator titles arrive readable, and every line of the message within RFC 5322's 998.

Apprise writes the Subject as one RFC 2047 encoded-word, quoted-printable (9 bytes a CJK
character), on one line it does not fold: a long title made that line longer than 998 bytes,
the server answered `500 Line too long` and the alert failed at every retry.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from monitor.alerttext import Alert, build_alert
from monitor.domain import Evidence, StatusChange
from monitor.notify import Notifier, fitted_subject
from tests.smtpserver import SMTPServer, running_smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:.imghdr. is deprecated:DeprecationWarning")

HEADLINES = (
    ("习近平同韩国总统李在明举行会谈，双方同意建立外交安全对话机制",
     "新华社北京1月5日电 国家主席习近平5日在人民大会堂同韩国总统李在明举行会谈。"),
    ("이재명 대통령, 시진핑 주석과 정상회담…북핵 문제 긴밀 협의",
     "이재명 대통령은 5일 베이징에서 시진핑 중국 국가주석과 정상회담을 했다."),
    ("習近平氏と李在明大統領が会談　北朝鮮問題で協力確認",
     "中国の習近平国家主席は5日、北京で韓国の李在明大統領と会談した。"),
)  # fmt: skip


def _evidence(n: int, title: str, snippet: str) -> Evidence:
    return Evidence(
        entry_id=n, indicator_id="nk", outcome_id="pressure", title=title,
        link=f"https://news.example.org/{n}", publisher="yna.co.kr",
        time=datetime(2026, 1, 6, 1, 30, tzinfo=UTC), terms=("北京",), snippet=snippet * 4,
    )  # fmt: skip


def cjk_change() -> StatusChange:
    evidence = tuple(_evidence(n, *headline) for n, headline in enumerate(HEADLINES))
    return StatusChange(
        indicator_id="nk", at=datetime(2026, 1, 6, 2, 0, tzinfo=UTC), old_status="quiet",
        new_status="pressure:confirmed", evidence=evidence, definition_hash="h",
    )  # fmt: skip


def mailed(server: SMTPServer, alert: Alert) -> bytes:
    """`alert` sent through Apprise's e-mail to `server`: the raw DATA it received."""
    url = (
        f"mailto://{server.host}:{server.port}?mode=insecure"
        "&from=monitor@example.org&to=reader@example.org"
    )
    failures = Notifier([url], attempts=1, timeout=5).notify([alert])
    assert failures == [], failures
    [received] = server.messages
    return received.raw


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("北朝鮮に対する北京の語り口" * 9, id="japanese"),  # 117 characters
        pytest.param("중국이 북한 문제에 대해 말하는 방식 " * 8, id="korean"),
        pytest.param("How Beijing talks about North Korea, and what it asks " * 5, id="english"),
    ],
)
def test_a_long_title_arrives_with_its_status_and_every_line_within_998(title: str) -> None:
    """Before, the Japanese and Korean titles failed with `500 Line too long` at every retry,
    and Apprise cut the English one's subject at 250 characters, its status with it."""
    alert = build_alert(cjk_change(), title.strip())
    with running_smtp_server() as server:
        raw = mailed(server, alert)
    assert not re.search(rb"(?<!\r)\n", raw)  # every line ends in CRLF
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    received = server.messages[0].message
    subject = str(received["Subject"])
    assert subject.endswith(": pressure — confirmed") and subject.startswith("monitor: ")
    shown = subject.removeprefix("monitor: ").removesuffix(": pressure — confirmed")
    assert shown.endswith("…") and title.startswith(shown.removesuffix("…"))
    assert len(shown) > 60  # cut where it must be, not to a stub
    body = received.get_body(("plain",))
    assert body is not None
    assert str(body.get_content()).replace("\r\n", "\n").rstrip("\n") == alert.body


def test_a_title_that_fits_is_sent_as_written() -> None:
    alert = build_alert(cjk_change(), "중국이 북한 문제에 대해 말하는 방식")
    assert fitted_subject(alert.title) == alert.title
    with running_smtp_server() as server:
        mailed(server, alert)
    assert str(server.messages[0].message["Subject"]) == alert.title


def test_an_unknown_status_is_kept_too() -> None:
    change = dataclasses.replace(cjk_change(), new_status="unknown", evidence=())
    fitted = fitted_subject(build_alert(change, "北京" * 200).title)
    assert fitted.endswith("…: ⚠ unknown") and fitted.startswith("monitor: 北京")
