"""The standing redirect fuzz (issue 14): odd slugs, 60 KB query strings and 60 KB headers against the short-link
redirect, through the WSGI application `siyu serve` runs and the ASGI one uvicorn runs (each with its fast path
in front of Django). Expected: never a 5xx, and a redirect only ever to the link's own target.

Default: 300 requests per entry point; `SIYU_SLOW_TESTS=1`: 2,700 per entry point (5,400, the probe's count).
"""
import asyncio
import io
import random
import sys
from urllib.parse import quote

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from siyu.links.redirect import cache_clear
from siyu.links.services import channel_code_create, code_target_add, link_create

from .crawl import SLOW

CASES = 2_700 if SLOW else 300
BIG = 60 * 1024

ODD_SLUGS = [
    "", "a", "A" * 300, "x" * 5000, "%00", "%ff%fe", "..", "../../etc/passwd", "%2e%2e%2f", "a/b", "a%2Fb", "\u202egnp",
    "\u200b", "链接", "%E9%93%BE", "a?b", "a#b", "a;b", " ", "%20", "-1", "9223372036854775808", "null", "<script>",
    "'\"", "\\", "a" * 50 + "%", "%%", "%u0041",
]
ODD_VALUES = ["", "x" * BIG, "\u202e\u200b", "%00", "'\"<>&", "9" * 40, "1e308", "javascript:alert(1)",
              "https://evil.example/", "//evil.example/", "\r\nSet-Cookie: a=b", "é" * 100]
HEADERS = ["HTTP_USER_AGENT", "HTTP_REFERER", "HTTP_ACCEPT_LANGUAGE", "HTTP_X_FORWARDED_FOR", "HTTP_COOKIE", "HTTP_HOST"]


@pytest.fixture
def links(workspace, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the click spool goes here
    cache_clear()
    plain = link_create(workspace=workspace, target_url="https://example.com/landing")
    capped = link_create(workspace=workspace, target_url="https://example.com/capped", max_visits=5)
    code = channel_code_create(workspace=workspace, name="fuzz")
    code_target_add(code=code, url="https://example.com/join", capacity=10**6)
    yield [plain, capped, code.link]
    cache_clear()


def requests(links, rng):
    """(path, query string, extra environ headers) for CASES requests."""
    slugs = [link.slug for link in links]
    for n in range(CASES):
        kind = n % 4
        slug = rng.choice(slugs) if kind else rng.choice(ODD_SLUGS)
        if rng.random() < 0.2:
            slug = slug + rng.choice(ODD_SLUGS)
        path = rng.choice(["/s/", "/"]) + slug
        query = ""
        if kind in (1, 3):
            key = rng.choice(["m", "qr", "utm_source", "x", "m[]", "%00"])
            query = f"{key}={quote(rng.choice(ODD_VALUES), safe='')}"
            if rng.random() < 0.3:
                query = "&".join([query] * rng.randint(2, 50))[:BIG]
            if rng.random() < 0.1:
                query = "a" * BIG
        headers = {}
        if kind in (2, 3):
            name = rng.choice(HEADERS)
            value = rng.choice(ODD_VALUES)
            headers[name] = value.encode("utf-8", "surrogatepass").decode("latin-1")
        yield path, query, headers


def targets(links):
    return {"https://example.com/landing", "https://example.com/capped", "https://example.com/join"}


def check(findings, what, status, location, allowed):
    if status >= 500:
        findings.append(f"{status} {what}")
    elif status in (301, 302, 303, 307, 308) and location.split("?")[0] not in allowed:
        # Django's own redirects (a missing slash) stay on this site; a short link goes to its target.
        if not location.startswith("/"):
            findings.append(f"{status} to {location[:80]} {what}")


@pytest.fixture
def connections_kept():
    """As Django's test client does: the end of a request must not close the test's database connection."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def test_the_wsgi_application_answers_every_odd_request_without_a_5xx(links, connections_kept):
    from siyu.wsgi import application

    rng, findings, allowed = random.Random(14), [], targets(links)
    for path, query, headers in requests(links, rng):
        environ = {
            "REQUEST_METHOD": rng.choice(["GET", "GET", "HEAD"]), "PATH_INFO": path.encode("utf-8").decode("latin-1"),  # as a server passes it (PEP 3333)
            "QUERY_STRING": query,
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver", "REMOTE_ADDR": "203.0.113.9",
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
            **headers,
        }
        answer = {}

        def start_response(status, response_headers, exc_info=None, answer=answer):
            answer["status"] = int(status.split()[0])
            answer["location"] = {k.lower(): v for k, v in response_headers}.get("location", "")

        body = application(environ, start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        check(findings, f"WSGI {path[:60]!r}?{query[:40]!r} {list(headers)}", answer["status"], answer["location"], allowed)
    assert not findings, f"{len(findings)} of {CASES}:\n" + "\n".join(findings[:30])


@pytest.mark.django_db(transaction=True)
def test_the_asgi_application_answers_every_odd_request_without_a_5xx(workspace, settings, tmp_path):
    # transaction=True: the fast path runs a cold request in a thread, which must see the committed links.
    settings.VAR_DIR = tmp_path
    cache_clear()
    plain = link_create(workspace=workspace, target_url="https://example.com/landing")
    capped = link_create(workspace=workspace, target_url="https://example.com/capped", max_visits=5)
    code = channel_code_create(workspace=workspace, name="fuzz")
    code_target_add(code=code, url="https://example.com/join", capacity=10**6)
    links = [plain, capped, code.link]
    from siyu.asgi import application

    rng, findings, allowed = random.Random(15), [], targets(links)

    async def one(path, query, headers):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": rng.choice(["GET", "HEAD"]),
            "scheme": "http", "path": path, "raw_path": path.encode("utf-8", "surrogatepass"),
            "query_string": query.encode("latin-1", "replace"), "root_path": "", "client": ("203.0.113.9", 5000),
            "server": ("testserver", 80),
            "headers": [(b"host", b"testserver")] + [
                (name[5:].lower().replace("_", "-").encode(), value.encode("latin-1")) for name, value in headers.items()
                if name != "HTTP_HOST"
            ],
        }
        sent, asked = [], []

        async def receive():
            if not asked:
                asked.append(1)
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays connected; Django stops listening when it answers

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        location = dict(start.get("headers", [])).get(b"location", b"").decode("latin-1")
        return start["status"], location

    async def run_all():
        for path, query, headers in requests(links, rng):
            status, location = await one(path, query, headers)
            check(findings, f"ASGI {path[:60]!r}?{query[:40]!r} {list(headers)}", status, location, allowed)

    asyncio.run(run_all())
    cache_clear()
    assert not findings, f"{len(findings)} of {CASES}:\n" + "\n".join(findings[:30])
