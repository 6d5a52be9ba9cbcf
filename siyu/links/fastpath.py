"""The redirect path in front of Django: short links answered without Django's request stack.

`asgi(django_app)` and `wsgi(django_app)` wrap the project's application. A GET or HEAD of
`/s/<slug>` on any host, or of `/<slug>` on a configured short domain, is answered by
`links.redirect.visit` (one cached lookup, the click spooled, no session, no middleware, no
template); everything else goes to Django. The plain view in links/views.py answers the same URLs
when the app is served without this wrapper (e.g. Django's test client).
"""
import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from django.core.exceptions import SynchronousOnlyOperation
from django.utils.encoding import iri_to_uri

from . import redirect
from .redirect import Visit, visit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

PREFIX = "/s/"
SINGLE_SEGMENT = re.compile(r"^/([A-Za-z0-9_-]{1,64})$")  # console URLs end in "/", so never match


def short_domain(host: str, stale_ok: bool = False) -> int | None:
    """The id of the configured short domain `host`, or None (cached like the links)."""
    return redirect._domain(host, time.monotonic(), stale_ok)[0]


def _slug_and_host(path: str, host: str) -> tuple[str | None, bool]:
    """(slug, needs a short-domain check) for a path that may be a short link, else (None, False)."""
    if path.startswith(PREFIX):
        slug = path[len(PREFIX):]
        return (slug, False) if slug and "/" not in slug else (None, False)
    match = SINGLE_SEGMENT.match(path)
    return (match.group(1), True) if match and host else (None, False)


def _language(accept_language: str) -> str:
    return "en" if accept_language.lower().startswith("en") else "zh-hans"


def _parse_query(raw: str) -> dict[str, str]:
    return dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}


def _answer(result: Visit) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) of a Visit."""
    headers = [(b"cache-control", b"no-store")]
    if result.location is not None:
        headers.append((b"location", iri_to_uri(result.location).encode("latin-1")))
        return 302, headers, b""
    body = (result.page or "").encode()
    headers += [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    return result.status, headers, body


def _resolve(
    path: str, host: str, query: str, user_agent: str, referer: str, remote_addr: str, language: str,
    stale_ok: bool = False,
) -> Visit | None:
    slug, check_domain = _slug_and_host(path, host)
    if slug is None or (check_domain and short_domain(host, stale_ok) is None):
        return None
    return visit(
        host=host, slug=slug, query=_parse_query(query), user_agent=user_agent, referer=referer,
        remote_addr=remote_addr, language=language, stale_ok=stale_ok,
    )


def asgi(django_app: Callable[..., Awaitable[None]]) -> ASGIApp:
    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await django_app(scope, receive, send)
        path = scope["path"]
        if not path.startswith(PREFIX) and not SINGLE_SEGMENT.match(path):
            return await django_app(scope, receive, send)
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]}
        client = scope.get("client") or ("", 0)
        resolve = partial(
            _resolve, path, headers.get("host", ""),
            scope.get("query_string", b"").decode("latin-1"), headers.get("user-agent", ""),
            headers.get("referer", ""), client[0], _language(headers.get("accept-language", "")),
        )
        try:
            # A warm plain link needs no database: answered right here on the event loop.
            result = resolve(stale_ok=True)
        except SynchronousOnlyOperation:
            # It needs the database (a cold cache, a capped link, a channel code). Django refuses a query
            # on the event loop before running it, and visit() writes its click only after its queries,
            # so nothing happened yet: run it again in a thread.
            result = await asyncio.get_running_loop().run_in_executor(None, resolve)
        if result is None:
            return await django_app(scope, receive, send)
        status, response_headers, body = _answer(result)
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return application


def wsgi(django_app: WSGIApp) -> WSGIApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and (path.startswith(PREFIX) or SINGLE_SEGMENT.match(path)):
            result = _resolve(
                path, environ.get("HTTP_HOST", ""), environ.get("QUERY_STRING", ""), environ.get("HTTP_USER_AGENT", ""),
                environ.get("HTTP_REFERER", ""), environ.get("REMOTE_ADDR", ""), _language(environ.get("HTTP_ACCEPT_LANGUAGE", "")),
            )
            if result is not None:
                status, headers, body = _answer(result)
                reason = {302: "Found", 404: "Not Found", 410: "Gone", 429: "Too Many Requests", 503: "Service Unavailable"}
                start_response(f"{status} {reason.get(status, '')}", [(k.decode(), v.decode("latin-1")) for k, v in headers])
                return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]
        return django_app(environ, start_response)

    return application
