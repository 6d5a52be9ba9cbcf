from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey, Q
from django.utils import translation

from siyu.core.models import AuditEntry, Event, Role
from siyu.groups.models import Membership
from siyu.members import merge as merging
from siyu.members import privacy, selectors
from siyu.members.models import (
    Identity, Member, MemberDailyActivity, MemberMerge, MemberStats, MemberTag, Note, Segment, SegmentMember, TagVia,
)
from siyu.members.tags import tag_create, tags_apply
from tests.conftest import T0, ev


def _people(ingest, workspace):
    ingest([
        ev("group.joined", 1, actor="ann", group="g"),
        ev("group.joined", 2, actor="ann", group="h", minutes=1),
        ev("group.message", 3, actor="ann", group="g", minutes=2, text="hi"),
        ev("order.paid", 4, actor="ann", minutes=3, amount_cents=500, order_id="o1"),
        ev("group.joined", 5, actor="anne", group="g", minutes=4),
        ev("group.message", 6, actor="anne", group="g", minutes=5, text="hello"),
        ev("group.message", 7, actor="anne", group="g", minutes=60 * 30, text="next day"),
        ev("group.message", 8, actor="ann", group="g", minutes=6, text="again"),
    ])
    kept = Member.objects.get(identities__external_id="@ann:example.org")
    merged = Member.objects.get(identities__external_id="@anne:example.org")
    return kept, merged


def _snapshot(*members):
    """Every row of every table that references one of the members (and the members themselves)."""
    ids = [m.pk for m in members]
    rows = {"members.Member": sorted(Member.objects.filter(pk__in=ids).values_list())}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, ForeignKey) and f.related_model is Member]
        if not fields or model in (Member, MemberMerge):  # the merge's own record is history, kept on undo
            continue
        q = Q()
        for field in fields:
            q |= Q(**{f"{field.attname}__in": ids})
        label = model._meta.label
        rows[label] = sorted(model.objects.filter(q).values_list(), key=repr)
    return rows


@pytest.fixture
def people(workspace, ingest, make_staff):
    admin = make_staff(workspace, role=Role.ADMIN)
    kept, merged = _people(ingest, workspace)
    both = tag_create(workspace=workspace, name="both")
    only = tag_create(workspace=workspace, name="only-merged")
    tags_apply(workspace=workspace, pairs=[(merged.pk, both.pk)], via=TagVia.MANUAL, by=admin, at=T0 + timedelta(minutes=10))
    tags_apply(workspace=workspace, pairs=[(kept.pk, both.pk)], via=TagVia.MANUAL, by=admin, at=T0 + timedelta(minutes=20))
    tags_apply(workspace=workspace, pairs=[(merged.pk, only.pk)], via=TagVia.IMPORT, by=None, at=T0 + timedelta(minutes=30))
    Note.objects.create(workspace=workspace, member=merged, author=admin, text="met at the fair", occurred_at=T0)
    Note.objects.create(workspace=workspace, member=kept, author=admin, text="called", occurred_at=T0)
    segment = Segment.objects.create(workspace=workspace, name="s")
    SegmentMember.objects.create(segment=segment, member=merged, since=T0)
    privacy.member_contacts_set(member=merged, phone="13812345678", email="ann@example.org")
    Member.objects.filter(pk=merged.pk).update(remark="VIP", owner=admin)
    kept.refresh_from_db()
    merged.refresh_from_db()
    return admin, kept, merged


def test_merge_moves_everything_to_kept(people, workspace):
    admin, kept, merged = people
    stats_before = MemberStats.objects.get(member=kept)
    merge = merging.member_merge(kept=kept, merged=merged, by=admin, reason="same person")

    assert set(Identity.objects.filter(member=kept).values_list("external_id", flat=True)) == {
        "@ann:example.org", "@anne:example.org"}
    assert not Identity.objects.filter(member=merged).exists()
    tags = {mt.tag.name: mt for mt in MemberTag.objects.filter(member=kept).select_related("tag")}
    assert set(tags) == {"both", "only-merged"}
    assert tags["both"].added_at == T0 + timedelta(minutes=10)  # the earliest of the two wins
    assert Note.objects.filter(member=kept).count() == 2
    assert SegmentMember.objects.filter(member=kept).count() == 1
    stays = Membership.objects.filter(member=kept, left_at__isnull=True)
    assert sorted(s.group.name for s in stays) == ["Group g", "Group h"]  # merged's open stay in g stays with merged
    assert Event.objects.filter(member=merged).count() == 0
    assert Event.objects.filter(member=kept).count() == 8 + 3
    stats = MemberStats.objects.get(member=kept)
    assert stats.messages == stats_before.messages + 2 and stats.spend_cents == 500
    assert not MemberStats.objects.filter(member=merged).exists()
    assert sum(MemberDailyActivity.objects.filter(member=kept).values_list("messages", flat=True)) == 4
    kept.refresh_from_db()
    merged.refresh_from_db()
    assert kept.phone == "13812345678" and kept.remark == "VIP" and kept.owner == admin
    assert merged.merged_into == kept
    assert merge.moved["events"] == [[5, 7]] or all(len(r) == 2 for r in merge.moved["events"])
    assert merged not in selectors.member_list(workspace=workspace)[0]
    audit = AuditEntry.objects.get(action="member_merged")
    assert audit.data["kept"] == kept.number and audit.data["merged"] == merged.number


def test_merge_then_undo_restores_the_exact_prior_state(people, workspace):
    admin, kept, merged = people
    before = _snapshot(kept, merged)
    merge = merging.member_merge(kept=kept, merged=merged, by=admin, reason="same person")
    assert _snapshot(kept, merged) != before
    merging.member_merge_undo(merge=merge, by=admin)
    after = _snapshot(kept, merged)
    for label in before:
        assert after[label] == before[label], label
    assert AuditEntry.objects.filter(action="member_merge_undone").count() == 1
    with translation.override("en"), pytest.raises(ValidationError, match="already undone"):
        merging.member_merge_undo(merge=merge, by=admin)


def test_merge_candidates_and_refusals(people, workspace, make_workspace, ingest):
    admin, kept, merged = people
    privacy.member_contacts_set(member=kept, phone="138 1234 5678")
    assert [(a.pk, b.pk) for a, b in merging.merge_candidates(workspace=workspace)] == [(kept.pk, merged.pk)]
    other = make_workspace()
    ingest([ev("group.joined", 1, actor="x", group="g")], ws=other)
    stranger = Member.objects.get(workspace=other)
    with translation.override("en"):
        with pytest.raises(ValidationError, match="itself"):
            merging.member_merge(kept=kept, merged=kept)
        with pytest.raises(ValidationError, match="different workspaces"):
            merging.member_merge(kept=kept, merged=stranger)
        merging.member_merge(kept=kept, merged=merged, by=admin)
        assert merging.merge_candidates(workspace=workspace) == []
        with pytest.raises(ValidationError, match="already merged"):
            merging.member_merge(kept=kept, merged=Member.objects.get(pk=merged.pk))
    third = Member.objects.create(workspace=workspace, number=999, display_name="x")
    privacy.member_erase(member=third)
    with translation.override("en"), pytest.raises(ValidationError, match="erased"):
        merging.member_merge(kept=kept, merged=Member.objects.get(pk=third.pk))


def test_events_from_a_merged_identity_go_to_kept(people, workspace, ingest):
    admin, kept, merged = people
    merging.member_merge(kept=kept, merged=merged, by=admin)
    ingest([ev("group.message", 50, actor="anne", group="g", minutes=100, text="after")])
    assert Event.objects.get(source_id="e50").member_id == kept.pk
