"""Member models with the seeds' default thresholds, each with the reason shown on the member page."""
from datetime import date

import pytest
from django.utils import translation

from siyu.analytics.models import MemberModel
from siyu.analytics.rollups import rollups_refresh
from siyu.analytics.tiers import member_model_reasons, model_settings_get
from siyu.core.ingest import events_ingest

TODAY = date(2026, 3, 8)
_n = iter(range(1, 10_000))


def ev(type_, at, who, *, group=None, kind="lead", **data):
    raw = {"type": type_, "source_id": f"t{next(_n)}", "occurred_at": at, "actor": {"id": who, "name": who}, "data": data}
    if group:
        raw["group"] = {"id": group, "name": group, "kind": kind}
    return raw


def order(at, who, order_id, cents, product, **extra):
    return ev("order.paid", at, who, order_id=order_id, amount_cents=cents, product=product, **extra)


def ledger():
    events = [ev("group.joined", "2026-02-01T02:00:00Z", who, group="lead1") for who in ("t1", "t2", "t3", "t4", "t7")]
    events += [ev("group.message", f"2026-03-05T0{i}:00:00Z", "t1", group="lead1", text="hi") for i in range(6)]
    events += [ev("group.message", f"2026-02-20T0{i}:00:00Z", "t2", group="lead1", text="old") for i in range(9)]
    events += [ev("group.message", f"2026-03-0{d}T03:00:00Z", "t2", group="lead1", text="hi") for d in (3, 7)]
    events += [
        order("2026-03-01T03:00:00Z", "t1", "a1", 19900, "camp"),
        order("2026-02-02T03:00:00Z", "t3", "a3", 399900, "vip"),
        order("2025-12-20T03:00:00Z", "t5", "a5-1", 9900, "monthly"),
        order("2026-01-20T03:00:00Z", "t5", "a5-2", 9900, "monthly"),
        order("2026-03-05T03:00:00Z", "t5", "a5-3", 9900, "monthly"),
        ev("group.joined", "2026-03-01T03:00:00Z", "t6", group="lead1", inviter="t5"),
        order("2026-03-01T03:10:00Z", "t6", "a6", 990, "trial"),
        order("2026-02-10T03:00:00Z", "t7", "a7-1", 2900, "materials", discount_cents=1000),
        order("2026-03-02T03:00:00Z", "t7", "a7-2", 2900, "materials", discount_cents=1000),
        ev("campaign.touched", "2026-03-03T03:00:00Z", "t8", campaign="camp-pitch"),
        ev("group.joined", "2026-03-03T03:00:00Z", "t9", group="perks1", kind="perks"),
    ]
    return events


@pytest.fixture
def models(workspace):
    events_ingest(workspace=workspace, source="matrix", events=ledger())
    rollups_refresh(workspace=workspace, today=TODAY)
    return {m.member.identities.get().external_id: m for m in MemberModel.objects.filter(workspace=workspace).select_related("member")}


def test_activity_tiers_count_the_last_seven_days(models):
    assert (models["t1"].activity_tier, models["t1"].messages_window) == ("core", 6)
    assert (models["t2"].activity_tier, models["t2"].messages_window) == ("potential", 2)  # February's 9 are too old
    assert models["t3"].activity_tier == "silent"


def test_value_tiers_cross_activity_and_spend(models):
    assert models["t1"].value_tier == "core"  # active, 199 spent
    assert models["t2"].value_tier == "potential"  # active, nothing spent
    assert models["t3"].value_tier == "dormant_spender"  # silent, 3999 spent
    assert models["t4"].value_tier == "silent"


def test_loyalty_types(models):
    assert (models["t5"].loyalty, models["t5"].months_bought, models["t5"].referred_buyers) == ("loyal", 3, 1)
    assert models["t7"].loyalty == "bargain"  # two discounted 29 orders, never brought a buyer
    assert (models["t1"].loyalty, models["t3"].loyalty) == ("need", "need")  # one big order, no repurchase
    assert (models["t6"].loyalty, models["t2"].loyalty) == ("low_need", "low_need")


def test_pyramid(models):
    assert models["t3"].pyramid == "core"  # bought the high-ticket product
    assert models["t1"].pyramid == "pool"  # bought beyond the lead product
    assert models["t8"].pyramid == "pool"  # reached by a conversion campaign, paid nothing
    assert (models["t6"].pyramid, models["t4"].pyramid) == ("to_convert", "to_convert")
    assert models["t9"].pyramid == "outside"


def test_reasons_name_the_figures(models, workspace):
    settings = model_settings_get(workspace=workspace)
    with translation.override("en"):
        reasons = member_model_reasons(model=models["t1"], settings=settings)
        assert reasons["activity"].startswith("6 messages in the last 7 days")
        assert "¥199" in reasons["value"]
    with translation.override("zh-hans"):
        assert "6" in member_model_reasons(model=models["t1"], settings=settings)["activity"]


def test_thresholds_are_workspace_settings(models, workspace):
    settings = model_settings_get(workspace=workspace)
    settings.core_min_messages = 7
    settings.save()
    from siyu.analytics.tiers import member_models_update

    member_models_update(workspace=workspace, members=None, today=TODAY)
    assert MemberModel.objects.get(member=models["t1"].member).activity_tier == "potential"
