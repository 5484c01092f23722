"""factlink's HTTP API (aiohttp) and command line; it drives ``workers/`` and ``linkers/``."""
