"""chattext: an alert's text made inert for a chat service, whose messages ping whoever they
mention and render a stranger's markup. Which service gets what, and why: README, "Change
alerts" (its table); `TREATMENTS` below is that table.

Headlines, snippets, links and a feed's error come from strangers. In a chat message
`@everyone`, `<!channel>`, `<@123>`, `@room`, `@**all**`, `<users/all>`, `<at user_id="all">`,
`<%role>`, `{@participants}` or `(met)all(met)` pings people, `@user@server` in a Mastodon or
Misskey post, `@user` in a tweet or a GitHub issue and `u/user` in a Reddit post notify a
stranger (`owner/repo#12` marks their issue), and markup renders: `[text](http://evil)` shows a
link whose address is hidden, and `**`, `~~`, `||`, Misskey's `$[…]` or KOOK's `(spl)`
restyle or hide words. `for_chat` neutralises the whole alert in one pass (the alert's own
words use none of these), each chat as its `Treatment` says, and loses no word:

- every `@` gets a zero-width space after it (`@\u200beveryone`, as discord.py's
  `escape_mentions` writes it), so no mention is live; inside a web address it is written
  `%40` instead, which the address means as well (`https://medium.com/%40name/story`);
- `broken`: more characters a zero-width space (invisible) follows, so that no `](`, `$[`,
  `~~`, `**`, `||`, `<at`, `{@`, `(met)` or `#12` can form with one inside it: where the chat
  reads no backslash escape (Zulip, whose Markdown has it turned off, so that `\\[x\\](url)`
  was still a link; Misskey's MFM), where it is not known to, or where an escape does not stop
  it (Revolt reads `<%role>` in the raw text; GitHub links `\\#12`);
- `escaped`: characters a backslash makes plain, where the chat reads it as an escape and shows
  the character itself (Discord, Mattermost, Revolt, GitHub, Reddit, the CommonMark of
  Nextcloud Talk and HumHub; on Rocket.Chat only before `* _ ~ ` #`: its parser shows the
  backslash before others, and reads `\\(…\\)` as KaTeX);
- web addresses are left whole (and on Rocket.Chat e-mail addresses too), so the article's
  link stays a link that shows where it goes;
- `markdown`: the text goes to Apprise as Markdown already made inert, for the services
  Apprise sends only Markdown (its own escaping of plain text put a backslash inside every
  address, which broke the link).

Slack, Telegram, Bale, Matrix, Session, Mastodon and X get only the mentions broken: Apprise
already makes the rest inert for plain text, or the service shows text as it is. A Matrix
member whose display name a headline contains is still notified: that push rule matches the
body's words, and only an `m.mentions` field (which Apprise does not send) or a notice
(`msgtype=notice`, which notifies no one of the alert either) turns it off. Other channels
(e-mail, `json://` webhooks read by programs, ntfy, Teams, DingTalk, WeCom, LINE, Flock,
Bluesky…) get the text as it is, and the digest never comes here. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ZERO_WIDTH_SPACE = "\u200b"


@dataclass(frozen=True)
class Treatment:
    """What one chat gets: see the module's docstring."""

    escaped: str = ""  # a regex class of the characters a backslash is put before
    broken: str = "@"  # the characters a zero-width space is put after
    markdown: bool = False  # sent to Apprise as Markdown, escaped here
    emails: bool = False  # e-mail addresses kept whole, as web addresses are


_DISCORD = Treatment(escaped=r"[\\*_~`|\[\]<>]")
_COMMONMARK = Treatment(escaped=r"[\\*_~`|\[\]<>&#]")  # CommonMark reads every such escape
_MARKUP = "@]<({$*_~|\\`"  # every opener of a mention, a link or a style these chats know
TREATMENTS = {
    "discord": _DISCORD,  # and Guilded, whose webhooks are Discord's
    "mattermost": _DISCORD,
    "revolt": Treatment(escaped=_DISCORD.escaped, broken="@<$", markdown=True),  # `\<%r>` pings
    "zulip": Treatment(broken="@]*~$<"),  # no escape: Zulip turned Python-Markdown's off
    "googlechat": Treatment(broken="@<"),
    "rocketchat": Treatment(escaped="[*_~`#]", broken="@]|<\\", markdown=True, emails=True),
    "webex": Treatment(broken=_MARKUP, markdown=True),
    "cliq": Treatment(broken=_MARKUP, markdown=True),
    "twist": Treatment(broken=_MARKUP, markdown=True),
    "kook": Treatment(broken=_MARKUP, markdown=True),
    "misskey": Treatment(broken=_MARKUP),
    "ryver": Treatment(broken=_MARKUP),
    "lark": Treatment(broken=_MARKUP),  # and Feishu, Lark's Chinese twin
    "nextcloudtalk": _COMMONMARK,  # `@all` pings; `[text](url)` is a masked link
    "humhub": _COMMONMARK,  # a mention is a link: `[Name](mention:guid)`
    "synology": Treatment(broken=_MARKUP),  # `<https://evil|text>` is a masked link
    "stackfield": Treatment(broken=_MARKUP),
    "fluxer": Treatment(broken=_MARKUP),  # Discord's kind: `@everyone`, `<@123>`, `||spoiler||`
    "github": Treatment(escaped=_DISCORD.escaped, broken="@#", markdown=True),  # an issue
    "reddit": Treatment(escaped=r"[\\*_~`|\[\]<>^#]", broken="@/", markdown=True),  # `u/kim`
    "bale": Treatment(),  # Telegram's kind: `@kim` mentions
    "session": Treatment(),  # `@05…` (a Session ID) mentions
    "slack": Treatment(),
    "telegram": Treatment(),
    "matrix": Treatment(),
    "mastodon": Treatment(),
    "x": Treatment(),  # a tweet (mode=tweet) notifies whoever it names
}
CHATS = frozenset(TREATMENTS)

_WEB = r"https?://[^\s<>\[\]`|\\\"']+"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_ADDRESS = re.compile(_WEB, re.IGNORECASE)
_ADDRESS_OR_EMAIL = re.compile(f"{_WEB}|{_EMAIL}", re.IGNORECASE)


def for_chat(text: str, chat: str) -> str:
    """`text` as `chat` (one of CHATS) shows it without a live mention or a stranger's
    formatting; any other `chat` ('' for a channel that is no chat) gets it unchanged."""
    treatment = TREATMENTS.get(chat)
    if treatment is None:
        return text
    addresses = _ADDRESS_OR_EMAIL if treatment.emails else _ADDRESS
    parts, end = [], 0
    for address in addresses.finditer(text):
        kept = address[0] if "://" not in address[0] else address[0].replace("@", "%40")
        parts += [_words(text[end : address.start()], treatment), kept]
        end = address.end()
    parts.append(_words(text[end:], treatment))
    return "".join(parts)


def sent_as_markdown(chat: str) -> bool:
    """Whether `for_chat(text, chat)` is Markdown made inert, for Apprise to pass on as it is."""
    treatment = TREATMENTS.get(chat)
    return treatment is not None and treatment.markdown


def _words(text: str, treatment: Treatment) -> str:
    for character in treatment.broken:  # first: a backslash this adds is no stranger's
        text = text.replace(character, character + ZERO_WIDTH_SPACE)
    if treatment.escaped:
        text = re.sub(f"({treatment.escaped})", r"\\\1", text)
    return text


__all__ = ["CHATS", "TREATMENTS", "ZERO_WIDTH_SPACE", "Treatment", "for_chat", "sent_as_markdown"]
