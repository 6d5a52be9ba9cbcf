"""Tags, tag rules and segments in the console: the builder's rows become the filter, the live count,
a segment's page, tags on the member page, who may change what."""
import json

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from siyu.core.models import Role
from siyu.members.models import Member, MemberTag, Segment, SegmentMember, Tag, TagRule, TagVia
from siyu.members.tags import tag_create, tags_apply

pytestmark = pytest.mark.django_db


def message(n, actor):
    return {"type": "group.message", "source_id": f"m{n}", "occurred_at": timezone.now().isoformat(),
            "actor": {"id": f"@{actor}:example.org", "name": actor}, "group": {"id": "!g:example.org", "name": "g"},
            "data": {"text": "hi"}}


@pytest.fixture
def people(ingest, workspace):
    ingest([message(n, actor) for n, actor in enumerate(["ann", "ann", "ann", "bob"])])
    vip = tag_create(workspace=workspace, name="VIP", color="#b42318")
    ann = Member.objects.get(workspace=workspace, display_name="ann")
    tags_apply(workspace=workspace, pairs=[(ann.pk, vip.pk)], via=TagVia.MANUAL)
    return {"workspace": workspace, "vip": vip, "ann": ann, "bob": Member.objects.get(workspace=workspace, display_name="bob")}


def rows(*conditions, join="all", **extra):
    data = {"join": join, "mode": "rows", **extra}
    for n, condition in enumerate(conditions):
        data.update({f"c-{n}-{key}": value for key, value in condition.items()})
    return data


def test_the_builder_saves_rows_as_a_filter_and_the_segment_page_shows_the_list(client, make_staff, people):
    ws = people["workspace"]
    client.force_login(make_staff(ws, role=Role.OPERATOR))
    data = rows({"kind": "tag", "tag": people["vip"].pk}, {"kind": "count", "what": "messages", "days": "7", "op": "gte", "value": "3"},
                name="高意向", description="VIP who talk")
    response = client.post(reverse("console:segment_new", args=[ws.slug]), data)
    segment = Segment.objects.get(workspace=ws)
    assert response.status_code == 302 and response["Location"].endswith(f"/segments/{segment.pk}/")
    assert segment.filter == {"all": [{"tag": people["vip"].pk}, {"count": "messages", "op": "gte", "value": 3, "days": 7}]}
    assert set(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True)) == {people["ann"].pk}
    member_page = client.get(reverse("console:member", args=[ws.slug, people["ann"].number])).content.decode()
    assert f'/segments/{segment.pk}/">高意向</a>' in member_page
    page = client.get(reverse("console:segment", args=[ws.slug, segment.pk])).content.decode()
    assert 'data-testid="segment-size">1<' in page and "ann" in page and "bob" not in page.split("<h2>")[-1]
    # Editing shows the rows again.
    edit = client.get(reverse("console:segment_edit", args=[ws.slug, segment.pk])).content.decode()
    assert 'name="c-1-value" value="3"' in edit and 'data-testid="preview-count">1<' in edit


def test_the_live_preview_counts_and_explains_errors(client, make_staff, people):
    ws = people["workspace"]
    client.force_login(make_staff(ws))
    url = reverse("console:segment_preview", args=[ws.slug])
    count = client.post(url, rows({"kind": "count", "what": "messages", "op": "gte", "value": "1"}), HTTP_HX_REQUEST="true")
    assert 'data-testid="preview-count">2<' in count.content.decode()
    negated = client.post(url, rows({"kind": "tag", "tag": people["vip"].pk, "neg": "on"}))
    assert 'data-testid="preview-count">1<' in negated.content.decode()
    with translation.override("en"):
        bad = client.post(url, {"mode": "json", "json": json.dumps({"all": [{"tag": 424242}]})}, HTTP_ACCEPT_LANGUAGE="en")
        assert "tag 424242 does not exist" in bad.content.decode()
        broken = client.post(url, {"mode": "json", "json": "{nope"}, HTTP_ACCEPT_LANGUAGE="en")
        assert "The JSON is not valid" in broken.content.decode()
        missing = client.post(url, rows({"kind": "count", "what": "messages", "op": "gte", "value": ""}), HTTP_ACCEPT_LANGUAGE="en")
        assert "Condition 1: Give the count a number." in missing.content.decode()


def test_a_tag_rule_from_the_builder_tags_at_once(client, make_staff, people):
    ws = people["workspace"]
    chatty = tag_create(workspace=ws, name="话痨")
    client.force_login(make_staff(ws))
    response = client.post(reverse("console:segment_new", args=[ws.slug]) + "?rule=1",
                           rows({"kind": "count", "what": "messages", "op": "gte", "value": "2"}, name="2+ messages", rule_tag=chatty.pk))
    assert response.status_code == 302
    rule = TagRule.objects.get()
    assert list(MemberTag.objects.filter(tag=chatty).values_list("member_id", "rule_id")) == [(people["ann"].pk, rule.pk)]
    page = client.get(reverse("console:tags", args=[ws.slug])).content.decode()
    assert "2+ messages" in page and "话痨" in page


def test_tags_page_creates_and_deletes_and_the_member_page_gives_and_takes(client, make_staff, people):
    ws, ann = people["workspace"], people["ann"]
    client.force_login(make_staff(ws))
    client.post(reverse("console:tags", args=[ws.slug]), {"action": "group", "name": "风格偏好", "choice": "multi"})
    group_id = ws.tag_groups.get().pk
    client.post(reverse("console:tags", args=[ws.slug]), {"action": "tag", "name": "简约", "group": group_id, "color": "#123456"})
    simple = Tag.objects.get(name="简约")
    assert simple.group_id == group_id
    url = reverse("console:member_tags", args=[ws.slug, ann.number])
    fragment = client.post(url, {"tag": simple.pk, "action": "add"}, HTTP_HX_REQUEST="true").content.decode()
    assert "简约" in fragment and MemberTag.objects.filter(member=ann, tag=simple).exists()
    client.post(url, {"tag": simple.pk, "action": "remove"})
    assert not MemberTag.objects.filter(member=ann, tag=simple).exists()
    detail = client.get(reverse("console:member", args=[ws.slug, ann.number])).content.decode()
    assert 'id="tags"' in detail and "VIP" in detail
    client.post(reverse("console:tags", args=[ws.slug]), {"action": "delete", "tag": people["vip"].pk})
    assert Tag.objects.get(pk=people["vip"].pk).deleted_at is not None
    assert not MemberTag.objects.filter(tag=people["vip"]).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_viewers_and_sales_look_but_do_not_change(client, make_staff, people, role):
    ws = people["workspace"]
    client.force_login(make_staff(ws, role=role))
    assert client.get(reverse("console:segments", args=[ws.slug])).status_code == 200
    assert client.get(reverse("console:tags", args=[ws.slug])).status_code == 200
    assert client.get(reverse("console:segment_new", args=[ws.slug])).status_code == 403
    assert client.post(reverse("console:member_tags", args=[ws.slug, people["bob"].number]),
                       {"tag": people["vip"].pk}).status_code == 403
    assert client.post(reverse("console:tags", args=[ws.slug]), {"action": "group", "name": "x"}).status_code == 403


def test_the_members_list_filters_by_tag_and_by_saved_segment(client, make_staff, people):
    from siyu.members.segments import segment_create

    ws = people["workspace"]
    talkers = segment_create(workspace=ws, name="talkers", filter={"count": "messages", "op": "gte", "value": 2})
    client.force_login(make_staff(ws, role=Role.VIEWER))
    url = reverse("console:members", args=[ws.slug])
    by_tag = client.get(url, {"tag": people["vip"].pk}).content.decode()
    assert f"/members/{people['ann'].number}/" in by_tag and f"/members/{people['bob'].number}/" not in by_tag
    everyone = client.get(url, {"saved": ""}).content.decode()
    assert f"/members/{people['bob'].number}/" in everyone
    by_segment = client.get(url, {"saved": talkers.pk}).content.decode()
    assert f"/members/{people['ann'].number}/" in by_segment and f"/members/{people['bob'].number}/" not in by_segment


def test_a_tags_member_count_opens_the_members_with_that_tag(client, make_staff, people):
    ws = people["workspace"]
    client.force_login(make_staff(ws, role=Role.VIEWER))
    page = client.get(reverse("console:tags", args=[ws.slug])).content.decode()
    link = reverse("console:members", args=[ws.slug]) + f"?tag={people['vip'].pk}"
    assert f'href="{link}"' in page
    listed = client.get(link).content.decode()
    assert f"/members/{people['ann'].number}/" in listed and f"/members/{people['bob'].number}/" not in listed
