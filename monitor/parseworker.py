"""Imported once by the forkserver that `parse_many`'s workers fork from.

It loads what every parse needs — feedparser, selectolax and the public suffix list, whose
parsing costs more than a feed — before the fork, so no worker of any cycle loads it again.
"""

from monitor.parse import publisher_of

publisher_of("https://www.example.com/")
