import pytest
from django.urls import reverse

from siyu.core.models import Role
from siyu.groups.models import Group
from siyu.members.models import Member
from tests.conftest import ev

PASSWORD = "pw-for-tests-123"


@pytest.fixture
def community(ingest, workspace):
    """Two groups and 120 members who joined one after another; member 1 also talks."""
    events = [ev("group.joined", f"j{i}", actor=f"p{i}", group="g1" if i % 2 else "g2", minutes=i) for i in range(1, 121)]
    events.append(ev("group.message", "m1", actor="p1", group="g1", minutes=200, text="大家好"))
    events.append(ev("order.paid", "o1", actor="p1", minutes=201, amount_cents=990, order_id="o1"))
    ingest(events)
    return workspace


def pages(workspace):
    group = Group.objects.filter(workspace=workspace).first()
    member = Member.objects.filter(workspace=workspace).first()
    slug = workspace.slug
    return [
        reverse("console:groups", args=[slug]),
        reverse("console:groups", args=[slug]) + "?kind=lead",
        reverse("console:group", args=[slug, group.pk]),
        reverse("console:group", args=[slug, group.pk]) + "?past=1",
        reverse("console:members", args=[slug]),
        reverse("console:members", args=[slug]) + f"?q={member.number}&group={group.pk}&kind=lead",
        reverse("console:member", args=[slug, member.number]),
    ]


def login(client, workspace, make_staff, role=Role.OPERATOR):
    user = make_staff(workspace, role=role)
    client.force_login(user)
    return user


def test_anonymous_visitors_are_sent_to_log_in(client, community):
    for url in pages(community):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("console:login"))


def test_staff_of_one_workspace_get_404_on_every_page_of_another(client, community, make_workspace, make_staff, ingest):
    other = make_workspace()
    ingest([ev("group.joined", 1, actor="x", group="gx")], ws=other)
    login(client, other, make_staff)
    for url in pages(community):
        assert client.get(url).status_code == 404, url
    # Ids of another workspace's rows are not found through one's own workspace either.
    foreign_group = Group.objects.get(workspace=community, external_id="!g1:example.org")
    assert client.get(reverse("console:group", args=[other.slug, foreign_group.pk])).status_code == 404
    assert client.get(reverse("console:member", args=[other.slug, 120])).status_code == 404


@pytest.mark.parametrize(
    "language, words",
    [("zh-hans", ["社群", "成员"]), ("en", ["Groups", "Members"])],
)
def test_every_page_renders_in_both_languages(client, community, make_staff, language, words):
    login(client, community, make_staff)
    for url in pages(community):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert f'<html lang="{language}">' in html
        assert any(word in html for word in words), (url, language)


def test_the_language_switch_sticks(client, community, make_staff):
    login(client, community, make_staff)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Members now" in client.get(reverse("console:groups", args=[community.slug])).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "Members now" not in client.get(reverse("console:groups", args=[community.slug])).content.decode()


def test_home_lands_where_the_role_is_highest_then_where_last_used(client, make_workspace, make_staff):
    from siyu.core.services import staff_role_set

    aaa, zzz = make_workspace(slug="aaa"), make_workspace(slug="zzz")
    user = make_staff(zzz, role=Role.OWNER)
    staff_role_set(workspace=aaa, user=user, role=Role.VIEWER)
    client.force_login(user)
    assert client.get("/").url == reverse("console:dashboard", args=["zzz"])
    client.get(reverse("console:groups", args=["aaa"]))
    assert client.get("/").url == reverse("console:dashboard", args=["aaa"])


def test_groups_list_shows_members_and_week_counters(client, community, make_staff):
    login(client, community, make_staff)
    response = client.get(reverse("console:groups", args=[community.slug]))
    rows = {g.external_id: g for g in response.context["groups"]}
    g1 = rows["!g1:example.org"]
    assert g1.members_now == 60
    # The fixture's events are dated 2026-03-02, long before "the last 7 days".
    assert (g1.joins_7d, g1.messages_7d) == (0, 0)


def test_members_list_pages_by_keyset_and_searches(client, community, make_staff, django_assert_max_num_queries):
    login(client, community, make_staff)
    url = reverse("console:members", args=[community.slug])
    first = client.get(url)
    assert [m.number for m in first.context["members"]] == list(range(120, 70, -1))
    assert first.context["next_before"] == 71
    # 12 for the list, 3 for the bulk bar (staff, lead lists, recent bulk actions), whatever the page
    with django_assert_max_num_queries(15):
        second = client.get(url, {"before": 71})
    assert [m.number for m in second.context["members"]] == list(range(70, 20, -1))
    last = client.get(url, {"before": 21})
    assert [m.number for m in last.context["members"]] == list(range(20, 0, -1)) and last.context["next_before"] is None
    assert [m.number for m in client.get(url, {"q": "#37"}).context["members"]] == [37]
    assert {m.display_name for m in client.get(url, {"q": "P11"}).context["members"]} >= {"P11", "P110"}
    g2 = Group.objects.get(workspace=community, external_id="!g2:example.org")
    in_g2 = client.get(url, {"group": g2.pk}).context["members"]
    assert len(in_g2) == 50 and all(m.number % 2 == 0 for m in in_g2)


def test_htmx_requests_get_fragments(client, community, make_staff):
    login(client, community, make_staff)
    url = reverse("console:members", args=[community.slug])
    more = client.get(url, {"before": 71}, HTTP_HX_REQUEST="true")
    assert "<html" not in more.content.decode() and "#70" in more.content.decode()
    results = client.get(url, {"q": "#5"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="member-results")
    assert "<html" not in results.content.decode() and "#5<" in results.content.decode()


def test_bad_filter_input_is_explained_not_crashed(client, community, make_staff):
    login(client, community, make_staff)
    url = reverse("console:members", args=[community.slug])
    english = client.get(url, {"before": "abc", "group": "999999"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Enter a whole number." in english and "Select a valid choice." in english
    chinese = client.get(url, {"before": "abc"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "输入整数" in chinese


def test_member_page_shows_identities_groups_and_timeline(client, community, make_staff):
    login(client, community, make_staff)
    member = Member.objects.get(workspace=community, number=1)
    html = client.get(reverse("console:member", args=[community.slug, 1]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "@p1:example.org" in html and "Group g1" in html and "大家好" in html and "9.90" in html
    assert member.display_name in html


def test_login_errors_are_shown_in_both_languages(client, community, make_staff):
    make_staff(community, username="ann")
    bad = {"username": "ann", "password": "wrong"}
    assert "correct username and password" in client.post(reverse("console:login"), bad, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "正确的用户名和密码" in client.post(reverse("console:login"), bad, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    ok = client.post(reverse("console:login"), {"username": "ann", "password": PASSWORD})
    assert ok.status_code == 302


def test_the_admin_is_for_owners_and_admins_and_scoped_to_their_workspace(client, community, make_workspace, make_staff, ingest):
    other = make_workspace()
    ingest([ev("group.joined", 1, actor="stranger", group="gx")], ws=other)
    login(client, community, make_staff, role=Role.VIEWER)
    assert client.get("/admin/").status_code == 302
    client.logout()
    login(client, community, make_staff, role=Role.ADMIN)
    assert client.get("/admin/").status_code == 200
    listed = client.get("/admin/members/member/").context["cl"].queryset
    assert set(listed.values_list("workspace_id", flat=True)) == {community.pk}
    stranger = Member.objects.get(workspace=other)
    assert client.get(f"/admin/members/member/{stranger.pk}/change/").status_code in (302, 404)


def test_search_forms_send_to_the_page_not_the_current_url(client, community, make_staff):
    """hx-get="" made htmx send to the current URL, query and all, so each search appended its query again."""
    login(client, community, make_staff)
    for name in ("console:members", "console:groups"):
        url = reverse(name, args=[community.slug])
        html = client.get(url, {"q": "P1"}).content.decode()
        assert f'hx-get="{url}"' in html and 'hx-get=""' not in html, name


def test_groups_sort_naturally(client, ingest, workspace, make_staff):
    """1群, 2群, 10群 — not 10群 before 1群 as text sorts."""
    events = [ev("group.joined", f"n{i}", actor=f"n{i}", group=f"gn{i}") for i in (10, 2, 1, 21)]
    for event, i in zip(events, (10, 2, 1, 21)):
        event["group"]["name"] = f"课程{i}群"
    ingest(events)
    login(client, workspace, make_staff)
    rows = client.get(reverse("console:groups", args=[workspace.slug])).context["groups"]
    assert [g.name for g in rows] == ["课程1群", "课程2群", "课程10群", "课程21群"]
    choices = client.get(reverse("console:members", args=[workspace.slug])).context["form"].fields["group"].choices
    assert [label for value, label in choices if value] == ["课程1群", "课程2群", "课程10群", "课程21群"]


def test_a_group_over_capacity_warns_and_its_members_are_paginated(client, ingest, workspace, make_staff):
    events = [ev("group.joined", f"c{i}", actor=f"c{i}", group="full", minutes=i) for i in range(105)]
    for event in events:
        event["group"]["capacity"] = 100
    ingest(events + [ev("group.joined", "roomy", actor="r1", group="roomy")])
    login(client, workspace, make_staff)
    group = Group.objects.get(workspace=workspace, external_id="!full:example.org")
    url = reverse("console:group", args=[workspace.slug, group.pk])
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "105 members are in this group, more than its capacity of 100" in english
    assert "超过" in client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    first = client.get(url).context["stays"]
    assert (len(first.object_list), first.paginator.num_pages) == (100, 2)
    assert "Page 1 of 2" in english and "page=2" in english
    assert len(client.get(url, {"page": 2}).context["stays"].object_list) == 5
    roomy = Group.objects.get(workspace=workspace, external_id="!roomy:example.org")
    assert "more than its capacity" not in client.get(
        reverse("console:group", args=[workspace.slug, roomy.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_members_list_has_a_total_and_sorts(client, community, make_staff):
    login(client, community, make_staff)
    url = reverse("console:members", args=[community.slug])
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english.context["total"] == 120 and "120 members match" in english.content.decode()
    assert "共 120 位成员" in client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    g2 = Group.objects.get(workspace=community, external_id="!g2:example.org")
    assert client.get(url, {"group": g2.pk}).context["total"] == 60
    assert client.get(url, {"q": "#37"}).context["total"] == 1
    # Member 1 is the only one who spoke and paid: first by messages and by spend.
    for sort in ("messages", "spend"):
        first = client.get(url, {"sort": sort})
        assert first.context["members"][0].number == 1 and first.context["next_before"] == 50
        assert f"sort={sort}&start=50" in first.content.decode()
        rest = client.get(url, {"sort": sort, "start": 50}).context["members"]
        assert len(rest) == 50 and 1 not in [m.number for m in rest]
    oldest = client.get(url, {"sort": "old"}).context["members"]
    assert [m.number for m in oldest][:3] == [1, 2, 3]
    assert client.get(url, {"sort": "old", "start": 100}).context["next_before"] is None
    more = client.get(url, {"sort": "old", "start": 50}, HTTP_HX_REQUEST="true")
    assert "<html" not in more.content.decode() and "#51<" in more.content.decode()
