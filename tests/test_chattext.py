"""An alert's text for a chat service: no live mention, no stranger's formatting, links whole."""

from __future__ import annotations

import pytest

from monitor.chattext import for_chat

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
        # Zulip renders what Apprise sends as it is: what Python-Markdown unescapes is escaped
        (
            "zulip",
            "@**all** [x](https://e.example/) ~~y~~",
            f"@{ZW}\\*\\*all\\*\\* \\[x\\](https://e.example/) ~~y~~",
        ),
        # Google Chat: no `<users/all>`, no `<url|label>`; Apprise handles the Markdown
        (
            "googlechat",
            "<users/all> <https://e.example/|x>",
            f"<{ZW}users/all> <{ZW}https://e.example/|x>",
        ),
        # Apprise escapes their formatting (entities, plain m.text, backslashes): mentions only
        ("matrix", "@room **x**", f"@{ZW}room **x**"),
        ("rocketchat", "@all <b>", f"@{ZW}all <b>"),
        ("telegram", "@kim <b>", f"@{ZW}kim <b>"),
        # a public post that names @kim@mastodon.social notifies kim: no longer
        ("mastodon", "@kim@mastodon.social **x**", f"@{ZW}kim@{ZW}mastodon.social **x**"),
        ("", "@everyone **x**", "@everyone **x**"),  # e-mail, json://, ntfy…: as it is
    ],
)
def test_for_chat(chat: str, text: str, shown: str) -> None:
    assert for_chat(text, chat) == shown
