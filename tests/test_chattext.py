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
        ("", "@everyone **x**", "@everyone **x**"),  # e-mail, json://, ntfy…: as it is
    ],
)
def test_for_chat(chat: str, text: str, shown: str) -> None:
    assert for_chat(text, chat) == shown
