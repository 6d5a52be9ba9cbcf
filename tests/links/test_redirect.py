"""visit(): statuses, pages, the spool line, the cache, rate limiting, and the /s/<slug> view."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from siyu.links import redirect
from siyu.links.services import link_disable, link_domain_add
from tests.links.conftest import open_visit

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=dt_timezone.utc)


def spooled():
    lines = []
    for path in sorted((settings.VAR_DIR / "spool" / "clicks").glob("*.jsonl")):
        lines += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return lines


def test_a_live_link_redirects_to_its_target_with_utm_and_spools_the_click(make_link):
    link = make_link(target_url="https://example.com/p", utm={"utm_source": "poster"})
    result = open_visit(link, query={"qr": "1", "m": "ref"}, referer="https://weixin.qq.com/a?b=c", remote_addr="198.51.100.9")
    assert (result.status, result.location, result.page) == (302, "https://example.com/p?utm_source=poster", None)
    (click,) = spooled()
    assert {k: click[k] for k in ("ws", "link", "code", "target", "group", "qr", "m", "ref", "ip")} == {
        "ws": link.workspace_id, "link": link.pk, "code": None, "target": None, "group": None, "qr": True, "m": "ref",
        "ref": "https://weixin.qq.com/a?b=c", "ip": "198.51.100.9",
    }
    assert len(click["id"]) == 32 and click["t"].endswith("+00:00")


def test_statuses_of_unknown_expired_exhausted_disabled_and_not_yet_valid_links(make_link):
    assert open_visit("nope123", now=NOW).status == 404
    expired = make_link(valid_until=NOW - timedelta(seconds=1))
    assert open_visit(expired, now=NOW).status == 410
    assert open_visit(expired, now=NOW - timedelta(seconds=2)).status == 302
    early = make_link(valid_from=NOW + timedelta(hours=1))
    assert open_visit(early, now=NOW).status == 404
    capped = make_link(max_visits=2)
    assert [open_visit(capped).status for _ in range(3)] == [302, 302, 410]
    off = make_link()
    link_disable(link=off)
    assert open_visit(off).status == 410
    assert len(spooled()) == 3  # only the redirects are clicks


def test_refused_visits_get_a_branded_page_in_the_visitors_language(make_link):
    expired = make_link(valid_until=NOW - timedelta(days=1))
    zh = open_visit(expired, now=NOW)
    en = open_visit(expired, now=NOW, language="en")
    assert zh.location is None and '<html lang="zh-hans">' in zh.page and "Siyu" in en.page
    assert '<html lang="en">' in en.page and "This link has expired." in en.page


def test_a_fallback_url_replaces_the_page(workspace, make_link):
    expired = make_link(valid_until=NOW - timedelta(days=1), fallback_url="https://example.com/over")
    assert (open_visit(expired, now=NOW).status, open_visit(expired, now=NOW).location) == (302, "https://example.com/over")
    link_domain_add(workspace=workspace, host="go.example.cn", fallback_url="https://example.com/home")
    redirect.cache_clear()  # a new domain shows within CACHE_TTL
    unknown = open_visit("nothing", host="go.example.cn")
    assert (unknown.status, unknown.location) == (302, "https://example.com/home")


def test_a_domain_serves_its_own_links_and_the_console_host_serves_s_links(workspace, make_link):
    domain = link_domain_add(workspace=workspace, host="go.example.cn")
    on_domain = make_link(slug="camp", domain=domain, target_url="https://example.com/domain")
    make_link(slug="camp", target_url="https://example.com/console")
    assert open_visit(on_domain, host="GO.example.cn:443").location == "https://example.com/domain"
    assert open_visit(on_domain, host="testserver").location == "https://example.com/console"
    assert open_visit("camp", host="other.example.org").location == "https://example.com/console"


def test_a_warm_plain_link_costs_no_query_and_edits_show_after_the_ttl(make_link, monkeypatch):
    link = make_link(target_url="https://example.com/old")
    open_visit(link)
    with CaptureQueriesContext(connection) as queries:
        assert open_visit(link).location == "https://example.com/old"
    assert len(queries) == 0
    link.target_url = "https://example.com/new"
    link.save()
    clock = [redirect.time.monotonic() + redirect.CACHE_TTL + 0.1]
    monkeypatch.setattr(redirect.time, "monotonic", lambda: clock[0])
    assert open_visit(link).location == "https://example.com/new"


def test_a_capped_link_counts_visits_with_one_conditional_update(make_link):
    link = make_link(max_visits=5)
    open_visit(link)
    with CaptureQueriesContext(connection) as queries:
        open_visit(link)
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    link.refresh_from_db()
    assert link.visits == 2


def test_a_slug_guesser_gets_429_without_slowing_others(make_link):
    live = make_link()
    open_visit(live, remote_addr="192.0.2.66")  # cached before the guessing starts
    statuses = [open_visit(f"guess{n:03d}", remote_addr="192.0.2.66").status for n in range(redirect.GUESS_LIMIT + 5)]
    assert statuses == [404] * redirect.GUESS_LIMIT + [429] * 5
    assert open_visit("guess999", remote_addr="192.0.2.77").status == 404  # another client
    assert open_visit(live, remote_addr="192.0.2.66").status == 302  # known links still work for the guesser
    with CaptureQueriesContext(connection) as queries:
        assert open_visit("guess998", remote_addr="192.0.2.66").status == 429
    assert len(queries) == 0


@pytest.mark.django_db
def test_the_view_answers_s_slug(client, make_link):
    link = make_link(target_url="https://example.com/v")
    response = client.get(f"/s/{link.slug}?qr=1", HTTP_USER_AGENT="Mozilla/5.0", HTTP_ACCEPT_LANGUAGE="en-US,en")
    assert (response.status_code, response["Location"], response["Cache-Control"]) == (302, "https://example.com/v", "no-store")
    assert spooled()[0]["qr"] is True
    missing = client.get("/s/unknown1", HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 404 and b"Link not found" in missing.content
    assert missing["Content-Type"] == "text/html; charset=utf-8"
