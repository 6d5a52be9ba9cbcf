"""The standing console crawl (issue 14): every console URL pattern, as each role, with real ids of its own
workspace and of another, random and out-of-range ids; GET, then POST to every form the pages offer with the
values offered, out-of-range numbers and odd strings. Expected: no 5xx, nothing of the other workspace on any
page, nothing of it changed, and (once the translated refusal page exists) every 403 in the reader's language.
By default the bare posts go as owner and viewer and the forms are filled in as owner (about 30 s each);
`SIYU_SLOW_TESTS=1` posts as every role and tries more random, out-of-range and odd values.
"""
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import resolve

import siyu
from siyu.core.models import Event, Role
from siyu.groups.models import Group
from siyu.members.models import Member, Segment

from .crawl import MARK, ROLES, SLOW, build_url, console_patterns, form_bodies, fresh_random, page_forms, value_sets, world_build

# Pages whose POST would reach past the machine (the Matrix homeserver named in the form) are posted with
# the homeserver left empty, so the form refuses before any request goes out.
NO_NETWORK = {"homeserver": ""}
# Destructive posts last, so the rest of the crawl still finds the rows.
DESTRUCTIVE = ("delete", "erase", "disable", "disconnect", "undo", "reset", "merge", "archive")


def other_state(other):
    ws = other.workspace
    return {
        "events": Event.objects.filter(workspace=ws).count(),
        "members": list(Member.objects.filter(workspace=ws).order_by("pk").values_list("pk", "display_name", "owner_id")),
        "groups": list(Group.objects.filter(workspace=ws).order_by("pk").values_list("pk", "name")),
        "segments": list(Segment.objects.filter(workspace=ws).order_by("pk").values_list("pk", "name", "archived_at")),
    }


def clients(side):
    made = {}
    for role in ROLES:
        client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans", raise_request_exception=False)
        client.force_login(side.users[role])
        made[role] = client
    return made


# The console's translated refusal page (issue 15.12): once it exists, every 403 must be said in the reader's
# language (the crawl reads in zh-hans), not Django's bare English "403 Forbidden".
REFUSAL_PAGE = (Path(siyu.__file__).parent / "console" / "templates" / "403.html").exists()
CHINESE = re.compile("[\u4e00-\u9fff]")


class Findings:
    def __init__(self):
        self.errors, self.leaks, self.untranslated, self.requests = [], [], [], 0

    def check(self, what, response):
        self.requests += 1

        if response.status_code >= 500:
            self.errors.append(f"{response.status_code} {what}")
        body = b"" if response.streaming else response.content
        if MARK.encode() in body:
            self.leaks.append(f"{response.status_code} {what}")
        if REFUSAL_PAGE and response.status_code == 403 and not CHINESE.search(body.decode("utf-8", "replace")):
            self.untranslated.append(what)

    def assert_clean(self):
        assert not self.errors, f"{len(self.errors)} server errors in {self.requests} requests:\n" + "\n".join(self.errors[:40])
        assert not self.leaks, "pages showed the other workspace:\n" + "\n".join(self.leaks[:40])
        assert not self.untranslated, "refusals not translated:\n" + "\n".join(self.untranslated[:40])


@pytest.fixture
def world(db):
    return world_build()


def test_every_console_page_as_every_role_with_every_kind_of_id(world):
    own, other = world
    before = other_state(other)
    rng, findings, started = fresh_random(), Findings(), time.monotonic()
    patterns = console_patterns()
    assert len(patterns) >= 80, "the URLconf walk found suspiciously few console patterns"
    forms = []
    for role, client in clients(own).items():
        for pattern in patterns:
            for label, values in value_sets(pattern, own, other, rng):
                url = build_url(pattern, values)
                response = client.get(url)
                findings.check(f"GET {url} as {role} ({label}, {pattern.name})", response)
                if label == "own" and response.status_code == 200 and "html" in response.get("Content-Type", ""):
                    for form in page_forms(response.content.decode()):
                        forms.append((role, form["action"] or url, form))
                if label in ("random", "out-of-range"):
                    # An id that exists nowhere is not found (another workspace's id may be a number this one
                    # has too, 学号 are per workspace: what it must not show is the other's row, checked above).
                    assert response.status_code != 200, f"GET {url} as {role} ({label}): 200"
    findings.assert_clean()
    assert other_state(other) == before
    print(f"crawl GET: {findings.requests} requests, {len(forms)} forms, {time.monotonic() - started:.1f} s")


def test_every_form_and_every_url_posted_as_every_role_with_odd_and_out_of_range_values(world):
    own, other = world
    before = other_state(other)
    rng, findings, started = fresh_random(), Findings(), time.monotonic()
    patterns = console_patterns()
    role_clients = clients(own)
    # Bare posts to every pattern, with own, other and out-of-range ids: by default as the role that may do
    # most and the one that may do least.
    for role in ROLES if SLOW else [Role.OWNER, Role.VIEWER]:
        client = role_clients[role]
        for pattern in sorted(patterns, key=lambda p: any(w in p.name for w in DESTRUCTIVE)):
            if pattern.name == "logout":
                continue
            for label, values in value_sets(pattern, own, other, rng):
                url = build_url(pattern, values)
                findings.check(f"POST {url} as {role} ({label}, {pattern.name}) empty", client.post(url, {}))
    # Every form the pages offer, filled in: by default the owner's, who is offered every form.
    roles = ROLES if SLOW else [Role.OWNER]
    for role in roles:
        client = role_clients[role]
        targets = []
        for pattern in patterns:
            url = build_url(pattern, value_sets(pattern, own, other, rng)[0][1])
            response = client.get(url)
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                targets += [(form["action"] or url, form) for form in page_forms(response.content.decode())]
        seen = set()
        for action, form in sorted(targets, key=lambda t: any(w in t[0] for w in DESTRUCTIVE)):
            if action.startswith(("/i18n/", "/logout/")):
                continue
            key = (resolve(urlsplit(action).path).url_name, tuple(sorted(form["fields"])))  # a form per row: one of them
            if key in seen:
                continue
            seen.add(key)
            for body in form_bodies(form, rng):
                body.update({k: v for k, v in NO_NETWORK.items() if k in body})
                findings.check(f"POST {action} as {role} {sorted(body)[:6]}={list(body.values())[:1]!r:.40}", client.post(action, body))
    findings.assert_clean()
    assert other_state(other) == before
    print(f"crawl POST: {findings.requests} requests, {time.monotonic() - started:.1f} s")
