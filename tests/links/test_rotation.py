"""Channel codes: next-when-full on live member counts, round robin, weighted, daily caps, backup."""
from datetime import date

import pytest

from siyu.channels import registry
from siyu.channels.base import ChannelAdapter
from siyu.channels.services import outbox_drain
from siyu.core.events import EventType
from siyu.core.models import Event, OutboxMessage
from siyu.groups.models import Group
from siyu.links.models import Strategy, TargetDay
from siyu.links.rotation import code_groups_created, code_target_choose, code_targets_load
from siyu.links.services import channel_code_create, code_target_add
from siyu.links.spool import links_spool_flush
from tests.conftest import ev
from tests.links.conftest import open_visit

BACKUP = "https://example.com/backup"


def make_code(workspace, *, strategy=Strategy.NEXT_WHEN_FULL, targets=3, capacity=2, groups=True, **kwargs):
    code = channel_code_create(workspace=workspace, name="海报码", strategy=strategy, backup_url=BACKUP, **kwargs)
    for n in range(1, targets + 1):
        group = None
        if groups:
            group = Group.objects.create(
                workspace=workspace, channel="simulator", external_id=f"!g{n}:example.org", name=f"Group g{n}", capacity=capacity,
            )
        code_target_add(code=code, group=group, url=f"https://example.com/join/g{n}", capacity=capacity)
    return code


def test_next_when_full_follows_live_member_counts_then_the_backup(workspace, ingest):
    code = make_code(workspace)
    sent = []
    for joiner in range(1, 8):
        location = open_visit(code.link, remote_addr=f"203.0.113.{joiner}").location
        sent.append(location.rsplit("/", 1)[1] if location != BACKUP else "backup")
        if location != BACKUP:  # the visitor joins the group they were sent to
            ingest([ev("group.joined", joiner, actor=f"u{joiner}", group=sent[-1])])
    assert sent == ["g1", "g1", "g2", "g2", "g3", "g3", "backup"]
    assert [load.used for load in code_targets_load(code=code)] == [2, 2, 2]


def test_a_leave_reopens_a_full_target(workspace, ingest):
    code = make_code(workspace, targets=1)
    ingest([ev("group.joined", 1, actor="a", group="g1"), ev("group.joined", 2, actor="b", group="g1")])
    assert open_visit(code.link).location == BACKUP
    ingest([ev("group.left", 3, actor="a", group="g1", minutes=1)])
    assert open_visit(code.link).location == "https://example.com/join/g1"


def test_round_robin_takes_the_open_targets_in_turn(workspace):
    code = make_code(workspace, strategy=Strategy.ROUND_ROBIN, capacity=100)
    locations = [open_visit(code.link).location[-2:] for _ in range(7)]
    assert locations == ["g1", "g2", "g3", "g1", "g2", "g3", "g1"]


def test_weighted_is_proportional_and_reproducible(workspace, make_workspace):
    def draws(ws):
        code = make_code(ws, strategy=Strategy.WEIGHTED, capacity=10_000, groups=False, targets=0)
        for n, weight in ((1, 3), (2, 1), (3, 0)):
            code_target_add(code=code, url=f"https://example.com/join/w{n}", weight=weight, capacity=10_000)
        return [code_target_choose(code=code, cursor=cursor).target.url[-2:] for cursor in range(400)]

    first = draws(workspace)
    assert first == draws(make_workspace())  # the cursor seeds the draw
    assert "w3" not in first
    assert 260 <= first.count("w1") <= 340


def test_a_daily_cap_moves_visitors_on_and_holds_after_the_flush(workspace):
    code = make_code(workspace, groups=False, capacity=100, targets=2)
    first = code.targets.get(position=0)
    first.daily_cap = 2
    first.save()
    locations = [open_visit(code.link).location[-2:] for _ in range(3)]
    assert locations == ["g1", "g1", "g2"]
    links_spool_flush()
    first.refresh_from_db()
    assert first.pending_sends == 0 and TargetDay.objects.get(target=first).sends == 2
    assert open_visit(code.link).location.endswith("g2")
    tomorrow = date.fromordinal(TargetDay.objects.get(target=first).day.toordinal() + 1)
    assert code_target_choose(code=code, today=tomorrow).target == first


def test_a_target_without_a_group_fills_by_visitors_sent(workspace):
    code = make_code(workspace, groups=False, capacity=2, targets=1)
    assert [open_visit(code.link).location for _ in range(3)] == ["https://example.com/join/g1"] * 2 + [BACKUP]


def test_a_full_code_without_backup_answers_503(workspace):
    code = channel_code_create(workspace=workspace, name="no backup")
    code_target_add(code=code, url="https://example.com/only", capacity=1)
    assert [open_visit(code.link).status for _ in range(2)] == [302, 503]


class GroupMaker(ChannelAdapter):
    """A channel that creates groups, answering create_group as base.ChannelAdapter documents."""

    name = "simulator"
    kinds = frozenset({"send_text", "create_group"})

    def rate_limits(self, *, message):
        return ()

    def send(self, *, message):
        room = "!made-" + message.payload["name"].rsplit(" ", 1)[1] + ":example.org"
        group = {"id": room, "name": message.payload["name"], "kind": message.payload["kind"], "capacity": 1}
        return {"group": group, "url": f"https://example.com/join/{room}"}


def test_the_next_group_is_requested_once_where_the_channel_can_create_groups(workspace, ingest, monkeypatch):
    code = make_code(workspace, targets=1, capacity=1, auto_create_group=True)
    ingest([ev("group.joined", 1, actor="a", group="g1")])
    open_visit(code.link)
    assert not OutboxMessage.objects.exists()  # the simulator cannot create groups

    monkeypatch.setitem(registry._adapters, "simulator", GroupMaker())
    open_visit(code.link)
    open_visit(code.link)
    message = OutboxMessage.objects.get()
    assert (message.kind, message.target, message.payload["name"]) == ("create_group", "!g1:example.org", "海报码 2")


@pytest.mark.parametrize("strategy", Strategy.values)
def test_inactive_targets_are_skipped(workspace, strategy):
    code = make_code(workspace, strategy=strategy, capacity=100, groups=False, targets=2)
    code.targets.filter(position=0).update(active=False)
    assert {open_visit(code.link).location[-2:] for _ in range(4)} == {"g2"}


def test_a_created_group_becomes_the_codes_next_target_once(workspace, ingest, monkeypatch):
    code = make_code(workspace, targets=1, capacity=1, auto_create_group=True)
    ingest([ev("group.joined", 1, actor="a", group="g1")])
    monkeypatch.setitem(registry._adapters, "simulator", GroupMaker())
    assert open_visit(code.link).location == BACKUP  # full: the visitor gets the backup, a group is asked for
    assert outbox_drain()["sent"] == 1

    target = code.targets.get(position=1)
    group = target.group
    assert (group.channel, group.external_id, group.name, group.kind) == ("simulator", "!made-2:example.org", "海报码 2", "lead")
    assert (target.url, target.capacity) == ("https://example.com/join/!made-2:example.org", 1)
    assert open_visit(code.link).location == target.url
    code.refresh_from_db()
    assert code.group_requested_at is None  # the next time all are full asks again

    # The sent event again (a replay) adds nothing.
    sent = Event.objects.get(type=EventType.OUTBOX_SENT)
    code_groups_created(None, workspace=workspace, source="siyu", events=[sent])
    assert code.targets.count() == 2


def test_a_group_target_is_also_full_once_todays_visitors_reach_its_capacity(workspace):
    """Visitors join late or never: counting members alone let a target of capacity 3 receive 5 visitors."""
    code = make_code(workspace, targets=1, capacity=3)
    locations = [open_visit(code.link, remote_addr=f"203.0.113.{n}").location for n in range(1, 6)]
    assert locations == ["https://example.com/join/g1"] * 3 + [BACKUP] * 2
    [load] = code_targets_load(code=code)
    assert (load.used, load.sends_today, load.open) == (0, 3, False)
