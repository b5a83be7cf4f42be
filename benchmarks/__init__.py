"""The benchmark harness (`make bench`): the whole check cycle measured against the parser alone.

feeds      generated RSS/Atom bodies and indicators, written to a directory
server     the feed server, a separate process on 127.0.0.1 (200, 304 or validators ignored)
measure    parse floor, cold/warm/unchanged cycles and memory, match scaling, store rate
webload    the HTTP endpoint over a populated store; load from `load`, a separate process
history    the same work over a short and a long stored history
search     `monitor search` over those two stores
report     the targets and their PASS/FAIL lines
"""
