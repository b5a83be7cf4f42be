"""chattext: an alert's text made inert for a chat service (Discord, Slack, Mattermost).

Headlines, snippets, links and a feed's error come from strangers. In a chat message,
`@everyone`, `@here`, `@channel`, `<!channel>` or `<@123>` pings people, and Markdown renders:
`[text](http://evil)` shows a link whose address is hidden, `**`, backticks, `||` and `~~`
restyle the text. `for_chat` neutralises the whole alert in one pass (the alert's own words
use none of these):

- every `@` gets a zero-width space after it (`@\u200beveryone`, as discord.py's
  `escape_mentions` writes it), so no mention is live; inside a web address it is written
  `%40` instead, which the address means as well (`https://medium.com/%40name/story`);
- Discord and Mattermost: `\\ * _ ~ ` | [ ] < >` are escaped with a backslash outside web
  addresses (both show an escaped character as itself); an address is left whole, so it stays
  a link that shows where it goes;
- Slack: Apprise writes `&`, `<` and `>` of plain text as entities (which ends `<!channel>`,
  `<@U123>` and `<http://evil|text>`) and sends it unformatted (`mrkdwn: false`, `plain_text`
  blocks), where a backslash would show: only the mentions are broken here.

Other channels (e-mail, `json://` webhooks read by programs, ntfy…) get the text as it is, and
the daily digest never comes here. Pure: no I/O.
"""

from __future__ import annotations

import re

CHATS = frozenset({"discord", "slack", "mattermost"})
ZERO_WIDTH_SPACE = "\u200b"

_ADDRESS = re.compile(r"https?://[^\s<>\[\]`|\\\"']+", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\*_~`|\[\]<>])")


def for_chat(text: str, chat: str) -> str:
    """`text` as `chat` (one of CHATS) shows it without a live mention or a stranger's
    formatting; any other `chat` ('' for a channel that is no chat) gets it unchanged."""
    if chat not in CHATS:
        return text
    parts, end = [], 0
    for address in _ADDRESS.finditer(text):
        parts += [_words(text[end : address.start()], chat), address[0].replace("@", "%40")]
        end = address.end()
    parts.append(_words(text[end:], chat))
    return "".join(parts)


def _words(text: str, chat: str) -> str:
    if chat != "slack":
        text = _MARKDOWN.sub(r"\\\1", text)
    return text.replace("@", "@" + ZERO_WIDTH_SPACE)


__all__ = ["CHATS", "ZERO_WIDTH_SPACE", "for_chat"]
