"""chattext: an alert's text made inert for a chat service (Discord, Slack, Mattermost, Matrix,
Rocket.Chat, Zulip, Google Chat, Telegram, Nextcloud Talk; and Mastodon and Misskey, whose posts
notify whoever they mention).

Headlines, snippets, links and a feed's error come from strangers. In a chat message,
`@everyone`, `@here`, `@channel`, `<!channel>` or `<@123>` pings people (Matrix: `@room`;
Rocket.Chat: `@all`, `@here`; Zulip: `@**all**`, `@**everyone**`, `@*group*`; Telegram:
`@username`; Nextcloud Talk: `@all`; Mastodon and Misskey: `@user@server`, a stranger notified
by a public post; Google Chat: `<users/all>`), and Markdown renders: `[text](http://evil)` shows
a link whose address is hidden, `**`, backticks, `||` and `~~` restyle the text. `for_chat`
neutralises the whole alert in one pass (the alert's own words use none of these):

- every `@` gets a zero-width space after it (`@\u200beveryone`, as discord.py's
  `escape_mentions` writes it), so no mention is live; inside a web address it is written
  `%40` instead, which the address means as well (`https://medium.com/%40name/story`);
- Discord and Mattermost: `\\ * _ ~ ` | [ ] < >` are escaped with a backslash outside web
  addresses (both show an escaped character as itself); an address is left whole, so it stays
  a link that shows where it goes;
- Zulip: Apprise sends the text as it is and Zulip renders it as Markdown (there is no plain
  mode): `\\ * _ ` [ ]` are escaped with a backslash, the characters Zulip's Markdown
  (Python-Markdown) shows as themselves when escaped, so no link is hidden and no mention's
  `**` survives (`~` and `|` would show their backslash there: a strikethrough stays possible);
- Google Chat: a `<` gets a zero-width space after it, so neither a mention (`<users/all>`)
  nor a link whose label hides its address (`<http://evil|text>`) can form (Apprise turns the
  rest of Markdown into Chat's markup, and escapes `>` but not `<`);
- Nextcloud Talk, Mastodon and Misskey: only the mentions are broken (Misskey's MFM would
  still render a `[label](url)` link: it has no escape but `<plain>`, left for now);
- Slack, Telegram, Matrix and Rocket.Chat: only the mentions are broken here. For plain text
  Apprise already makes the rest inert, and a backslash would show: Slack gets `&`, `<` and
  `>` as entities, unformatted (`mrkdwn: false`); Telegram every `<`, `>` and `&` as entities
  in HTML mode; Matrix a plain `m.text` body without a formatted one; Rocket.Chat every
  Markdown character escaped with a backslash.

Other channels (e-mail, `json://` webhooks read by programs, ntfy, Microsoft Teams, whose
Adaptive Card Apprise escapes as Markdown and where `@` is no mention without the entity
Apprise makes only of an `<at>…</at>` it no longer sees once escaped…) get the text as it is,
and the daily digest never comes here. Pure: no I/O.
"""

from __future__ import annotations

import re

CHATS = frozenset(
    {"discord", "slack", "mattermost", "matrix", "rocketchat", "zulip", "googlechat", "telegram"}
    | {"nextcloudtalk", "mastodon", "misskey"}
)
ZERO_WIDTH_SPACE = "\u200b"

_ADDRESS = re.compile(r"https?://[^\s<>\[\]`|\\\"']+", re.IGNORECASE)
_ESCAPED = {  # the characters a backslash makes plain, per chat that renders strangers' Markdown
    "discord": re.compile(r"([\\*_~`|\[\]<>])"),
    "mattermost": re.compile(r"([\\*_~`|\[\]<>])"),
    "zulip": re.compile(r"([\\*_`\[\]])"),
}


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
    if escaped := _ESCAPED.get(chat):
        text = escaped.sub(r"\\\1", text)
    if chat == "googlechat":
        text = text.replace("<", "<" + ZERO_WIDTH_SPACE)
    return text.replace("@", "@" + ZERO_WIDTH_SPACE)


__all__ = ["CHATS", "ZERO_WIDTH_SPACE", "for_chat"]
