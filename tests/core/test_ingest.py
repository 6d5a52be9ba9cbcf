from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation

from siyu.core.events import EventType
from siyu.core.ingest import IngestRejected, events_ingest
from siyu.core.models import Event
from siyu.groups.models import Group, GroupDailyStats, Membership
from siyu.members.models import Identity, Member, MemberStats
from tests.conftest import T0, ev


def table_counts():
    return {m.__name__: m.objects.count() for m in (Event, Member, Identity, Group, Membership, MemberStats, GroupDailyStats)}


def test_the_same_batch_twice_is_stored_once(ingest):
    batch = [ev("group.joined", 1, actor="ann", group="g1"), ev("group.message", 2, actor="ann", group="g1", minutes=1, text="hi")]
    first = ingest(batch)
    after_first = table_counts()
    second = ingest(batch)
    assert (first.stored, first.duplicates) == (2, 0)
    assert (second.stored, second.duplicates) == (0, 2)
    assert table_counts() == after_first
    assert MemberStats.objects.get().messages == 1


def test_repeats_inside_one_batch_are_stored_once(ingest):
    result = ingest([ev("group.joined", 1, actor="ann", group="g1"), ev("group.joined", 1, actor="ann", group="g1")])
    assert (result.stored, result.duplicates) == (1, 1)


def test_a_batch_with_bad_events_is_rejected_whole_with_every_position(ingest):
    batch = [
        ev("group.joined", 1, actor="ann", group="g1"),
        ev("group.teleported", 2, actor="bob", group="g1"),
        {**ev("group.message", 3, actor="cat", group="g1", text="hi"), "occurred_at": "yesterday"},
        ev("group.joined", 4, actor="dan", group="g1"),
        {**ev("group.message", 5, actor="eve", group="g1", text="hi"), "source_id": "x" * 192},
        ev("group.message", 6, actor="fay", group="g1", text="t" * 4001),
    ]
    with translation.override("en"), pytest.raises(IngestRejected) as caught:
        ingest(batch)
    errors = {(e.index, e.field) for e in caught.value.errors}
    assert errors == {(1, "type"), (2, "occurred_at"), (4, "source_id"), (5, "data.text")}
    assert "nothing was stored" in str(caught.value)
    with translation.override("zh-hans"), pytest.raises(IngestRejected) as caught:
        ingest(batch)
    assert "未保存任何内容" in str(caught.value)
    assert all(count == 0 for count in table_counts().values())


@pytest.mark.parametrize(
    "change, field",
    [
        ({"occurred_at": "2026-03-02T12:00:00"}, "occurred_at"),  # no UTC offset
        ({"occurred_at": (timezone.now() + timedelta(days=1)).isoformat()}, "occurred_at"),
        ({"actor": {"id": "@a:" + "x" * 200}}, "actor.id"),
        ({"actor": {"id": "@a:x", "name": "n" * 129}}, "actor.name"),
        ({"actor": None}, "actor"),
        ({"group": None}, "group"),
        ({"source_id": ""}, "source_id"),
        ({"source_id": "a\nb"}, "source_id"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"data": {"text": "x" * 20_000}}, "data"),
        ({"type": None}, "type"),
    ],
)
def test_each_kind_of_bad_event_names_its_field(ingest, change, field):
    event = {**ev("group.message", 1, actor="ann", group="g1", text="hello"), **change}
    with pytest.raises(IngestRejected) as caught:
        ingest([event])
    assert field in {e.field for e in caught.value.errors}
    assert Event.objects.count() == 0


def test_orders_need_whole_cents_and_an_order_id(ingest):
    bad = [
        ev("order.paid", 1, actor="ann", amount_cents=9.9, order_id="o1"),
        ev("order.paid", 2, actor="ann", amount_cents=-1, order_id="o2"),
        ev("order.paid", 3, actor="ann", amount_cents=990),
    ]
    with pytest.raises(IngestRejected) as caught:
        ingest(bad)
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, "data.amount_cents"), (1, "data.amount_cents"), (2, "data.order_id")]


HOSTILE = [
    # Each raised instead of rejecting when a live instance was fuzzed (issue 14.3 and 14.6).
    ({"actor": {"id": "@a\ud800:x"}}, "actor.id", "lone surrogate"),
    ({"actor": {"id": "@a:x", "name": "A\udfff"}}, "actor.name", "lone surrogate"),
    ({"actor": {"id": "@a:x", "name": "A\x00"}}, "actor.name", "NUL"),
    ({"group": {"id": "!g\ud83d"}}, "group.id", "lone surrogate"),
    ({"group": {"id": "!g1", "name": "群\x00"}}, "group.name", "NUL"),
    ({"source_id": "e\ud800"}, "source_id", "lone surrogate"),
    ({"data": {"text": "hi\ud800"}}, "data", "lone surrogate"),
    ({"data": {"text": "hi\x00"}}, "data", "NUL"),
    ({"data": {"text": "hi", "x": [{"\x00": 1}]}}, "data", "NUL"),
    ({"data": {"text": "hi", "role": [1]}}, "data.role", "must be a string"),
    ({"data": {"text": "hi", "role": {}}}, "data.role", "must be a string"),
    ({"occurred_at": "0001-01-01T00:00:00+00:00"}, "occurred_at", "before 2000-01-01"),
    ({"occurred_at": "0001-01-01T00:00:00+23:59"}, "occurred_at", "before 2000-01-01"),
    ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at", "before 2000-01-01"),
    ({"occurred_at": "9999-12-31T23:59:59-23:59"}, "occurred_at", "in the future"),
    ({"occurred_at": datetime(1, 1, 1, tzinfo=timezone.get_fixed_timezone(23 * 60))}, "occurred_at", "before 2000-01-01"),
]


@pytest.mark.parametrize("change, field, reason", HOSTILE)
def test_hostile_values_are_rejected_with_position_and_reason(ingest, change, field, reason):
    batch = [ev("group.joined", 1, actor="ann", group="g1"), {**ev("group.message", 2, actor="ann", group="g1", text="hi"), **change}]
    with translation.override("en"), pytest.raises(IngestRejected) as caught:
        ingest(batch)
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, field)]
    assert reason in caught.value.errors[0].reason
    with translation.override("zh-hans"), pytest.raises(IngestRejected) as caught:
        ingest(batch)
    assert caught.value.errors[0].reason.isascii() is False  # translated
    assert all(count == 0 for count in table_counts().values())


def test_the_window_keeps_its_edges(ingest):
    ingest([{**ev("group.joined", 1, actor="ann", group="g1"), "occurred_at": "2000-01-01T08:00:00+08:00"}])
    assert Event.objects.get().occurred_at == datetime(2000, 1, 1, tzinfo=timezone.get_fixed_timezone(0))


def test_amounts_are_capped_so_sums_stay_within_64_bits(ingest):
    from siyu.core.ingest import MAX_AMOUNT_CENTS

    with translation.override("en"), pytest.raises(IngestRejected) as caught:
        ingest([ev("order.paid", 1, actor="ann", amount_cents=2**63, order_id="o1"),
                ev("cost.recorded", 2, amount_cents=MAX_AMOUNT_CENTS + 1)])
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, "data.amount_cents"), (1, "data.amount_cents")]
    assert "the most one event may carry" in caught.value.errors[0].reason
    # Two orders of 2**62 for one member overflowed SQLite's sum; at the cap they add up.
    ingest([ev("order.paid", 3, actor="ann", amount_cents=MAX_AMOUNT_CENTS, order_id="o3"),
            ev("order.paid", 4, actor="ann", amount_cents=MAX_AMOUNT_CENTS, order_id="o4")])
    assert MemberStats.objects.get().spend_cents == 2 * MAX_AMOUNT_CENTS


def test_an_unknown_group_kind_rolls_back_members_created_in_the_same_batch(ingest):
    bad_group = {**ev("group.joined", 2, actor="bob", group="g2"), "group": {"id": "!g2", "kind": "party"}}
    with pytest.raises(IngestRejected) as caught:
        ingest([ev("group.joined", 1, actor="ann", group="g1"), bad_group])
    assert [(e.index, e.field) for e in caught.value.errors] == [(1, "group.kind")]
    assert all(count == 0 for count in table_counts().values())


def test_resolver_errors_name_the_position_in_the_submitted_batch(ingest):
    late = {**ev("group.joined", 1, actor="ann", group="g1", minutes=60), "group": {"id": "!late", "kind": "party"}}
    with pytest.raises(IngestRejected) as caught:
        ingest([late, ev("group.joined", 2, actor="bob", group="g2", minutes=0)])
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, "group.kind")]


def test_group_updates_rename_and_reclassify_the_group(ingest):
    ingest([ev("group.joined", 1, actor="ann", group="g1")])
    ingest([{**ev("group.updated", 2, group="g1", minutes=5, name="9.9元体验课 1群（已结营）", kind="perks", capacity=300)}])
    group = Group.objects.get()
    assert (group.name, group.kind, group.capacity) == ("9.9元体验课 1群（已结营）", "perks", 300)


def test_mappings_and_strings_of_subclassed_types_are_accepted(ingest):
    from collections import OrderedDict

    from django.utils.safestring import SafeString

    event = OrderedDict(ev("group.message", 1, group="g1", text="hi"))
    event["actor"] = OrderedDict(id=SafeString("@ann:example.org"), name=SafeString("Ann"))
    event["data"] = OrderedDict(text=SafeString("hi"))
    assert ingest([event]).stored == 1


def test_profile_updates_set_fields_and_bad_values_are_refused(ingest):
    ingest([ev("member.profile_updated", 1, actor="ann", display_name="安安", gender="f", city="杭州")])
    assert list(Member.objects.values_list("display_name", "gender", "city")) == [("安安", "f", "杭州")]
    bad = [
        ev("member.profile_updated", 2, actor="ann", gender="x"),
        ev("member.profile_updated", 3, actor="ann", city="c" * 65),
        ev("member.profile_updated", 4, actor="ann", display_name=""),
    ]
    with pytest.raises(IngestRejected) as caught:
        ingest(bad)
    assert [(e.index, e.field) for e in caught.value.errors] == [(0, "data.gender"), (1, "data.city"), (2, "data.display_name")]
    assert Member.objects.get().city == "杭州"


def test_unknown_source_names_are_refused(workspace):
    with pytest.raises(IngestRejected) as caught:
        events_ingest(workspace=workspace, source="Bad Channel!", events=[])
    assert caught.value.errors[0].field == "source"


def test_events_are_resolved_to_members_and_groups_on_first_sight(ingest, workspace):
    ingest([ev("group.joined", 1, actor="ann", group="g1", role="admin"), ev("group.message", 2, actor="ann", group="g1", minutes=5, text="hi")])
    member = Member.objects.get()
    identity = member.identities.get()
    assert (identity.channel, identity.external_id, member.display_name, member.number) == ("simulator", "@ann:example.org", "Ann", 1)
    stay = Membership.objects.get()
    assert (stay.role, stay.left_at) == ("admin", None)
    events = list(Event.objects.order_by("occurred_at"))
    assert [e.type for e in events] == [EventType.GROUP_JOINED, EventType.GROUP_MESSAGE]
    assert {e.member_id for e in events} == {member.pk}
    assert events[0].recorded_at >= events[0].occurred_at


def test_leaving_and_rejoining_keeps_each_stay(ingest):
    ingest([
        ev("group.joined", 1, actor="ann", group="g1"),
        ev("group.left", 2, actor="ann", group="g1", minutes=60),
        ev("group.joined", 3, actor="ann", group="g1", minutes=120),
    ])
    stays = list(Membership.objects.order_by("joined_at").values_list("left_at", flat=True))
    assert stays[0] is not None and stays[1] is None


def test_daily_counters_use_the_workspace_time_zone(ingest, workspace):
    # 2026-03-02 17:30 UTC is 01:30 on 3 March in Shanghai.
    ingest([ev("group.message", 1, actor="ann", group="g1", minutes=330, text="late")])
    assert list(GroupDailyStats.objects.values_list("day", "messages")) == [(datetime(2026, 3, 3).date(), 1)]


def test_member_stats_track_first_last_seen_and_spend(ingest):
    ingest([
        ev("group.message", 1, actor="ann", group="g1", minutes=10, text="a"),
        ev("order.paid", 2, actor="ann", minutes=20, amount_cents=19900, order_id="o1"),
        ev("order.refunded", 3, actor="ann", minutes=30, amount_cents=19900, order_id="o1"),
    ])
    ingest([ev("group.message", 4, actor="ann", group="g1", minutes=0, text="earlier, delivered late")])
    stats = MemberStats.objects.get()
    assert stats.messages == 2 and stats.orders == 1 and stats.spend_cents == 0
    assert stats.first_seen_at == T0
    assert stats.last_seen_at == T0 + timedelta(minutes=30)
    assert stats.last_message_at == T0 + timedelta(minutes=10)


def test_workspaces_do_not_share_members(ingest, make_workspace):
    other = make_workspace()
    ingest([ev("group.joined", 1, actor="ann", group="g1")])
    ingest([ev("group.joined", 1, actor="ann", group="g1")], ws=other)
    assert Member.objects.count() == 2 and Event.objects.count() == 2
    assert set(Member.objects.values_list("number", flat=True)) == {1}
