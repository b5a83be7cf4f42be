"""A hostile headline on the services that render an alert as Markdown but ping no one by it
(ServerChan; Gotify, PushPlus and WxPusher when the URL says `format=markdown`; Microsoft Teams'
Workflows), and the plain-text titles of
Reddit posts and GitHub issues: each through its real Apprise plugin to a webhook receiver on
127.0.0.1 (only the internet is replaced), the Markdown rendered by a CommonMark parser."""

from __future__ import annotations

import dataclasses
import html as html_module
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from markdown_it import MarkdownIt

from monitor.alerttext import build_alert
from monitor.chattext import for_chat
from tests.test_chat_services import ZW, zulip_html
from tests.test_notify import LINK, fast, sample_change
from tests.webhook import Request, Webhook, receiving_every_request

pytestmark = pytest.mark.filterwarnings("ignore:.imghdr. is deprecated:DeprecationWarning")

HEADLINE = "Xi meets Lee [click](http://evil.example/x) **loud** `code` <at>kim@corp.example</at>"
TITLE = "monitor: N_K [talks] #1: pressure:confirmed"  # an indicator's title with markup in it
ANSWERS = {  # what each service answers a message it took, where `{}` is not enough
    "pushplus": b'{"code": 200, "data": "1"}',
    "wxpusher": b'{"code": 1000, "data": []}',
    "reddit": b'{"access_token": "t0ken", "expires_in": 3600, "json": {"errors": []}}',
    "github": b'{"id": 1, "number": 1}',
}


def _alert(headline: str = HEADLINE) -> Any:
    change = sample_change()
    evidence = dataclasses.replace(change.evidence[0], title=headline)
    made = build_alert(dataclasses.replace(change, evidence=(evidence,)), "NK")
    return dataclasses.replace(made, title=TITLE)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    """A receiver that every request of the plugins reaches, whatever host and scheme it names
    (the transport's only change)."""
    with receiving_every_request(monkeypatch) as receiver:
        yield receiver


def _sent(url: str, hook: Webhook) -> Request:
    hook.answer = ANSWERS.get(url.split("://")[0], b"{}")
    assert fast([url], attempts=1).notify([_alert()]) == []
    [request] = [r for r in hook.received if "access_token" not in r.path]
    return request


def _form(field: str) -> Callable[[Request], str]:
    return lambda request: parse_qs(request.body.decode())[field][0]


def rendered(markdown: str) -> str:
    """`markdown` as a CommonMark renderer makes it, as HTML."""
    return MarkdownIt("commonmark").enable("strikethrough").render(markdown)


@pytest.mark.parametrize(
    ("url", "text_of"),
    [
        ("schan://t0ken-abcdef", _form("desp")),  # ServerChan's desp is Markdown
        ("gotify://gotify.example/t0kenabcdefghi?format=markdown", lambda r: r.json["message"]),
        ("pushplus://" + "a" * 32 + "?format=markdown", lambda r: r.json["content"]),
        (
            "wxpusher://AT_" + "a" * 32 + "/UID_" + "b" * 28 + "?format=markdown",
            lambda r: r.json["content"],
        ),
        ("workflows://teams.example:443/" + "a" * 32 + "/s1gnature", lambda r: _teams(r)["body"]),
    ],
)
def test_markdown_services_show_the_headline_as_written_and_the_address_whole(
    hook: Webhook, url: str, text_of: Callable[[Request], str]
) -> None:
    """ServerChan got the headline as written into a Markdown field: `[click](http://evil…)`
    was a link hiding where it went, `**loud**` bold, `` `code` `` code. Gotify, PushPlus,
    WxPusher (with `format=markdown`) and Teams got Apprise's escaping of plain text, a backslash
    before every `.`, `-` and `(`, inside the article's address too (`https://en\\.yna…`, no
    longer a link). Now each renders no link, style or code of the headline, every character of
    it shows as written, and the article's address is whole."""
    text = text_of(_sent(url, hook))
    assert f"  {LINK}\n" in text
    html = rendered(text)
    for tag in ("<a ", "<strong>", "<code>", "<em>"):
        assert tag not in html
    shown = html_module.unescape(re.sub(r"<[^>]+>", "", html)).replace(ZW, "")
    assert f"{HEADLINE} (yna.co.kr" in shown


def _teams(request: Request) -> dict[str, Any]:
    card = request.json["attachments"][0]["content"]
    blocks = {block.get("id"): block.get("text", "") for block in card["body"]}
    return {"body": blocks["body"], "title": blocks.get("title", ""), "card": card}


@pytest.mark.parametrize(
    ("url", "title_of"),
    [
        ("reddit://bot:pa55word@app-id/app-secret/news", _form("title")),
        (
            "github://ghp_abcdefghijklmnopqrstuvwxyz0123456789@owner/repo",
            lambda r: r.json["title"],
        ),
    ],
)
def test_a_plain_text_title_is_sent_as_written(
    hook: Webhook, url: str, title_of: Callable[[Request], str]
) -> None:
    """A Reddit post's title and a GitHub issue's are plain text, and they got the body's
    Markdown escapes: `monitor: N\\_K \\[talks\\] \\#1: …` showed its backslashes (and GitHub's a
    zero-width space in `#1`). The title, the alert's own words, goes as written."""
    assert title_of(_sent(url, hook)) == TITLE


def test_gotify_without_markdown_gets_the_text_as_it_is(hook: Webhook) -> None:
    """Without `format=markdown` Gotify shows the message as plain text: nothing changes."""
    text = _sent("gotify://gotify.example/t0kenabcdefghi", hook).json["message"]
    assert f"- {HEADLINE} (" in text


@pytest.mark.parametrize("chat", ["webex", "twist", "ryver", "fluxer", "kook", "cliq", "lark"])
def test_no_code_span_nor_emphasis_forms_where_no_escape_is_read(chat: str) -> None:
    """A zero-width space inside each `*` and `` ` `` left `` `code` `` code and `*x*` (and
    `**x**`) italic in a CommonMark renderer, as in most Markdown these services render: a
    code span and emphasis need only a pair of them. Two or more now go full-width (`｀`,
    `＊`), which pairs with nothing; the headline reads as written."""
    headline = "Xi `code` meets *Lee* and **Kim** x"
    html = rendered(for_chat(f"- {headline} (yna.co.kr)", chat))
    for tag in ("<code>", "<em>", "<strong>"):
        assert tag not in html
    shown = re.sub(r"<[^>]+>", "", html).replace(ZW, "")
    assert shown.strip() == f"{headline} (yna.co.kr)".replace("`", "｀").replace("*", "＊")


def test_zulip_renders_no_stranger_code_or_italics() -> None:
    """Zulip reads no escape: `` `code` `` was code and `*x*` italic with a zero-width space
    inside each (Python-Markdown's patterns, as Zulip's, take any character between)."""
    html = zulip_html(for_chat("- Xi `code` meets *Lee* now", "zulip"))
    assert "<code>" not in html and "<em>" not in html
    assert "Xi ｀code｀ meets ＊Lee＊ now" in html
