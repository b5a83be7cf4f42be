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
  address, which broke the link), and for ServerChan, whose text is Markdown;
- `fullwidth`: where no escape is read, a zero-width space stops no code span, `*x*` or
  KaTeX `$x$` (each takes any character between its pair): two or more of such a character are
  written full-width (`｀`, `＊`, `＄`), which reads the same and pairs with nothing;
- `plain_title`: the title goes as written where the service shows it as plain text (a Reddit
  post's, a GitHub issue's): an escape there shows;
- `search`: a line ending in a space and `search` or `検索` gets a zero-width space at its end,
  or Misskey shows it as a search box.

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
    fullwidth: str = ""  # characters written full-width (`＄`) when the text has two of one
    plain_title: bool = False  # the service's title field is plain text: the title as written
    search: bool = False  # a line ending in " search" or " 検索" is broken (Misskey's search box)


_DISCORD = Treatment(escaped=r"[\\*_~`|\[\]<>]")
_COMMONMARK = Treatment(escaped=r"[\\*_~`|\[\]<>&#]")  # CommonMark reads every such escape
_MARKUP = "@]<({$*_~|\\`"  # every opener of a mention, a link or a style these chats know
_PAIRED = "`*"  # a code span and `*x*` form with a zero-width space inside: no escape-free cure
# Markdown a service renders, made inert here; its title field is plain text.
_ESCAPE_FREE = Treatment(broken=_MARKUP, fullwidth=_PAIRED)  # a zero-width space, no escape
_SENT_COMMONMARK = Treatment(
    escaped=_COMMONMARK.escaped, broken="@<", markdown=True, plain_title=True
)
TREATMENTS = {
    "discord": _DISCORD,  # and Guilded, whose webhooks are Discord's
    "mattermost": _DISCORD,
    "revolt": Treatment(escaped=_DISCORD.escaped, broken="@<$", markdown=True),  # `\<%r>` pings
    "zulip": Treatment(broken="@]*~$<", fullwidth=_PAIRED),  # Zulip turned its escape off
    "googlechat": Treatment(broken="@<"),
    "rocketchat": Treatment(  # `$x$` is KaTeX where turned on, an escape or not
        escaped="[*_~`#]", broken="@]|<\\", markdown=True, emails=True, fullwidth="$"
    ),
    "webex": Treatment(broken=_MARKUP, markdown=True, fullwidth=_PAIRED),
    "cliq": Treatment(broken=_MARKUP, markdown=True, fullwidth=_PAIRED),
    "twist": Treatment(broken=_MARKUP, markdown=True, fullwidth=_PAIRED),
    "kook": Treatment(broken=_MARKUP, markdown=True, fullwidth=_PAIRED),
    "misskey": Treatment(broken=_MARKUP, fullwidth="`", search=True),  # `*x*` needs no more
    "ryver": _ESCAPE_FREE,
    "lark": _ESCAPE_FREE,  # and Feishu, Lark's Chinese twin
    "nextcloudtalk": _COMMONMARK,  # `@all` pings; `[text](url)` is a masked link
    "humhub": _COMMONMARK,  # a mention is a link: `[Name](mention:guid)`
    "synology": _ESCAPE_FREE,  # `<https://evil|text>` is a masked link
    "stackfield": _ESCAPE_FREE,
    "fluxer": _ESCAPE_FREE,  # Discord's kind: `@everyone`, `<@123>`, `||spoiler||`
    "github": Treatment(  # an issue; its title is plain text
        escaped=_DISCORD.escaped, broken="@#", markdown=True, plain_title=True
    ),
    "reddit": Treatment(  # `u/kim`; a post's title is plain text
        escaped=r"[\\*_~`|\[\]<>^#]", broken="@/", markdown=True, plain_title=True
    ),
    "teams": _SENT_COMMONMARK,  # Workflows: Apprise makes each `<at>id</at>` a live mention
    "serverchan": _SENT_COMMONMARK,  # its `desp` is Markdown, Apprise's text sent as it is
    "gotify": _SENT_COMMONMARK,  # these three only where the URL says format=markdown
    "pushplus": _SENT_COMMONMARK,
    "wxpusher": _SENT_COMMONMARK,
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
# Misskey's MFM makes a line that ends in a space and one of these a search box
_SEARCH = re.compile(
    r"([ \u3000](?:\[(?:検索|search)\]|検索|search))$", re.IGNORECASE | re.MULTILINE
)
FULL_WIDTH = 0xFEE0  # from an ASCII character to its full-width form: `$` + this is `＄`


def for_chat(text: str, chat: str) -> str:
    """`text` as `chat` (one of CHATS) shows it without a live mention or a stranger's
    formatting; any other `chat` ('' for a channel that is no chat) gets it unchanged."""
    treatment = TREATMENTS.get(chat)
    if treatment is None:
        return text
    addresses = _ADDRESS_OR_EMAIL if treatment.emails else _ADDRESS
    paired = "".join(c for c in treatment.fullwidth if text.count(c) > 1)
    parts, end = [], 0
    for address in addresses.finditer(text):
        kept = address[0] if "://" not in address[0] else address[0].replace("@", "%40")
        parts += [_words(text[end : address.start()], treatment, paired), kept]
        end = address.end()
    parts.append(_words(text[end:], treatment, paired))
    shown = "".join(parts)
    return _SEARCH.sub(rf"\1{ZERO_WIDTH_SPACE}", shown) if treatment.search else shown


def title_for_chat(title: str, chat: str) -> str:
    """An alert's title as `chat` gets it: as written where the service shows it in a title
    field of plain text (Reddit's post, GitHub's issue: an escape there shows), else as
    `for_chat` makes the text."""
    treatment = TREATMENTS.get(chat)
    return title if treatment is not None and treatment.plain_title else for_chat(title, chat)


def sent_as_markdown(chat: str) -> bool:
    """Whether `for_chat(text, chat)` is Markdown made inert, for Apprise to pass on as it is."""
    treatment = TREATMENTS.get(chat)
    return treatment is not None and treatment.markdown


def _words(text: str, treatment: Treatment, paired: str) -> str:
    for character in paired:  # no code span, `*x*` or `$formula$` can pair them up
        text = text.replace(character, chr(ord(character) + FULL_WIDTH))
    for character in treatment.broken:  # first: a backslash this adds is no stranger's
        text = text.replace(character, character + ZERO_WIDTH_SPACE)
    if treatment.escaped:
        text = re.sub(f"({treatment.escaped})", r"\\\1", text)
    return text


__all__ = [
    "CHATS",
    "FULL_WIDTH",
    "TREATMENTS",
    "ZERO_WIDTH_SPACE",
    "Treatment",
    "for_chat",
    "sent_as_markdown",
    "title_for_chat",
]
