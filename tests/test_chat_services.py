"""A hostile headline on the chat services beyond those of test_notify, each through its real
Apprise plugin to a real webhook receiver on 127.0.0.1 (the plugin's address of the service is
pointed there: only the internet is replaced)."""

from __future__ import annotations

import dataclasses
import html as html_module
import json
import re
from collections.abc import Callable
from urllib.parse import parse_qs

import markdown
import pytest
from markdown.inlinepatterns import SimpleTagPattern
from markdown_it import MarkdownIt

from monitor.alerttext import build_alert
from monitor.chattext import for_chat
from monitor.notify import Notifier
from tests.test_notify import LINK, fast, sample_change
from tests.webhook import Request, Webhook, receiving_every_request, running_webhook

pytestmark = pytest.mark.filterwarnings("ignore:.imghdr. is deprecated:DeprecationWarning")

ZW = "\u200b"
EMAIL = "tips.desk@news.example.org"
HOSTILE = (
    "||spoiler|| [click](http://evil.example/x) ?[quiet](http://evil.example/q) $[x4 huge]"
    " <center>c</center> ~~struck~~ $$x^2$$ (met)all(met) (spl)hidden(spl) {@participants}"
    ' <@all> <%01HZROLE> <at user_id="all">All</at> @everyone'
)


def hostile(title: str = f"Xi meets Lee {HOSTILE} write to {EMAIL}") -> str:
    """An alert whose headline is `title`, as `build_alert` makes it."""
    change = sample_change()
    evidence = dataclasses.replace(change.evidence[0], title=title)
    return build_alert(dataclasses.replace(change, evidence=(evidence,)), "NK").body


def pointed(hook: Webhook, url: str) -> Notifier:
    """A Notifier for one chat URL whose plugin posts to `hook` instead of the service."""
    notifier = fast([url.format(host=hook.host, port=hook.port)], attempts=1)
    base = f"http://{hook.host}:{hook.port}"
    for service in notifier.channels[0].apprise or ():
        if url.startswith("revolt://"):
            service.notify_url = f"{base}/"
        if url.startswith("wxteams://"):
            service.notify_url = f"{base}/webhooks"
        if url.startswith("cliq://"):
            service.notify_url = base + "/api/v2/{path}/{name}/message"
        if url.startswith("kook://"):
            service.webhook_notify_url = base + "/incoming/{key}"
        if url.startswith("lark://"):
            service.webhook_url = f"{base}/hook"
        if url.startswith("zulip://"):
            service.notify_url = f"{base}/api/v1/messages"
        if url.startswith(("stackfield://", "feishu://")):
            service.notify_url = base + "/hook/{token}"
    return notifier


def _zulip(request: Request) -> str:
    return parse_qs(request.body.decode())["content"][0]


def _synology(request: Request) -> str:
    return str(json.loads(parse_qs(request.body.decode())["payload"][0])["text"])


def _sent(notifier: Notifier, hook: Webhook) -> Request:
    made = build_alert(sample_change(), "NK")
    made = dataclasses.replace(made, body=hostile())
    assert notifier.notify([made]) == []
    [request] = hook.received
    return request


@pytest.mark.parametrize(
    ("url", "text_of", "openers"),
    [
        (
            "revolt://b0t-t0ken/01HZCHANNEL",
            lambda r: r.json["embeds"][0]["description"],
            ("](", "~~", "$$", "<%", "<@"),
        ),
        ("wxteams://" + "a" * 80, lambda r: r.json["markdown"], ("](", "<@", "~~")),
        ("cliq://1001.abcdef0123/news", lambda r: r.json["text"], ("](", "{@")),
        (
            "kook://t0ken-abcdef?mode=webhook",
            lambda r: r.json["content"],
            ("](", "(met)", "(spl)", "~~"),
        ),
        ("lark://t0ken-abcdef", lambda r: r.json["content"]["text"], ("<at", "](")),
        ("zulip://bot@org/abcdefghijklmnopqrstuvwxyz012345/news", _zulip, ("](", "~~", "$$")),
        (  # a Discord of its own (fluxer.app, or self-hosted as here)
            "fluxer://{host}:{port}/1234567890/t0ken-abcdefghijklm",
            lambda r: r.json["content"],
            ("](", "~~", "<@", "||"),
        ),
        # Markdown on Talk's web and desktop clients; `@all` and `@"user"` mention
        ("nctalk://bot:pa55@{host}:{port}/r00m", lambda r: r.json["message"], ("](", "~~")),
        # a mention is a Markdown link, `[Name](mention:guid)`
        ("humhub://t0ken@{host}:{port}/1", lambda r: r.json["data"]["message"], ("](",)),
        ("synology://{host}:{port}/t0ken", _synology, ("](", "<@", "<%")),
        ("stackfield://0123abcd-0123-4567-89ab-0123456789ab", lambda r: r.json["Title"], ("](",)),
        ("feishu://t0ken-abcdef", lambda r: r.json["content"]["text"], ("<at", "](")),
    ],
)
def test_a_hostile_headline_pings_no_one_and_hides_nothing_on_these_chats(
    url: str, text_of: Callable[[Request], str], openers: tuple[str, ...]
) -> None:
    """Revolt, Webex, Zoho Cliq and KOOK render Markdown (Webex, Cliq and KOOK only take
    Markdown, Apprise escaping the text with a backslash inside every address) and ping
    `<%role>`, `<@all>`, `{@participants}`, `(met)all(met)`; a Lark text pings
    `<at user_id="all">`; Fluxer, a Discord of its own, pings `@everyone` and `<@123>` and hides
    a `||spoiler||`; KOOK's `(spl)` and Zulip's `~~`/`$$` hide or strike words: each went out as
    written. Now no mention, masked link, strike or spoiler forms (a zero-width space
    inside each opener; Revolt, as Discord, a backslash), every word is still there in order,
    and the article's address and an e-mail address stay whole, without a backslash."""
    with running_webhook(answer=b'{"code": 0, "StatusCode": 0, "_id": "1"}') as hook:
        text = text_of(_sent(pointed(hook, url), hook))
    assert re.findall(r"@(?!\u200b)", text.replace(EMAIL, "")) == []  # no live mention
    live = re.sub(r"\\.", "", text)  # what the chat reads as markup: not an escaped one
    for opener in openers:  # a mention, a masked link, a strike, a spoiler, math there
        assert opener not in live
    assert f"  {LINK}\n" in text  # the article's link, whole
    words = re.sub(r"\\(.)", r"\1", text.replace(ZW, ""))  # as the chat shows it
    assert f"Xi meets Lee {HOSTILE} write to " in words
    assert f"write to {EMAIL}" in words


def test_rocket_chat_gets_addresses_whole_no_formula_and_no_stray_backslash() -> None:
    """Apprise escaped every punctuation character of the plain text for Rocket.Chat, inside
    addresses too: `https://en\\.yna\\.co\\.kr/…` and `tips\\.desk@news\\.example\\.org`
    were no longer a link or an address, Rocket.Chat's parser showed the backslash before
    `( ) - [ ] { } |`, and read the alert's own `\\(2026\\-01\\-06 … UTC\\)` as a KaTeX
    formula. The text now goes as Markdown made inert here: a backslash only before
    `* _ ~ ` #` (which it reads as escapes), a zero-width space inside `](`, `||`, `<…>`."""
    headline = f"Xi meets Lee [click](http://evil.example/x) **loud** ||hidden|| write to {EMAIL}"
    with running_webhook(answer=b'{"success": true}') as hook:
        url = f"rocket://abcd%2Fefgh@{hook.host}:{hook.port}/#general"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile(headline))
        assert fast([url], attempts=1).notify([made]) == []
        [request] = hook.received
    text = request.json["text"]
    assert f"  {LINK}\n" in text and f"write to {EMAIL}" in text
    assert "(2026-01-06 02:00 UTC)" in text and "\\(" not in text and "\\[" not in text
    assert (
        f"Xi meets Lee [click]{ZW}(http://evil.example/x) \\*\\*loud\\*\\* |{ZW}|{ZW}hidden" in text
    )
    assert re.findall(r"@(?!\u200b)", text.replace(EMAIL, "")) == []


def test_a_misskey_post_shows_no_hidden_link_nor_a_hidden_word() -> None:
    """Misskey's MFM rendered a stranger's `[click](http://evil…)` as a link named click,
    `?[quiet](…)` as one without a preview, and `$[x4 …]`, `<center>` restyled the post; MFM has
    no escape, so a zero-width space now sits inside each: the post shows what was written."""
    with running_webhook() as hook:
        url = f"misskey://t0ken@{hook.host}:{hook.port}"
        text = _sent(fast([url], attempts=1), hook).json["text"]
    for live in ("](", "$[", "<center", "~~", "**"):
        assert live not in text
    assert f"  {LINK}\n" in text
    assert f"Xi meets Lee {HOSTILE}" in text.replace(ZW, "")


def test_webex_gets_markdown_without_apprises_backslashes() -> None:
    """Sent as Markdown made inert here, the alert reaches Webex as it reads: `(yna.co.kr, …)`
    without `\\(` or `\\.`, the link whole (Apprise's own escape wrote `https://en\\.yna…`)."""
    with running_webhook() as hook:
        text = _sent(pointed(hook, "wxteams://" + "a" * 80), hook).json["markdown"]
    assert "\\" not in text
    assert f"  {LINK}\n" in text


def test_twist_gets_markdown_that_mentions_no_one() -> None:
    """Twist renders Markdown and mentions a member as `[Name](twist-mention://id)`: a
    stranger's link shows as written, the thread's comment links nowhere hidden."""
    answer = b'{"token": "t0ken", "default_workspace": 1, "id": 1}'  # login, then the post
    with running_webhook(answer=answer) as hook:
        notifier = fast(["twist://pa55word:bot@example.org/1:123"], attempts=1)
        for service in notifier.channels[0].apprise or ():
            service.api_url = f"http://{hook.host}:{hook.port}/api/v3/"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile())
        assert notifier.notify([made]) == []
        [posted] = [r for r in hook.received if r.path.endswith("/threads/add")]
    text = parse_qs(posted.body.decode())["content"][0]
    assert "](" not in text and f"  {LINK}\n" in text and "\\" not in text
    assert f"Xi meets Lee {HOSTILE}" in text.replace(ZW, "")


def test_ryver_shows_no_masked_link_and_pings_no_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ryver renders the text Apprise sends as it is as Markdown. Its plugin posts to
    https://ORG.ryver.com, which only the transport can point at the receiver."""
    with receiving_every_request(monkeypatch) as hook:
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile())
        assert fast(["ryver://newsroom/abcdefghijklmno"], attempts=1).notify([made]) == []
        [request] = hook.received
    text = request.json["body"]
    assert request.path == "/application/webhook/abcdefghijklmno"
    assert "](" not in text and "~~" not in text and f"  {LINK}\n" in text
    assert re.findall(r"@(?!\u200b)", text) == []
    assert f"Xi meets Lee {HOSTILE}" in text.replace(ZW, "")


def zulip_html(text: str) -> str:
    """`text` as Zulip's Markdown renders it, near enough: Python-Markdown without the backslash
    escape, which Zulip turns off (zerver/lib/markdown: "escape - probably will re-add at some
    point"), with Zulip's `~~strike~~` and `$$tex$$` patterns."""
    md = markdown.Markdown(extensions=["nl2br"])
    md.inlinePatterns.deregister("escape")
    strike = r"(?<!~)(\~\~)([^~\n]+?)(\~\~)(?!~)"
    tex = r"\B(?<!\$)(\$\$)([^\n_$](?:\\\$|[^$\n])*)(\$\$)(?!\$)\B"
    md.inlinePatterns.register(SimpleTagPattern(strike, "del"), "del", 25)
    md.inlinePatterns.register(SimpleTagPattern(tex, "tex"), "tex", 90)
    return md.convert(text)


def test_zulip_renders_no_stranger_link_strike_or_bold() -> None:
    """Zulip reads no backslash as an escape: `\\[click\\](http://evil…)`, as the alert
    escaped it, still rendered a link named `click\\` to the stranger's address, and `\\*\\*`
    still made bold. A zero-width space inside `](`, `**`, `~~` and `$$` leaves no link, no bold,
    no strike and no formula, and every word shows."""
    headline = "Xi meets Lee [click](http://evil.example/x) **loud** ~~struck~~ $$x^2$$ now"
    html = zulip_html(for_chat(f"- {headline}", "zulip"))
    for tag in ("<a ", "<strong>", "<del>", "<tex>"):
        assert tag not in html
    shown = re.sub(r"<[^>]+>", "", html).replace(ZW, "")
    assert re.findall(r"\w+", shown) == re.findall(r"\w+", headline)


@pytest.mark.parametrize("chat", ["nextcloudtalk", "humhub"])
def test_commonmark_chats_render_no_stranger_link_strike_or_bold(chat: str) -> None:
    """Nextcloud Talk (its web and desktop clients) and HumHub render a message as CommonMark:
    a headline's `[click](http://evil…)` was a link named click, `**…**` and `~~…~~` bold and
    struck words, `# …` a heading. Rendered by a CommonMark parser, the alert shows no link,
    no style, and each character of the headline as written (the backslashes are escapes)."""
    headline = "# Xi &amp; Lee [click](http://evil.example/x) **loud** ~~struck~~ <b>now</b>"
    markdown_it = MarkdownIt("commonmark").enable("strikethrough")
    html = markdown_it.render(for_chat(hostile(headline), chat))
    for tag in ("<a ", "<strong>", "<s>", "<em>", "<h1>", "<b>"):
        assert tag not in html
    shown = html_module.unescape(re.sub(r"<[^>]+>", "", html.replace("<li>", "- ")))
    assert f"- {headline} (yna.co.kr" in shown.replace(ZW, "")


def test_a_github_issue_notifies_no_one_and_references_no_strangers_issue() -> None:
    """An alert as a GitHub issue: `@kim` in a headline notified kim, and `owner/repo#12`
    put a reference on a stranger's issue (Apprise's backslash, `\\#12`, does not stop
    GitHub's references); the article's link had a backslash before each dot."""
    headline = "Xi meets @kim, see owner/repo#12 and [click](http://evil.example/x)"
    with running_webhook(answer=b'{"id": 1, "number": 1}') as hook:
        notifier = fast(["github://ghp_abcdefghijklmnopqrstuvwxyz0123456789@owner/repo"], 1)
        for service in notifier.channels[0].apprise or ():
            service.notify_url = f"http://{hook.host}:{hook.port}/repos/{{owner}}/{{repo}}/issues"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile(headline))
        assert notifier.notify([made]) == []
        [request] = hook.received
    text = request.json["body"]
    assert (
        f"Xi meets @{ZW}kim, see owner/repo#{ZW}12 and \\[click\\](http://evil.example/x)" in text
    )
    assert f"  {LINK}\n" in text


def test_a_tweet_notifies_no_one_it_names() -> None:
    """With `mode=tweet` an alert is a public post, and `@kim` in a headline notified kim."""
    with running_webhook(answer=b'{"data": {"id": "1", "text": "x"}}') as hook:
        notifier = fast(["x://ckey/csecret/akey/asecret?mode=tweet"], attempts=1)
        for service in notifier.channels[0].apprise or ():
            service.twitter_tweet = f"http://{hook.host}:{hook.port}/2/tweets"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile("Xi @kim"))
        assert notifier.notify([made]) == []
        [request] = hook.received
    assert f"- Xi @{ZW}kim (" in request.json["text"]


def test_a_reddit_post_notifies_no_user_and_hides_no_word() -> None:
    """A Reddit post (its text is Markdown) that names `u/kim` notified kim, `r/news` linked a
    subreddit, `>!…!<` hid words, `^` raised them and `[click](…)` masked a stranger's link;
    Apprise's own escaping put a backslash before each dot of the article's address."""
    headline = "Xi tells u/kim and /r/news: >!hidden!< ^up [click](http://evil.example/x)"
    answer = b'{"access_token": "t0ken", "expires_in": 3600, "json": {"errors": []}}'
    with running_webhook(answer=answer) as hook:
        notifier = fast(["reddit://bot:pa55word@app-id/app-secret/news"], attempts=1)
        for service in notifier.channels[0].apprise or ():
            service.auth_url = f"http://{hook.host}:{hook.port}/api/v1/access_token"
            service.submit_url = f"http://{hook.host}:{hook.port}/api/submit"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile(headline))
        assert notifier.notify([made]) == []
        [posted] = [r for r in hook.received if r.path == "/api/submit"]
    text = parse_qs(posted.body.decode())["text"][0]
    assert f"Xi tells u/{ZW}kim and /{ZW}r/{ZW}news: \\>!hidden!\\< \\^up \\[click\\](http:" in text
    assert f"  {LINK}\n" in text
    assert f"- {headline} (" in re.sub(r"\\(.)", r"\1", text.replace(ZW, ""))


def test_a_bale_message_mentions_no_one_it_names() -> None:
    """Bale, Telegram's kind, reads `@kim` in a message's plain text as a mention of kim."""
    with running_webhook(answer=b'{"ok": true, "result": {}}') as hook:
        notifier = fast(["bale://123456:t0ken-abc/4567"], attempts=1)
        for service in notifier.channels[0].apprise or ():
            service.notify_url = f"http://{hook.host}:{hook.port}/bot{{token}}/{{method}}"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile("Xi @kim"))
        assert notifier.notify([made]) == []
        [request] = hook.received
    assert f"- Xi @{ZW}kim (" in parse_qs(request.body.decode())["text"][0]


def test_notifiarr_passes_no_headlines_mention_on_to_discord() -> None:
    """Notifiarr's bot posts an alert to a Discord channel, and Apprise's plugin copied every
    `@everyone`, `<@123>` or `<@&456>` of the text into the message's content and its pings:
    a headline's pinged the whole server. Now none is found, and Discord gets its escapes."""
    headline = "Xi @everyone <@123> <@&456> [click](http://evil.example/x)"
    with running_webhook() as hook:
        notifier = fast(["notifiarr://apikey-0123/123456789"], attempts=1)
        for service in notifier.channels[0].apprise or ():
            service.notify_url = f"http://{hook.host}:{hook.port}/api/v1/notification/apprise"
        made = dataclasses.replace(build_alert(sample_change(), "NK"), body=hostile(headline))
        assert notifier.notify([made]) == []
        [request] = hook.received
    discord = request.json["discord"]
    assert discord["text"]["content"] == ""
    assert discord["ping"] == {"pingUser": 0, "pingRole": 0}
    text = discord["text"]["description"]
    assert f"- Xi @{ZW}everyone \\<@{ZW}123\\> \\<@{ZW}&456\\> \\[click\\](http:" in text
    assert f"  {LINK}\n" in text
