"""Refusals (issue 15.12, 14.9): a forbidden action gets a translated page that names the roles that may, and a
role is not shown buttons it cannot use."""
import pytest
from django.urls import reverse
from django.utils import timezone

from siyu.core.models import Role
from siyu.links import services as link_services
from siyu.members.models import Segment

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(client, ingest, workspace, make_staff):
    ingest([{"type": "group.message", "source_id": "m1", "occurred_at": timezone.now().isoformat(),
             "actor": {"id": "@ann:example.org", "name": "ann"}, "group": {"id": "!g:example.org", "name": "g"},
             "data": {"text": "hi"}}])
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    client.post(reverse("console:segment_new", args=[workspace.slug]),
                {"join": "all", "mode": "rows", "name": "talkers", "c-0-kind": "count", "c-0-what": "messages",
                 "c-0-op": "gte", "c-0-value": "1"})
    client.logout()
    link = link_services.link_create(workspace=workspace, target_url="https://shop.example.com/", slug="spring")
    return {"workspace": workspace, "segment": Segment.objects.get(workspace=workspace), "link": link}


def url(shop, name, *args):
    return reverse(f"console:{name}", args=[shop["workspace"].slug, *args])


@pytest.mark.parametrize("role, exports, refresh, new_link", [
    (Role.OPERATOR, True, True, True), (Role.SALES, False, True, False), (Role.VIEWER, False, False, False),
])
def test_each_role_is_shown_only_the_buttons_it_may_use(client, shop, make_staff, role, exports, refresh, new_link):
    client.force_login(make_staff(shop["workspace"], role=role))
    segment_page = client.get(url(shop, "segment", shop["segment"].pk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (url(shop, "members_export") in segment_page) is exports
    assert ("Update now" in client.get(url(shop, "dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()) is refresh
    assert (url(shop, "link_new") in client.get(url(shop, "links")).content.decode()) is new_link
    # What is shown works; what is hidden is refused.
    assert client.get(url(shop, "members_export") + f"?segment={shop['segment'].pk}").status_code == (200 if exports else 403)
    assert client.get(url(shop, "link_new")).status_code == (200 if new_link else 403)
    assert client.post(url(shop, "analytics_refresh")).status_code == (302 if refresh else 403)


@pytest.mark.parametrize("language, title, may, operator", [
    ("en", "Your role cannot do this", "Roles that may:", "Operator"), ("zh-hans", "你的角色不能进行此操作", "可以这样做的角色：", "运营"),
])
def test_a_viewer_is_told_before_filling_a_form_it_could_not_send(client, shop, make_staff, language, title, may, operator):
    client.force_login(make_staff(shop["workspace"], role=Role.VIEWER))
    response = client.get(url(shop, "link_new"), HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 403 and 'name="target_url"' not in html
    assert title in html and may in html and operator in html and "403 Forbidden" not in html
    assert ("Viewer" if language == "en" else "只读") in html  # the reader's own role


def test_every_refusal_of_a_viewer_names_the_roles_that_may(client, shop, make_staff):
    client.force_login(make_staff(shop["workspace"], role=Role.VIEWER))
    link, segment = shop["link"], shop["segment"]
    posts = [
        url(shop, "analytics_refresh"), url(shop, "link_disable", link.pk), url(shop, "code_new"),
        url(shop, "segment_recount", segment.pk), url(shop, "segment_new"), url(shop, "tags"),
        url(shop, "member_import_start"), url(shop, "handover"), url(shop, "leads"), url(shop, "bot_connect"),
        url(shop, "bot_rules"), url(shop, "member_merges"), url(shop, "member_owner", 1),
        url(shop, "member_contacts_reveal", 1), url(shop, "member_export", 1),
    ]
    for target in posts:
        response = client.post(target, HTTP_ACCEPT_LANGUAGE="zh-hans")
        html = response.content.decode()
        assert response.status_code == 403 and "可以这样做的角色：" in html and "所有者" in html, target


def test_sales_are_sent_to_their_own_leads_in_words(client, shop, make_staff):
    client.force_login(make_staff(shop["workspace"], role=Role.SALES))
    response = client.get(url(shop, "leads"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 403 and "My leads" in html and "Viewer" in html and "Sales" in html
