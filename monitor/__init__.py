"""monitor: watches news feeds for the markers analysts list under "what to watch next"."""

__version__ = "0.1.0"
