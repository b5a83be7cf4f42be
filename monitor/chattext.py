"""chattext: an alert's text made inert for a chat service, whose messages ping whoever they
mention and render a stranger's markup (the services and what each gets: README, "Change
alerts").

Headlines, snippets, links and a feed's error come from strangers. In a chat message,
`@everyone`, `@here`, `<!channel>` or `<@123>` pings people (Matrix: `@room`; Rocket.Chat and
Nextcloud Talk: `@all`; Zulip: `@**all**`; Telegram: `@username`; Google Chat: `<users/all>`;
Lark: `<at user_id="all">`; Webex: `<@all>`; Revolt: `<%role>`; Zoho Cliq: `{@participants}`;
KOOK: `(met)all(met)`; Mastodon and Misskey: `@user@server`, a stranger notified by a public
post), and markup renders: `[text](http://evil)` shows a link whose address is hidden, and
`**`, `~~`, `||`, Misskey's `$[…]` or KOOK's `(spl)` restyle or hide words. `for_chat`
neutralises the whole alert in one pass (the alert's own words use none of these), each chat
as its `Treatment` says; what it leaves out is still the text as written, no word lost:

- every `@` gets a zero-width space after it (`@\u200beveryone`, as discord.py's
  `escape_mentions` writes it), so no mention is live; inside a web address it is written
  `%40` instead, which the address means as well (`https://medium.com/%40name/story`);
- `escaped`: characters a backslash makes plain, where the chat shows an escaped character as
  itself (Discord, Guilded, Revolt and Mattermost: `\\ * _ ~ ` | [ ] < >`; Rocket.Chat, whose
  parser reads an escape only before `# * . @ _ ` ~` and shows the backslash before any other
  character: `* _ ~ ` #`, and a zero-width space after `@ ] | < \\`: Apprise's backslash before
  every punctuation character showed, and `\\(…\\)` or `\\[…\\]` became a KaTeX formula);
- `broken`: characters a zero-width space follows (invisible), where a backslash is not known
  to be read as an escape: a `](`, `$[`, `~~`, `**`, `<at`, `{@`, `(met)` or ```` ``` ````
  cannot form with one inside it (Zulip, whose Markdown reads no backslash escape, so that
  `\\[x\\](url)` was still a link: `@ ] * ~ $ <`; Revolt: `<%role>`, `$$`; Google Chat: `<`;
  Misskey, Webex, Zoho Cliq, Twist, KOOK, Ryver, Lark and Fluxer:
  `@ ] < ( { $ * _ ~ | \\ `` ` ``);
- web addresses are left whole (and on Rocket.Chat e-mail addresses too), so the article's
  link stays a link that shows where it goes;
- `markdown`: the text goes to Apprise as Markdown already made inert (Rocket.Chat, Webex,
  Zoho Cliq, Twist, KOOK and Revolt, an embed, take only Markdown from Apprise, whose own
  escaping of plain text puts a backslash inside every address, which broke the link).

Slack, Telegram, Matrix, Nextcloud Talk and Mastodon get only the mentions broken: Apprise
already makes the rest inert for plain text (Slack: `&`, `<`, `>` as entities, unformatted;
Telegram: entities in HTML mode; Matrix: a plain `m.text` body), or the service shows text as
it is. A Matrix member whose display name a headline contains is still notified: that push
rule matches the body's words, and only an `m.mentions` field (which Apprise does not send)
or a notice (`msgtype=notice`, which notifies no one of the alert either) turns it off.
Other channels (e-mail, `json://` webhooks read by programs, ntfy, Teams, DingTalk, WeCom,
LINE, Flock, Bluesky…) get the text as it is, and the digest never comes here. Pure: no I/O.
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
    "lark": Treatment(broken=_MARKUP),
    "fluxer": Treatment(broken=_MARKUP),  # Discord's kind: `@everyone`, `<@123>`, `||spoiler||`
    "slack": Treatment(),
    "telegram": Treatment(),
    "matrix": Treatment(),
    "nextcloudtalk": Treatment(),
    "mastodon": Treatment(),
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
