"""One link-status rule (issue 13.3): the redirect, the console's list and `siyu link list` check in the same
order (disabled, scheduled, expired, exhausted), so a link that is both not yet valid and used up says the same
everywhere."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from siyu.core.models import Role
from siyu.links.models import Link
from siyu.links.status import STATUSES, link_status, link_status_filter
from tests.links.conftest import open_visit


@pytest.mark.parametrize("changes, expected", [
    ({"valid_from": 1, "visits": 1}, "scheduled"),  # not yet valid and used up: the visit is told "not yet"
    ({"valid_until": -1, "visits": 1}, "expired"),
    ({"disabled": True, "valid_from": 1}, "disabled"),
    ({"visits": 1}, "exhausted"),
    ({}, "live"),
])
def test_the_redirect_the_console_and_the_cli_agree(client, make_link, make_staff, workspace, changes, expected, capsys):
    link = make_link(max_visits=1)
    now = timezone.now()
    fields = {k: (now + timedelta(days=v) if k.startswith("valid") else v) for k, v in changes.items()}
    Link.objects.filter(pk=link.pk).update(**fields)
    link.refresh_from_db()
    assert link_status(link=link, now=now) == expected
    assert [s for s in STATUSES if Link.objects.filter(link_status_filter(status=s, now=now), pk=link.pk).exists()] == [expected]
    client.force_login(make_staff(workspace, role=Role.VIEWER))
    listed = client.get(reverse("console:links", args=[workspace.slug]) + f"?status={expected}")
    assert [row.pk for row in listed.context["links"]] == [link.pk] and listed.context["links"][0].status == expected
    call_command("link", "list", "--workspace", workspace.slug)
    assert {"scheduled": "not yet valid"}.get(expected, expected) in capsys.readouterr().out
    pages = {"live": 302, "scheduled": 404, "expired": 410, "exhausted": 410, "disabled": 410}
    assert open_visit(link).status == pages[expected]  # last: a live visit counts
