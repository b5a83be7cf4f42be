"""Generated feeds and indicators: realistic sizes, several scripts, a known share that matches.

Every feed is about `FEED_BYTES` of RSS 2.0 or Atom with `entries` items. Text is English,
Korean or Chinese; `match_share` of the entries carry a headline from a shipped indicator's
examples that the indicator is expected to match, so the cycle stores matches and evidence.
Generated indicators use phrases built from the same vocabulary, so they hit now and then.

Every date in a corpus is `NOW` or before it, never the clock's: the bytes, the entries they
parse into and what matches are the same on every run and every day, so figures from different
runs compare. A measurement that evaluates the entries evaluates at `Corpus.now` (the cycles,
the store), so they fall inside the indicators' windows as they would for a daemon reading
them as they are published.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from monitor.definitions import compile_term, load_definitions
from monitor.domain import Definitions, Feed, FeedSelector, Indicator, Outcome, digest_of
from monitor.ruletree import AllNode, AnyNode, Node, NoneNode, Rule, Scope, TermNode

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_INDICATORS = ROOT / "indicators"
SHIPPED_FEEDS = ROOT / "config" / "feeds.yaml"
FEED_BYTES = 100_000
TOPIC_SHARE = 0.01  # English sentences naming a "topic action" that generated indicators read
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # the corpus's "now": its newest entry's date


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_EN = _words(
    "government officials said the ministry would review plans for the new port and "
    "trade talks after the regional election while markets rose on strong export data "
    "and the central bank kept rates steady as analysts expected growth to slow in "
    "the second half of the year amid weaker demand for chips steel ships and cars "
    "from major partners the committee met on tuesday to discuss budget reforms "
    "energy prices housing supply and labour rules for young workers in the capital "
    "region residents complained about traffic noise and rising rents city council "
    "members promised new parks schools and hospitals police reported a fire at a "
    "warehouse near the river no injuries were reported football fans celebrated a "
    "late goal in the league final weather forecasters warned of heavy rain and "
    "strong winds across the southern coast farmers hoped for a better rice harvest "
)
_KO = _words(
    "정부는 오늘 경제 정책 회의를 열고 수출 지원 방안을 논의했다 "
    "국회는 예산안을 심사하고 지방 선거를 앞두고 여야가 공방을 벌였다 "
    "서울 시민들은 교통 혼잡과 집값 상승에 불만을 나타냈다 "
    "기상청은 남부 지방에 많은 비가 내릴 것으로 예보했다 "
    "반도체 업계는 하반기 실적 개선을 기대하고 있다 "
    "축구 대표팀은 결승전에서 승리했다 경찰은 화재 원인을 조사 중이다"
)
_ZH = _words(
    "政府今天召开经济工作会议讨论出口支持措施 专家表示今年下半年经济增长可能放缓 "
    "市场对芯片需求保持乐观 城市居民关注房价和交通问题 气象部门预计南方将出现强降雨 "
    "农民希望今年水稻丰收 足球联赛决赛吸引大量球迷 警方正在调查仓库火灾原因 "
    "地方政府承诺建设更多学校和医院 央行维持利率不变"
)
_PLACES = _words(
    "Seoul Busan Tokyo Beijing Shanghai Osaka Hanoi Manila Jakarta Bangkok Taipei Singapore "
    "Sydney London Berlin Paris"
)
_TOPICS = _words(
    "trade port energy budget housing labour chips rice rail tourism fisheries shipping "
    "pension tariff customs satellite"
)
_ACTIONS = _words(
    "agreement talks deal reform subsidy ban review forum corridor quota summit pact probe "
    "tender licence plan"
)
_NEGATIONS = ("postponed", "cancelled", "rejected", "denied")


@dataclass(frozen=True)
class Corpus:
    """What `write` put in a directory: feeds/<id>.xml and corpus.json."""

    root: Path
    feed_ids: tuple[str, ...]
    tags: tuple[str, ...]  # every tag a shipped indicator selects
    entries: int
    planted: int  # entries whose headline a shipped indicator should match
    bytes: int
    now: datetime  # the newest entry's date; every other is older (see `write`)

    @property
    def files(self) -> list[Path]:
        return [self.root / "feeds" / f"{feed_id}.xml" for feed_id in self.feed_ids]

    def definitions(self, base_url: str, indicators: Sequence[Indicator]) -> Definitions:
        feeds = tuple(Feed(i, f"{base_url}/{i}.xml", self.tags) for i in self.feed_ids)
        return Definitions(tuple(indicators), feeds, digest_of(base_url, str(len(indicators))))

    @classmethod
    def load(cls, root: Path) -> Corpus:
        data = json.loads((root / "corpus.json").read_text())
        return cls(
            root,
            tuple(data["feed_ids"]),
            tuple(data["tags"]),
            data["entries"],
            data["planted"],
            data["bytes"],
            datetime.fromisoformat(data["now"]),
        )


def shipped() -> Definitions:
    return load_definitions(SHIPPED_INDICATORS, SHIPPED_FEEDS)


def matching_headlines(definitions: Definitions) -> list[str]:
    """Example headlines a shipped indicator is expected to match (and without a body)."""
    return [
        e.text
        for i in definitions.indicators
        for e in i.examples
        if e.expect != "none" and not e.body
    ]


def write(
    root: Path,
    feeds: int,
    entries: int,
    *,
    match_share: float = 0.05,
    seed: int = 6,
    now: datetime = NOW,
) -> Corpus:
    """`feeds` bodies of `entries` items each, about FEED_BYTES apiece, under `root`/feeds,
    dated back from `now` (7 minutes apart in a feed, a minute apart from feed to feed)."""
    rng = random.Random(seed)
    defs = shipped()
    headlines = matching_headlines(defs)
    tags = tuple(sorted({t for i in defs.indicators for t in i.feeds.tags}))
    now = now.replace(microsecond=0)
    per_entry = max(400, FEED_BYTES // max(entries, 1))
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    ids, planted, size = [], 0, 0
    for n in range(feeds):
        feed_id = f"bench-{n:04d}"
        hits = [rng.random() < match_share for _ in range(entries)]
        items = [
            _item(
                rng,
                feed_id,
                k,
                now - timedelta(minutes=7 * k + n),
                per_entry,
                rng.choice(headlines) if hit else None,
            )
            for k, hit in enumerate(hits)
        ]
        atom = n % 5 in (1, 3)
        body = _atom(feed_id, items) if atom else _rss(feed_id, items, cdata=n % 2 == 0)
        (root / "feeds" / f"{feed_id}.xml").write_bytes(body)
        ids.append(feed_id)
        planted += sum(hits)
        size += len(body)
    data = {
        "feed_ids": ids,
        "tags": tags,
        "entries": feeds * entries,
        "planted": planted,
        "bytes": size,
        "now": now.isoformat(),
    }
    (root / "corpus.json").write_text(json.dumps(data))
    return Corpus.load(root)


# ---------------------------------------------------------------- items


@dataclass(frozen=True)
class _Item:
    guid: str
    link: str
    title: str
    html: str
    published: datetime
    category: str


def _item(
    rng: random.Random,
    feed_id: str,
    k: int,
    published: datetime,
    size: int,
    headline: str | None,
) -> _Item:
    """About `size` bytes of item, a third of it text (as in real full-content feeds)."""
    words, joiner = _language(rng)
    title = headline or _sentence(rng, words, joiner, 8, 14)
    link = f"https://news{k % 7}.example.com/{feed_id}/2026/01/{k:05d}/{_slug(rng)}.html"
    paragraphs: list[str] = []
    used = len(title.encode()) + 1100  # the item's own elements (see _rss and _atom)
    while used < size:
        text = " ".join(_sentence(rng, words, joiner, 10, 24) + "." for _ in range(2))
        image = f"https://img.example.com/{feed_id}/{k:05d}/{_slug(rng)}"
        figure = (
            f'<figure class="inline"><img src="{image}-800.jpg" srcset="{image}-400.jpg 400w, '
            f'{image}-800.jpg 800w" width="800" height="450" alt="" loading="lazy"/>'
            f"<figcaption>Photo: Staff</figcaption></figure>"
        )
        more = f'<a href="{link}?utm_source=rss&amp;utm_medium=feed" rel="noopener">more</a>'
        paragraphs.append(f'<p class="body">{escape(text)} {more}</p>{figure}')
        used += len(paragraphs[-1].encode())
    return _Item(link, link, title, "".join(paragraphs), published, rng.choice(_TOPICS))


def _slug(rng: random.Random) -> str:
    return "-".join(rng.choice(_EN) for _ in range(6))


def _language(rng: random.Random) -> tuple[Sequence[str], str]:
    roll = rng.random()
    if roll < 0.15:
        return _KO, " "
    if roll < 0.30:
        return _ZH, ""
    return _EN, " "


def _sentence(rng: random.Random, words: Sequence[str], joiner: str, low: int, high: int) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(low, high) // (1 + (joiner == "") * 3))]
    if joiner == " " and words is _EN:
        chosen.insert(rng.randrange(len(chosen)), rng.choice(_PLACES))
        if rng.random() < TOPIC_SHARE:
            chosen.insert(
                rng.randrange(len(chosen)), f"{rng.choice(_TOPICS)} {rng.choice(_ACTIONS)}"
            )
    text = joiner.join(chosen)
    return text[:1].upper() + text[1:]


def _rss(feed_id: str, items: Sequence[_Item], *, cdata: bool) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/">',
        f"<channel><title>Bench {feed_id}</title><link>https://news.example.com/</link>",
        "<description>Generated news for the benchmark</description><language>en</language>",
    ]
    for item in items:
        html = f"<![CDATA[{item.html}]]>" if cdata else escape(item.html)
        parts.append(
            f"<item><title>{escape(item.title)}</title><link>{item.link}</link>"
            f'<guid isPermaLink="true">{item.guid}</guid>'
            f"<pubDate>{format_datetime(item.published)}</pubDate>"
            f"<dc:creator>Staff reporter</dc:creator><category>{item.category}</category>"
            f"<category>World</category><category>Asia-Pacific</category>"
            f'<media:content url="{item.link}.jpg" medium="image" width="1200" height="675">'
            f"<media:credit>Photo agency</media:credit></media:content>"
            f"<description>{html}</description></item>"
        )
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def _atom(feed_id: str, items: Sequence[_Item]) -> bytes:
    updated = max(i.published for i in items).isoformat() if items else "2026-01-01T00:00:00Z"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>Bench {feed_id}</title><id>urn:bench:{feed_id}</id><updated>{updated}</updated>",
        '<link rel="alternate" href="https://news.example.com/"/>',
    ]
    for item in items:
        parts.append(
            f"<entry><title>{escape(item.title)}</title><id>{item.guid}</id>"
            f'<link rel="alternate" href="{item.link}"/>'
            f"<updated>{item.published.isoformat()}</updated>"
            f"<author><name>Staff reporter</name></author>"
            f'<category term="{item.category}"/><category term="World"/>'
            f'<link rel="enclosure" type="image/jpeg" href="{item.link}.jpg"/>'
            f'<content type="html">{escape(item.html)}</content></entry>'
        )
    parts.append("</feed>")
    return "\n".join(parts).encode()


# ---------------------------------------------------------------- indicators


def indicators(total: int, *, seed: int = 6) -> list[Indicator]:
    """The shipped indicators, then generated ones up to `total` (at least the shipped)."""
    base = list(shipped().indicators)
    rng = random.Random(seed)
    generated = [_generated(rng, n) for n in range(len(base), total)]
    return (base + generated)[: max(total, 0)]


def _generated(rng: random.Random, n: int) -> Indicator:
    outcomes = []
    for k, label in enumerate(("advanced", "stalled")):
        phrases = [f"{rng.choice(_TOPICS)} {rng.choice(_ACTIONS)}" for _ in range(5)]
        places = rng.sample(_PLACES, 3)
        if n % 10 == 0 and k == 0:
            places.append(f"/\\b{rng.choice(_PLACES).lower()}\\w*/")
        node: Node = AllNode(
            (
                AnyNode(tuple(TermNode(compile_term(p)) for p in phrases)),
                AnyNode(tuple(TermNode(compile_term(p)) for p in places)),
            )
        )
        node = AllNode((node, NoneNode((TermNode(compile_term(rng.choice(_NEGATIONS))),))))
        scope = Scope.SENTENCE if n % 2 else Scope.ENTRY
        outcomes.append(Outcome(label, label.title(), Rule(node, scope)))
    indicator_id = f"gen-{n:04d}"
    return Indicator(
        id=indicator_id,
        group="Generated",
        title=f"Generated indicator {n}",
        question="Does the generated rule fire?",
        outcomes=tuple(outcomes),
        window=timedelta(days=30),
        feeds=FeedSelector(),
        hash=digest_of(indicator_id),
    )
