"""An alert's text for a chat service: no live mention, no stranger's formatting, links whole."""

from __future__ import annotations

import re

import pytest

from monitor.chattext import CHATS, FULL_WIDTH, TREATMENTS, for_chat

ZW = "\u200b"


@pytest.mark.parametrize(
    ("chat", "text", "shown"),
    [
        ("discord", "@everyone <@&42> ||x||", f"@{ZW}everyone \\<@{ZW}&42\\> \\|\\|x\\|\\|"),
        ("mattermost", "@channel ~~a_b~~ `c`", f"@{ZW}channel \\~\\~a\\_b\\~\\~ \\`c\\`"),
        # an address stays a link: its `@` is written %40, which it means as well
        (
            "discord",
            "see https://medium.com/@kim/a_b*c now",
            "see https://medium.com/%40kim/a_b*c now",
        ),
        ("mattermost", "[x](https://evil.example/)", "\\[x\\](https://evil.example/)"),
        # Slack: Apprise writes < > & as entities and sends it unformatted; a \ would show
        ("slack", "**x** <!here> @here", f"**x** <!here> @{ZW}here"),
        # Zulip renders what Apprise sends as it is, and reads no backslash as an escape: a
        # zero-width space breaks @**all**, [x](url), ~~strike~~, $$math$$ and <time:…>
        (
            "zulip",
            "@**all** [x](https://e.example/) ~~y~~ $$x$$ <time:1>",
            f"@{ZW}＊＊all＊＊ [x]{ZW}(https://e.example/) ~{ZW}~{ZW}y~{ZW}~{ZW} "
            f"${ZW}${ZW}x${ZW}${ZW} <{ZW}time:1>",
        ),
        # Google Chat: no `<users/all>`, no `<url|label>`; Apprise handles the Markdown
        (
            "googlechat",
            "<users/all> <https://e.example/|x>",
            f"<{ZW}users/all> <{ZW}https://e.example/|x>",
        ),
        # Apprise escapes their formatting (entities, plain m.text, backslashes): mentions only
        ("matrix", "@room **x**", f"@{ZW}room **x**"),
        ("telegram", "@kim <b>", f"@{ZW}kim <b>"),
        # a public post that names @kim@mastodon.social notifies kim: no longer
        ("mastodon", "@kim@mastodon.social **x**", f"@{ZW}kim@{ZW}mastodon.social **x**"),
        # Rocket.Chat: a backslash only where its parser reads one; no `\\(` (KaTeX) made
        (
            "rocketchat",
            "@all **x** (y) [z](u) ||s|| \\(k\\) https://e.example/a_b.c kim.lee@example.com",
            f"@{ZW}all \\*\\*x\\*\\* (y) [z]{ZW}(u) |{ZW}|{ZW}s|{ZW}|{ZW} \\{ZW}(k\\{ZW}) "
            "https://e.example/a_b.c kim.lee@example.com",
        ),
        # Misskey's MFM has no escape: a zero-width space breaks a link's `](`, `$[fn`, tags
        (
            "misskey",
            "[x](https://evil.example/) $[x4 big] <plain>a</plain> ~~s~~",
            f"[x]{ZW}({ZW}https://evil.example/) ${ZW}[x4 big]{ZW} <{ZW}plain>a<{ZW}/plain> "
            f"~{ZW}~{ZW}s~{ZW}~{ZW}",
        ),
        # Revolt reads `<%role>` in the raw text, a backslash before it or not
        (
            "revolt",
            "<%01HZ> [x](https://e.example/)",
            f"\\<{ZW}%01HZ\\> \\[x\\](https://e.example/)",
        ),
        (
            "kook",
            "(met)all(met) (spl)hidden(spl)",
            f"({ZW}met)all({ZW}met) ({ZW}spl)hidden({ZW}spl)",
        ),
        ("cliq", "{@participants}", f"{{{ZW}@{ZW}participants}}"),
        ("lark", '<at user_id="all">All</at>', f'<{ZW}at user_{ZW}id="all">All<{ZW}/at>'),
        ("webex", "<@all> **x**", f"<{ZW}@{ZW}all> ＊＊x＊＊"),
        ("fluxer", "<@123> ||x||", f"<{ZW}@{ZW}123> |{ZW}|{ZW}x|{ZW}|{ZW}"),
        # Reddit: `u/kim` notifies kim; its Markdown reads backslash escapes (`>!spoiler!<`, `^`)
        (
            "reddit",
            "u/kim >!s!< ^up https://e.example/a_b",
            f"u/{ZW}kim \\>!s!\\< \\^up https://e.example/a_b",
        ),
        # Nextcloud Talk and HumHub render CommonMark, which reads every backslash escape
        (
            "nextcloudtalk",
            "@all [x](https://e.example/) &amp; # h",
            f"@{ZW}all \\[x\\](https://e.example/) \\&amp; \\# h",
        ),
        # two or more of a character that pairs into code, emphasis or a formula where no
        # escape stops it (checked with Misskey's mfm-js 0.26 and @rocket.chat/message-parser)
        # go full-width; a line ending in " search" is no Misskey search box
        (
            "misskey",
            "Xi `code` *x* meets Lee\nXi meets Lee Search\nXi 検索 now",
            f"Xi ｀code｀ *{ZW}x*{ZW} meets Lee\nXi meets Lee Search{ZW}\nXi 検索 now",
        ),
        ("rocketchat", "Xi pledges $5bn, Lee $3bn", "Xi pledges ＄5bn, Lee ＄3bn"),
        ("kook", "`code` *x*", "｀code｀ ＊x＊"),
        ("session", "@05abc", f"@{ZW}05abc"),
        ("", "@everyone **x**", "@everyone **x**"),  # e-mail, json://, ntfy…: as it is
        ("dingtalk", "@all [x](https://e.example/)", "@all [x](https://e.example/)"),
    ],
)
def test_for_chat(chat: str, text: str, shown: str) -> None:
    assert for_chat(text, chat) == shown


HOSTILE = (
    "Xi \\ meets [Lee](http://evil.example/) @everyone <@all> {@all} (met)all(met) $[x4 a] "
    "**b** __c__ ~~d~~ `e` ||f|| $$g$$ <at>h</at> &amp; kim@example.org 1. # - + = ! . |"
)


@pytest.mark.parametrize("chat", sorted(CHATS))
def test_every_chat_shows_every_word_as_written(chat: str) -> None:
    """What a chat gets differs from the text only by zero-width spaces, the backslashes it
    reads as escapes and full-width forms of a character: no word or character is lost, none is
    added that shows."""
    shown = for_chat(HOSTILE, chat).replace(ZW, "")
    for character in TREATMENTS[chat].fullwidth:  # the same character, full-width
        shown = shown.replace(chr(ord(character) + FULL_WIDTH), character)
    if escaped := TREATMENTS[chat].escaped:  # what the chat reads as an escape
        shown = re.sub(rf"\\({escaped})", r"\1", shown)
    assert shown == HOSTILE
