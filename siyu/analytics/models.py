"""Analytics' own tables: daily rollups, facts extracted from the ledger, member models, settings.

Everything here is derived: `rollups_rebuild` recomputes it from the ledger and its projections, and
`rollups_refresh` keeps it current from a watermark (the last event id processed).
"""
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.core.models import Workspace
from siyu.groups.models import Group
from siyu.members.models import Member


class Watermark(models.Model):
    """How far the rollups have read the ledger of one workspace."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_event_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)
    # The last local day the rollups hold rows for; the next refresh extends them to today.
    last_day = models.DateField(null=True)
    # The last refresh that failed (cleared by the next one that succeeds), shown on the dashboard.
    failed_at = models.DateTimeField(null=True)
    failure = models.CharField(max_length=500, blank=True, default="")


class DayFigures(models.Model):
    """The columns of a daily rollup row (one local day in the workspace's time zone)."""

    day = models.DateField()
    members_start = models.IntegerField(default=0)
    members_end = models.IntegerField(default=0)
    joins = models.IntegerField(default=0)
    leaves = models.IntegerField(default=0)
    speakers = models.IntegerField(default=0)
    messages = models.IntegerField(default=0)
    exposures = models.IntegerField(default=0)
    buyers = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    revenue_cents = models.BigIntegerField(default=0)
    cost_cents = models.BigIntegerField(default=0)

    FIGURES = (
        "members_start", "members_end", "joins", "leaves", "speakers", "messages", "exposures",
        "buyers", "orders", "revenue_cents", "cost_cents",
    )

    class Meta:
        abstract = True


class GroupDay(DayFigures):
    """Rollup: one group on one day. Joins and leaves are stays opened and closed that day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "day"], name="analytics_groupday_unique")]
        indexes = [
            # Serves "the workspace's rows of these days" and covers the groups table's sums over a
            # period: one index range, no row lookups.
            models.Index(
                fields=["workspace", "day", "group", "members_start", "joins", "leaves", "speakers", "messages",
                        "exposures", "orders", "revenue_cents", "cost_cents"],
                name="analytics_groupday_sums",
            ),
        ]


class WorkspaceDay(DayFigures):
    """Rollup: the whole community on one day, counting each person once (joins = people entering it)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "day"], name="analytics_wsday_unique")]


class Sale(models.Model):
    """Fact: one order, from its order.paid event, net of its refunds.

    A refund seen before its payment creates the row with `paid_at` empty; metrics ignore such rows.
    An order counts unless it was refunded in full (`rollups.COUNTS` says so in SQL).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    order_id = models.CharField(max_length=191)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", null=True, db_index=False)
    paid_at = models.DateTimeField(null=True)
    day = models.DateField(null=True)
    amount_cents = models.BigIntegerField(default=0)
    refunded_cents = models.BigIntegerField(default=0)
    discount_cents = models.BigIntegerField(default=0)
    product = models.CharField(max_length=64, blank=True)
    # An entry purchase (引流品, e.g. the 9.9 trial): counted in revenue and ROI, not as a conversion.
    entry = models.BooleanField(default=False)
    # The group named on the order event, if any; otherwise the groups the buyer was in (SaleGroup).
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", null=True, db_index=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "order_id"], name="analytics_sale_unique")]
        indexes = [
            models.Index(fields=["workspace", "day"], name="analytics_sale_day"),
            models.Index(fields=["member", "paid_at"], name="analytics_sale_member"),
        ]


class SaleGroup(models.Model):
    """Fact: a sale attributed to a group (the buyer was in it when paying, or the order names it)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    # Copied from the sale so that buyers over a period are counted from one covering index.
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", null=True, db_index=False)
    counts = models.BooleanField(default=True)  # the sale is not refunded in full (rollups.COUNTS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sale", "group"], name="analytics_salegroup_unique")]
        indexes = [
            models.Index(fields=["group", "day"], name="analytics_salegroup_day"),
            models.Index(fields=["workspace", "day", "group", "member", "sale", "counts"], name="analytics_salegroup_buyers"),
        ]


class Cost(models.Model):
    """Fact: one cost.recorded event (ads, fees), on a group or the whole workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+", null=True, db_index=False)
    day = models.DateField()
    amount_cents = models.BigIntegerField()
    event_id = models.BigIntegerField(unique=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "day"], name="analytics_cost_day")]


class Invite(models.Model):
    """Fact: who brought whom (a join naming an inviter). The first inviter of a member is kept.

    The inviter is kept as their id on the join's channel and resolved to a member when read, so an
    inviter first seen after the join still counts (as a rebuild would count them).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    invitee = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    channel = models.CharField(max_length=32)
    inviter_external_id = models.CharField(max_length=191)
    invited_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invitee"], name="analytics_invite_unique")]
        indexes = [models.Index(fields=["workspace", "channel", "inviter_external_id"], name="analytics_invite_inviter")]


class CampaignTouch(models.Model):
    """Fact: a member reached by a conversion campaign (first time per campaign)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="+", db_index=False)
    campaign = models.CharField(max_length=191)
    first_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "campaign"], name="analytics_touch_unique")]


class ActivityTier(models.TextChoices):
    CORE = "core", pgettext_lazy("member tier", "Core")
    POTENTIAL = "potential", _("Potential")
    SILENT = "silent", _("Silent")


class ValueTier(models.TextChoices):
    CORE = "core", _("Core (active, high spend)")
    POTENTIAL = "potential", _("Potential (active, low spend)")
    DORMANT_SPENDER = "dormant_spender", _("Dormant spender (inactive, high spend)")
    SILENT = "silent", _("Silent (inactive, low spend)")


class Loyalty(models.TextChoices):
    LOYAL = "loyal", _("Loyal")
    BARGAIN = "bargain", _("Bargain hunter")
    NEED = "need", _("Need-driven")
    LOW_NEED = "low_need", _("Low need")
    UNCLASSIFIED = "unclassified", _("Unclassified")


class Pyramid(models.TextChoices):
    CORE = "core", _("Core (bought the high-ticket product)")
    POOL = "pool", _("Pool (reached by a conversion campaign)")
    TO_CONVERT = "to_convert", _("To convert (came for the lead product)")
    OUTSIDE = "outside", _("Outside the pyramid")


class MemberModel(models.Model):
    """A member's place in each model, with the figures that put them there (shown as the reason)."""

    member = models.OneToOneField(Member, on_delete=models.CASCADE, primary_key=True, related_name="model")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    computed_on = models.DateField()
    messages_window = models.IntegerField(default=0)
    spend_cents = models.BigIntegerField(default=0)
    orders = models.IntegerField(default=0)
    discounted_orders = models.IntegerField(default=0)
    months_bought = models.IntegerField(default=0)  # of the last `loyal_months` months, how many had an order
    orders_recent = models.IntegerField(default=0)  # orders in the last `need_months` months
    referred_buyers = models.IntegerField(default=0)
    campaigns = models.IntegerField(default=0)
    lead_orders = models.IntegerField(default=0)
    high_ticket_orders = models.IntegerField(default=0)
    in_lead_group = models.BooleanField(default=False)
    activity_tier = models.CharField(max_length=16, choices=ActivityTier.choices)
    value_tier = models.CharField(max_length=16, choices=ValueTier.choices)
    loyalty = models.CharField(max_length=16, choices=Loyalty.choices)
    pyramid = models.CharField(max_length=16, choices=Pyramid.choices)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "activity_tier"], name="analytics_mm_activity"),
            models.Index(fields=["workspace", "value_tier"], name="analytics_mm_value"),
            models.Index(fields=["workspace", "loyalty"], name="analytics_mm_loyalty"),
            models.Index(fields=["workspace", "pyramid"], name="analytics_mm_pyramid"),
        ]


def validate_products(value: str) -> None:
    for product in (p.strip() for p in value.split(",")):
        if not product or len(product) > 64:
            raise ValidationError(_("List product codes separated by commas, e.g. trial, camp."))


class ModelSettings(models.Model):
    """A workspace's thresholds for the member models; the defaults are the seeds' figures."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="model_settings")
    activity_window_days = models.PositiveSmallIntegerField(_("activity window (days)"), default=7)
    core_min_messages = models.PositiveSmallIntegerField(_("messages for the core tier"), default=5)
    high_spend_cents = models.PositiveBigIntegerField(_("high spend from (cents)"), default=19900)
    loyal_months = models.PositiveSmallIntegerField(_("loyal: bought in each of the last N months"), default=3)
    bargain_aov_cents = models.PositiveBigIntegerField(_("bargain hunter: average order under (cents)"), default=10000)
    need_months = models.PositiveSmallIntegerField(_("need-driven: no repurchase within N months"), default=3)
    lead_products = models.CharField(_("lead products"), max_length=200, default="trial", validators=[validate_products])
    high_ticket_products = models.CharField(
        _("high-ticket products"), max_length=200, default="vip", validators=[validate_products]
    )

    class Meta:
        verbose_name = _("member model settings")
        verbose_name_plural = _("member model settings")

    def clean(self) -> None:
        if self.activity_window_days < 1 or self.core_min_messages < 1 or self.loyal_months < 1 or self.need_months < 1:
            raise ValidationError(_("Windows and thresholds must be at least 1."))

    @staticmethod
    def products(value: str) -> set[str]:
        return {p.strip() for p in value.split(",") if p.strip()}
