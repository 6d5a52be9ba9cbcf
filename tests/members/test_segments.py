"""Segments and tag rules: live lists kept by ingest equal a full recomputation, within the ingest transaction."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.core.events import EventType
from siyu.core.ingest import events_ingest
from siyu.core.models import Event
from siyu.members.segments import live_recount_due, segment_build, segment_create
from siyu.members.tag_rules import tag_rule_create
from siyu.members.models import Identity, MemberTag, SegmentMember, SegmentSize, TagChoice, TagVia
from siyu.members.filters import FilterError, filter_compile, filter_describe, filter_member_ids, filter_preview
from siyu.members.tags import tag_create, tag_delete, tag_group_create, tags_apply, tags_remove

pytestmark = pytest.mark.django_db
SEQ = iter(range(1, 10**9))


def raw(kind, actor, *, ago=timedelta(minutes=5), group="g1", **data):
    event = {
        "type": kind, "source_id": f"s{next(SEQ)}", "occurred_at": (timezone.now() - ago).isoformat(),
        "actor": {"id": f"@{actor}:example.org", "name": actor}, "data": data,
    }
    if kind.startswith("group."):
        event["group"] = {"id": f"!{group}:example.org", "name": group}
    if kind == "group.message":
        event["data"].setdefault("text", "hi")
    return event


def member_id(workspace, actor):
    return Identity.objects.get(workspace=workspace, external_id=f"@{actor}:example.org").member_id


def live(segment):
    return set(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True))


def test_a_segment_of_three_filters_follows_messages_orders_and_tags(workspace):
    vip = tag_create(workspace=workspace, name="VIP")
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.joined", a) for a in ("ann", "bob", "cy")])
    ann, bob = member_id(workspace, "ann"), member_id(workspace, "bob")
    tags_apply(workspace=workspace, pairs=[(ann, vip.pk), (bob, vip.pk)], via=TagVia.MANUAL)
    segment = segment_create(workspace=workspace, name="高意向", filter={"all": [
        {"tag": vip.pk},
        {"count": "messages", "days": 7, "op": "gte", "value": 3},
        {"count": "spend", "days": 90, "op": "gte", "value": 100},
    ]})
    assert live(segment) == set() and segment.built_at is not None

    events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", "ann") for _ in range(3)]
                  + [raw("order.paid", "ann", order_id="o1", amount_cents=9_900)])
    assert live(segment) == set()  # 99 yuan: not yet
    events_ingest(workspace=workspace, source="simulator", events=[raw("order.paid", "ann", order_id="o2", amount_cents=100)])
    assert live(segment) == {ann}
    segment.refresh_from_db()
    assert segment.size == 1
    entered = Event.objects.get(type=EventType.MEMBER_SEGMENT_ENTERED)
    assert (entered.member_id, entered.data) == (ann, {"segment": segment.pk})

    events_ingest(workspace=workspace, source="simulator", events=[raw("order.refunded", "ann", order_id="o2", amount_cents=100)])
    assert live(segment) == set()
    assert Event.objects.filter(type=EventType.MEMBER_SEGMENT_LEFT, member_id=ann).count() == 1
    # Old messages fall out of the 7-day window with time: the scheduled recount catches it.
    assert SegmentSize.objects.filter(segment=segment).count() == 1


def test_membership_changes_inside_the_ingest_transaction(workspace):
    segment = segment_create(workspace=workspace, name="talkers", filter={"count": "messages", "op": "gte", "value": 1})
    with pytest.raises(RuntimeError), transaction.atomic():
        events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", "ann")])
        ann = member_id(workspace, "ann")
        assert live(segment) == {ann}  # already on the list before the ingest transaction commits
        assert Event.objects.filter(type=EventType.MEMBER_SEGMENT_ENTERED, member_id=ann).exists()
        raise RuntimeError("roll back")
    assert live(segment) == set()  # and rolled back with it
    assert not Event.objects.filter(type=EventType.MEMBER_SEGMENT_ENTERED).exists()


def test_or_not_and_zero_counts_include_silent_members(workspace):
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.joined", a) for a in ("ann", "bob")]
                  + [raw("group.message", "ann")])
    ann, bob = member_id(workspace, "ann"), member_id(workspace, "bob")
    silent = filter_member_ids(workspace=workspace, filter={"count": "messages", "days": 7, "op": "lte", "value": 0})
    assert silent == {bob}  # bob has no activity row at all and still matches "≤ 0"
    assert filter_member_ids(workspace=workspace, filter={"not": {"count": "messages", "op": "eq", "value": 0}}) == {ann}
    assert filter_member_ids(workspace=workspace, filter={"any": [{"field": "display_name", "op": "eq", "value": "bob"},
                                                                   {"count": "messages", "op": "gte", "value": 1}]}) == {ann, bob}
    assert filter_member_ids(workspace=workspace, filter={"any": []}) == set()
    assert filter_member_ids(workspace=workspace, filter={}) == {ann, bob}


def test_a_tag_rule_tags_and_untags_live_and_a_segment_on_its_tag_follows(workspace):
    chatty = tag_create(workspace=workspace, name="活跃")
    rule = tag_rule_create(workspace=workspace, tag=chatty, name="3 messages in 7 days",
                           filter={"count": "messages", "days": 7, "op": "gte", "value": 3})
    segment = segment_create(workspace=workspace, name="活跃的人", filter={"tag": chatty.pk})
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", "ann") for _ in range(3)])
    ann = member_id(workspace, "ann")
    tag = MemberTag.objects.get(member_id=ann, tag=chatty)
    assert (tag.via, tag.rule_id) == (TagVia.RULE, rule.pk)
    assert live(segment) == {ann}  # the rule's tag event re-evaluated the segment in the same ingest

    # A hand-given tag is never taken by the rule.
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.joined", "bob")])
    bob = member_id(workspace, "bob")
    tags_apply(workspace=workspace, pairs=[(bob, chatty.pk)], via=TagVia.MANUAL)
    assert MemberTag.objects.filter(tag=chatty).count() == 2
    assert live(segment) == {ann, bob}


def test_single_choice_groups_swap_and_history_is_kept(workspace):
    spend = tag_group_create(workspace=workspace, name="消费能力", choice=TagChoice.SINGLE)
    high, low = tag_create(workspace=workspace, name="高", group=spend), tag_create(workspace=workspace, name="低", group=spend)
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.joined", "ann")])
    ann = member_id(workspace, "ann")
    tags_apply(workspace=workspace, pairs=[(ann, low.pk)], via=TagVia.MANUAL)
    tags_apply(workspace=workspace, pairs=[(ann, high.pk)], via=TagVia.MANUAL)
    assert set(MemberTag.objects.filter(member_id=ann).values_list("tag_id", flat=True)) == {high.pk}
    tags_remove(workspace=workspace, pairs=[(ann, high.pk)], via=TagVia.MANUAL)
    tags_apply(workspace=workspace, pairs=[(ann, high.pk)], via=TagVia.MANUAL)
    history = list(Event.objects.filter(member_id=ann, type__in=[EventType.MEMBER_TAGGED, EventType.MEMBER_UNTAGGED])
                   .order_by("id").values_list("type", "data__tag"))
    assert history == [
        (EventType.MEMBER_TAGGED, low.pk), (EventType.MEMBER_UNTAGGED, low.pk), (EventType.MEMBER_TAGGED, high.pk),
        (EventType.MEMBER_UNTAGGED, high.pk), (EventType.MEMBER_TAGGED, high.pk),
    ]


def test_a_deleted_tag_makes_its_segments_fail_visibly(workspace):
    vip = tag_create(workspace=workspace, name="VIP")
    segment = segment_create(workspace=workspace, name="vips", filter={"tag": vip.pk})
    with translation.override("en"):
        tag_delete(tag=vip)
        segment.refresh_from_db()
        assert segment.error == "filter: the tag “VIP” was deleted; edit the filter"
        with pytest.raises(ValidationError, match="was deleted"):
            segment_create(workspace=workspace, name="again", filter={"all": [{"tag": vip.pk}]})
        with pytest.raises(FilterError, match=r"all\.0: tag 99999 does not exist"):
            filter_compile(workspace=workspace, filter={"all": [{"tag": 99999}]})


def test_preview_and_words(workspace):
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", f"m{n}") for n in range(60)])
    count, first = filter_preview(workspace=workspace, filter={"count": "messages", "op": "gte", "value": 1})
    assert count == 60 and len(first) == 50 and [m.number for m in first] == sorted(m.number for m in first)
    with translation.override("en"):
        words = filter_describe(workspace=workspace, filter={"all": [{"count": "messages", "days": 7, "op": "gte", "value": 3},
                                                                     {"not": {"seen": "within", "days": 30}}]})
    assert words == "(messages in the last 7 days ≥ 3 and not seen in the last 30 days)"


def test_the_scheduled_recount_lets_old_messages_leave_a_window(workspace):
    segment = segment_create(workspace=workspace, name="week", filter={"count": "messages", "days": 7, "op": "gte", "value": 1})
    events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", "ann", ago=timedelta(days=6))])
    assert len(live(segment)) == 1
    assert live_recount_due(workspace=workspace, now=timezone.now() + timedelta(days=2)) == 1
    assert live(segment) == set()


# -- the property: incremental == full recomputation ---------------------------------------------------
ACTORS = ["a", "b", "c", "d"]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("message"), st.sampled_from(ACTORS), st.integers(0, 9)),
        st.tuples(st.just("paid"), st.sampled_from(ACTORS), st.integers(1, 30_000)),
        st.tuples(st.just("refund"), st.sampled_from(ACTORS), st.integers(1, 30_000)),
        st.tuples(st.just("tag"), st.sampled_from(ACTORS), st.integers(0, 1)),
        st.tuples(st.just("untag"), st.sampled_from(ACTORS), st.integers(0, 1)),
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=steps)
def test_live_lists_equal_a_full_recount_under_any_event_stream(make_workspace, stream):
    workspace = make_workspace()
    tags = [tag_create(workspace=workspace, name=f"t{n}") for n in range(2)]
    rule_tag = tag_create(workspace=workspace, name="rule")
    filters = [
        {"all": [{"tag": tags[0].pk}, {"count": "messages", "days": 7, "op": "gte", "value": 2},
                 {"count": "spend", "days": 90, "op": "gte", "value": 100}]},
        {"any": [{"tag": tags[1].pk}, {"not": {"count": "orders", "op": "gte", "value": 1}}]},
        {"all": [{"tag": rule_tag.pk}, {"not": {"tag": tags[0].pk}}]},
    ]
    tag_rule_create(workspace=workspace, tag=rule_tag, name="r", filter={"count": "messages", "op": "gte", "value": 3})
    segments = [segment_create(workspace=workspace, name=f"s{n}", filter=f) for n, f in enumerate(filters)]
    for kind, actor, value in stream:
        if kind in ("tag", "untag"):
            events_ingest(workspace=workspace, source="simulator", events=[raw("group.joined", actor)])
            pair = [(member_id(workspace, actor), tags[value].pk)]
            (tags_apply if kind == "tag" else tags_remove)(workspace=workspace, pairs=pair, via=TagVia.MANUAL)
        elif kind == "message":
            events_ingest(workspace=workspace, source="simulator", events=[raw("group.message", actor, ago=timedelta(days=value))])
        else:
            events_ingest(workspace=workspace, source="simulator", events=[
                raw("order.paid" if kind == "paid" else "order.refunded", actor, order_id=f"o{next(SEQ)}", amount_cents=value)
            ])
        for segment in segments:
            assert live(segment) == filter_member_ids(workspace=workspace, filter=segment.filter)
    # A full rebuild changes nothing either.
    for segment in segments:
        assert segment_build(segment=segment) == (0, 0)
