"""The newsroom page at ``/``: plain HTML, CSS and JavaScript from ``service/static/``.

It is the API's own client (same origin, no CDN, no build step) and holds no data, so its files
are public even when API keys are on; the page asks for a key and sends it to the API. A strict
Content-Security-Policy allows only these files: no inline script, no other origin, so a
Wikidata label that is HTML (``<img src=x onerror=...>``) could not run even if it were ever put
in the page as markup (the page puts everything from Wikidata in as text).
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parents[1] / "static"

CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Cache-Control": "no-cache"}

#: URL path -> (file in service/static/, content type)
PAGE_FILES = {"/": ("newsroom.html", "text/html"),
              "/static/newsroom.js": ("newsroom.js", "text/javascript"),
              "/static/newsroom.css": ("newsroom.css", "text/css")}
PAGE_PATHS = frozenset(PAGE_FILES)


def _serve(name: str, content_type: str):
    body = (STATIC / name).read_bytes()       # a few KB, read once

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8",
                            headers=SECURITY_HEADERS)

    return serve


ROUTES = [web.get(path, _serve(name, content_type), allow_head=False)
          for path, (name, content_type) in PAGE_FILES.items()]
