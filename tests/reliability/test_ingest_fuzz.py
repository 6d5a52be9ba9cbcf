"""A standing fuzz of events_ingest: every batch is stored or rejected, never raises, never half-writes.

1,000 batches by default, 20,000 with SIYU_SLOW_TESTS=1. Runs on the configured database: SQLite by
default, PostgreSQL with SIYU_DATABASE_URL (CI runs both). What SQLite stores must be storable on
PostgreSQL too: no NUL and no lone surrogate in any stored text.
"""
import os
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from siyu.core.events import TYPE_BY_KEY
from siyu.core.ingest import IngestRejected, IngestResult, events_ingest
from siyu.core.models import Event, OutboxMessage
from siyu.core.services import workspace_create
from siyu.groups.models import Group, KeywordReply, Membership, ModerationKind, ModerationRule
from siyu.members.models import Identity, Member, MemberStats

EXAMPLES = 20_000 if os.environ.get("SIYU_SLOW_TESTS") else 1_000

# What broke ingest when a live instance was probed: lone surrogates, NUL, bidi and zero-width characters.
SPECIAL = ["", " ", "\x00", "\ud800", "\udfff", "a\ud83d", "\u202e", "\u200b", "\x1f", "\x7f", "😀", "群", "\n"]
characters = st.one_of(st.characters(codec=None, exclude_categories=()), st.sampled_from([c for c in SPECIAL if len(c) == 1]))
texts = st.one_of(st.text(characters, max_size=12), st.sampled_from(SPECIAL), st.sampled_from(["u1", "u2", "g1", "g2", "o1"]))
integers = st.one_of(
    st.integers(-5, 2_000), st.sampled_from([2**31, 2**53, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30]),
)
scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(), texts)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
                      max_leaves=6)
DATA_KEYS = [
    "text", "amount_cents", "order_id", "product", "role", "inviter", "campaign", "code", "name", "kind", "capacity",
    "display_name", "gender", "city", "history", "tag", "via", "rule", "by", "member", "group", "link", "target", "bot",
    "qr", "reason", "replaces", "owner", "segment", "strike", "limit", "actions", "outbox_id", "url", "discount_cents",
]
NOW = timezone.now()


def moment_text(moment, offset):
    return moment.astimezone(dt_timezone(timedelta(minutes=offset))).isoformat()


moments = st.one_of(
    st.builds(lambda s: NOW - timedelta(seconds=s), st.integers(-300, 40 * 86_400)),  # live and recent
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(dt_timezone.utc)),
)
occurred = st.one_of(
    st.builds(moment_text, moments, st.integers(-23 * 60, 23 * 60)),
    moments,
    st.sampled_from(["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                     "1999-12-31T23:59:59Z", "2026-05-01 20:15:00", "2026-02-30T00:00:00Z", "garbage"]),
    scalars,
)
recent = st.builds(lambda s: (NOW - timedelta(seconds=s)).isoformat(), st.integers(-60, 40 * 86_400))
valid_events = st.builds(
    lambda type_, n, at, actor, group: {
        "type": type_, "source_id": f"s{n}", "occurred_at": at,
        "actor": {"id": actor, "name": actor.upper()}, "group": {"id": group, "name": f"群 {group}", "kind": "lead"},
        "data": {"text": "大家好 群", "amount_cents": 990, "order_id": f"o{n}", "campaign": "c1", "role": "member"},
    },
    st.sampled_from(sorted(TYPE_BY_KEY)), st.integers(0, 10**9), recent, st.sampled_from(["u1", "u2", "u3"]),
    st.sampled_from(["g1", "g2"]),
)
FIELDS = ["type", "source_id", "occurred_at", "actor", "actor.id", "actor.name", "group", "group.id", "group.name",
          "group.kind", "group.capacity", "data"] + [f"data.{key}" for key in DATA_KEYS]
DELETE = object()
mutations = st.one_of(st.just([]), st.lists(st.tuples(st.sampled_from(FIELDS), st.one_of(st.just(DELETE), occurred, texts, texts, values)),
                                           min_size=1, max_size=3))


def mutated(event, changes):
    """The valid event with each (dotted field, value) applied; DELETE removes the field."""
    for field, value in changes:
        *parents, key = field.split(".")
        target = event
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value is DELETE:
            target.pop(key, None)
        else:
            target[key] = value
    return event


# Mostly a valid event with a few fields changed, now and then any JSON value at all.
events = st.tuples(st.integers(0, 9), st.builds(mutated, valid_events, mutations), values).map(lambda t: t[2] if t[0] == 0 else t[1])
batches = st.lists(events, min_size=1, max_size=6)


@pytest.fixture
def fuzzed(db):
    workspace = workspace_create(slug="fuzz", name="Fuzz")
    ModerationRule.objects.create(workspace=workspace, name="aaa", kind=ModerationKind.REGEX, words="(a+)+$")
    KeywordReply.objects.create(workspace=workspace, match="contains", pattern="群", reply="{name} 你好")
    return workspace


def counts(workspace):
    return (
        Event.objects.filter(workspace=workspace).count(), Member.objects.filter(workspace=workspace).count(),
        Identity.objects.filter(workspace=workspace).count(), Group.objects.filter(workspace=workspace).count(),
        Membership.objects.filter(group__workspace=workspace).count(), MemberStats.objects.filter(member__workspace=workspace).count(),
        OutboxMessage.objects.filter(workspace=workspace).count(),
    )


def postgres_safe(value):
    """Text PostgreSQL stores: UTF-8 encodable, no NUL."""
    if isinstance(value, str):
        return "\x00" not in value and value.encode("utf-8", errors="ignore").decode() == value
    if isinstance(value, dict):
        return all(postgres_safe(k) and postgres_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(postgres_safe(v) for v in value)
    return True


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=batches, source=st.sampled_from(["matrix"] * 6 + ["simulator", "Bad source"]))
def test_every_batch_is_stored_or_rejected_and_never_half_written(fuzzed, batch, source):
    workspace = fuzzed  # one for all examples: later batches meet the members, groups and ids of earlier ones
    before = counts(workspace)
    last_id = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    try:
        result = events_ingest(workspace=workspace, source=source, events=batch)
    except IngestRejected as rejected:
        event("rejected", payload=rejected.errors[0].field)
        assert rejected.errors and all(-1 <= e.index < len(batch) and e.field and e.reason for e in rejected.errors)
        assert counts(workspace) == before, "a rejected batch wrote something"
        return
    event("stored" if result.stored else "nothing new")
    assert isinstance(result, IngestResult) and result.received == len(batch)
    assert counts(workspace)[0] == before[0] + result.stored
    for row in Event.objects.filter(workspace=workspace, id__gt=last_id):
        assert postgres_safe(row.source_id) and postgres_safe(row.data), row.pk
    for name, external_id in Member.objects.filter(workspace=workspace).values_list("display_name", "identities__external_id"):
        assert postgres_safe(name) and postgres_safe(external_id)
    for name, external_id in Group.objects.filter(workspace=workspace).values_list("name", "external_id"):
        assert postgres_safe(name) and postgres_safe(external_id)
