"""Member models: activity tiers, value tiers, loyalty types and the three-tier pyramid.

Stored per member in MemberModel with the figures behind them, recomputed for the members new events
name on every refresh and for everyone once a day (the windows move with the calendar).
"""
from collections.abc import Collection
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.db.models import Model

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from siyu.core.db import chunked, insert_many
from siyu.core.models import Workspace
from siyu.groups.models import Group, GroupKind, Membership
from siyu.members.models import Identity, Member, MemberDailyActivity

from .models import ActivityTier, CampaignTouch, Invite, Loyalty, MemberModel, ModelSettings, Pyramid, Sale, ValueTier

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

M = TypeVar("M", bound=Model)
CHUNK = 900
MONTH = 30  # days in a "month" window


def model_settings_get(*, workspace: Workspace) -> ModelSettings:
    """The workspace's thresholds, created with the seeds' defaults on first use."""
    settings, _created = ModelSettings.objects.get_or_create(workspace=workspace)
    return settings


class InviterId(TypedDict):
    inviter_id: int | None


def invites_resolved(workspace: Workspace) -> "QuerySet[WithAnnotations[Invite, InviterId]]":
    """Invites with `inviter_id`: the member behind the inviter's id on the join's channel (or None)."""
    inviter = Identity.objects.filter(
        workspace=workspace, channel=OuterRef("channel"), external_id=OuterRef("inviter_external_id")
    ).values("member_id")[:1]
    return Invite.objects.filter(workspace=workspace).annotate(inviter_id=Subquery(inviter))


def member_models_update(*, workspace: Workspace, members: Collection[int] | None, today: date) -> int:
    """Recompute the models of `members` (ids; None: every member of the workspace). Returns the count.
    Staff (members.staff) get no model: they are in no tier, type or tier count."""
    if members is not None and not members:
        return 0
    settings = model_settings_get(workspace=workspace)
    staff: set[int] = set()
    if members is None:
        ids = list(Member.objects.filter(workspace=workspace, is_staff=False).values_list("pk", flat=True))
        MemberModel.objects.filter(workspace=workspace).delete()  # one DELETE: nothing cascades from it
        chunks: list[list[int] | None] = [None]
    else:
        # An invitee's first order changes what their inviter counts as referred buyers.
        inviters: set[int] = set()
        for part in chunked(members, CHUNK):
            inviters.update(m for m in invites_resolved(workspace).filter(invitee_id__in=part).values_list("inviter_id", flat=True) if m)
        ids = sorted(set(members) | inviters)
        chunks = list(chunked(ids, CHUNK))
        for ids_part in chunked(ids, CHUNK):
            staff.update(Member.objects.filter(pk__in=ids_part, is_staff=True).values_list("pk", flat=True))
    for chunk in chunks:
        figures = _figures(workspace, chunk, today, settings)
        if chunk is not None:
            MemberModel.objects.filter(member_id__in=chunk).delete()
        targets = ids if chunk is None else [m for m in chunk if m not in staff]
        insert_many(MemberModel, [_classify(workspace, m, figures.get(m, {}), today, settings) for m in targets])
    return len(ids) - len(staff)


def _in(queryset: "QuerySet[M]", field: str, chunk: list[int] | None) -> "QuerySet[M]":
    return queryset if chunk is None else queryset.filter(**{f"{field}__in": chunk})


def _figures(workspace: Workspace, chunk: list[int] | None, today: date, settings: ModelSettings) -> dict[int, dict[str, Any]]:
    figures: dict[int, dict[str, Any]] = {}

    def of(member_id: int) -> dict[str, Any]:
        return figures.setdefault(member_id, {})

    window_start = today - timedelta(days=settings.activity_window_days - 1)
    activity = MemberDailyActivity.objects.filter(workspace=workspace, day__gte=window_start, day__lte=today)
    for member_id, messages in _in(activity, "member_id", chunk).values_list("member_id", "messages"):
        row = of(member_id)
        row["messages_window"] = row.get("messages_window", 0) + messages
    lead, high = ModelSettings.products(settings.lead_products), ModelSettings.products(settings.high_ticket_products)
    loyal_since = today - timedelta(days=MONTH * settings.loyal_months - 1)
    recent_since = today - timedelta(days=MONTH * settings.need_months - 1)
    sales = Sale.objects.filter(workspace=workspace, paid_at__isnull=False)
    for member_id, amount, refunded, discount, product, day in _in(sales, "member_id", chunk).values_list(
        "member_id", "amount_cents", "refunded_cents", "discount_cents", "product", "day"
    ):
        row = of(member_id)
        row["spend_cents"] = row.get("spend_cents", 0) + max(0, amount - refunded)
        if refunded and refunded >= amount:
            continue  # refunded in full: not an order
        row["orders"] = row.get("orders", 0) + 1
        row["discounted_orders"] = row.get("discounted_orders", 0) + (1 if discount else 0)
        row["lead_orders"] = row.get("lead_orders", 0) + (product in lead)
        row["high_ticket_orders"] = row.get("high_ticket_orders", 0) + (product in high)
        if day is not None and day >= recent_since:
            row["orders_recent"] = row.get("orders_recent", 0) + 1
        if day is not None and day >= loyal_since:
            row.setdefault("months", set()).add((today - day).days // MONTH)
    pairs = list(_in(invites_resolved(workspace), "inviter_id", chunk).values_list("inviter_id", "invitee_id"))
    counting: set[int] = set()
    for part in chunked({invitee for _inviter, invitee in pairs}, CHUNK):
        counting.update(
            Sale.objects.filter(member_id__in=part, paid_at__isnull=False)
            .filter(Q(refunded_cents=0) | Q(refunded_cents__lt=F("amount_cents")))
            .values_list("member_id", flat=True)
        )
    for inviter_id, invitee_id in pairs:
        if inviter_id and inviter_id != invitee_id and invitee_id in counting:
            row = of(inviter_id)
            row["referred_buyers"] = row.get("referred_buyers", 0) + 1
    touches = CampaignTouch.objects.filter(workspace=workspace)
    for member_id in _in(touches, "member_id", chunk).values_list("member_id", flat=True):
        row = of(member_id)
        row["campaigns"] = row.get("campaigns", 0) + 1
    lead_groups = Group.objects.filter(workspace=workspace, kind=GroupKind.LEAD).values("pk")
    stays = Membership.objects.filter(workspace=workspace, group__in=lead_groups)
    for member_id in _in(stays, "member_id", chunk).values_list("member_id", flat=True).distinct():
        of(member_id)["in_lead_group"] = True
    return figures


def _classify(workspace: Workspace, member_id: int, f: dict[str, Any], today: date, settings: ModelSettings) -> dict[str, Any]:
    messages = f.get("messages_window", 0)
    spend = f.get("spend_cents", 0)
    orders = f.get("orders", 0)
    months = len(f.get("months", ()))
    activity = (
        ActivityTier.CORE if messages >= settings.core_min_messages
        else ActivityTier.POTENTIAL if messages >= 1 else ActivityTier.SILENT
    )
    active, high = activity != ActivityTier.SILENT, spend >= settings.high_spend_cents
    value = (
        (ValueTier.CORE if high else ValueTier.POTENTIAL) if active
        else (ValueTier.DORMANT_SPENDER if high else ValueTier.SILENT)
    )
    referred = f.get("referred_buyers", 0)
    discounted = f.get("discounted_orders", 0)
    recent = f.get("orders_recent", 0)
    if months >= settings.loyal_months and referred >= 1:
        loyalty = Loyalty.LOYAL
    elif discounted >= 1 and orders and spend / orders < settings.bargain_aov_cents and referred == 0:
        loyalty = Loyalty.BARGAIN
    elif high and orders >= 1 and recent <= 1:
        loyalty = Loyalty.NEED
    elif orders <= 1:
        loyalty = Loyalty.LOW_NEED
    else:
        loyalty = Loyalty.UNCLASSIFIED
    lead_orders, high_orders, campaigns = f.get("lead_orders", 0), f.get("high_ticket_orders", 0), f.get("campaigns", 0)
    if high_orders:
        pyramid = Pyramid.CORE
    elif campaigns or orders > lead_orders:
        pyramid = Pyramid.POOL
    elif lead_orders or f.get("in_lead_group"):
        pyramid = Pyramid.TO_CONVERT
    else:
        pyramid = Pyramid.OUTSIDE
    return {
        "member": member_id, "workspace": workspace.pk, "computed_on": today, "messages_window": messages,
        "spend_cents": spend, "orders": orders, "discounted_orders": discounted, "months_bought": months,
        "orders_recent": recent, "referred_buyers": referred, "campaigns": campaigns, "lead_orders": lead_orders,
        "high_ticket_orders": high_orders, "in_lead_group": bool(f.get("in_lead_group")),
        "activity_tier": activity, "value_tier": value, "loyalty": loyalty, "pyramid": pyramid,
    }


def yuan(cents: float) -> str:
    return f"¥{cents / 100:,.2f}".replace(".00", "")


def member_model_reasons(*, model: MemberModel, settings: ModelSettings) -> dict[str, str]:
    """Why a member is where they are, one sentence per model, in the active language."""
    window = settings.activity_window_days
    activity = _("%(n)s messages in the last %(days)s days (core: %(core)s or more; potential: 1 to %(below)s; silent: 0)") % {
        "n": model.messages_window, "days": window, "core": settings.core_min_messages,
        "below": settings.core_min_messages - 1,
    }
    value = _("%(activity)s in the last %(days)s days, spent %(spend)s in all (high spend: %(high)s or more)") % {
        "activity": _("active") if model.messages_window else _("not active"), "days": window,
        "spend": yuan(model.spend_cents), "high": yuan(settings.high_spend_cents),
    }
    loyalty: str = {
        Loyalty.LOYAL: _("bought in each of the last %(months)s months and brought %(n)s buyer(s)"),
        Loyalty.BARGAIN: _("%(discounted)s discounted order(s), %(aov)s per order (under %(limit)s), brought no buyer"),
        Loyalty.NEED: _("spent %(spend)s (high) with %(recent)s order(s) in the last %(need)s months: no repurchase"),
        Loyalty.LOW_NEED: _("%(orders)s order(s) in all"),
        Loyalty.UNCLASSIFIED: _("%(orders)s orders, %(spend)s in all: fits none of the four types"),
    }[Loyalty(model.loyalty)] % {
        "months": settings.loyal_months, "n": model.referred_buyers, "discounted": model.discounted_orders,
        "aov": yuan(model.spend_cents // model.orders) if model.orders else "—", "limit": yuan(settings.bargain_aov_cents),
        "spend": yuan(model.spend_cents), "recent": model.orders_recent, "need": settings.need_months, "orders": model.orders,
    }
    pyramid = {
        Pyramid.CORE: _("bought a high-ticket product (%(products)s) %(n)s time(s)") % {
            "products": settings.high_ticket_products, "n": model.high_ticket_orders},
        Pyramid.POOL: _("reached by %(campaigns)s conversion campaign(s); %(other)s order(s) beyond the lead product") % {
            "campaigns": model.campaigns, "other": model.orders - model.lead_orders},
        Pyramid.TO_CONVERT: _("came for the lead product (%(products)s): %(n)s lead order(s)%(group)s") % {
            "products": settings.lead_products, "n": model.lead_orders,
            "group": _(", in a lead group") if model.in_lead_group else ""},
        Pyramid.OUTSIDE: _("no lead product, campaign or high-ticket order yet"),
    }[Pyramid(model.pyramid)]
    return {"activity": activity, "value": value, "loyalty": loyalty, "pyramid": pyramid}
