"""The segment conditions over analytics' facts (members.filters), registered in AnalyticsConfig.ready()."""
from django.db.models import F, Q
from django.utils.translation import gettext as _

from siyu.members.filters import Condition, FilterError, Leaf

from .models import CampaignTouch, MemberModel, Sale

MODEL_FIELDS = ("activity_tier", "value_tier", "loyalty", "pyramid")


def _model(leaf: Leaf) -> Q:
    if leaf.node["model"] not in MODEL_FIELDS:
        raise FilterError(_("%(where)s: model must be one of %(names)s") % {"where": leaf.where, "names": ", ".join(MODEL_FIELDS)})
    rows = MemberModel.objects.filter(workspace=leaf.workspace, **{leaf.node["model"]: leaf.node.get("value")})
    return Q(pk__in=leaf.restrict(rows).values("member_id"))


def _bought(leaf: Leaf) -> Q:
    return Q(pk__in=leaf.restrict(Sale.objects.filter(
        workspace=leaf.workspace, product=str(leaf.node["bought"]), member__isnull=False,
        refunded_cents__lt=F("amount_cents"))).values("member_id"))


def _campaign(leaf: Leaf) -> Q:
    rows = CampaignTouch.objects.filter(member__workspace=leaf.workspace, campaign=str(leaf.node["campaign"]))
    return Q(pk__in=leaf.restrict(rows).values("member_id"))


CONDITIONS = (
    Condition(
        key="model", compile=_model, app="analytics", time_dependent=True,
        examples=('{"model": "activity_tier", "value": "silent"}',),
        meaning="a tier or type from analytics (" + ", ".join(f"`{name}`" for name in MODEL_FIELDS) + ")",
    ),
    Condition(key="bought", compile=_bought, app="analytics", examples=('{"bought": "camp"}',),
              meaning="bought that product, not refunded in full"),
    Condition(key="campaign", compile=_campaign, app="analytics", examples=('{"campaign": "X3"}',),
              meaning="reached by that campaign"),
)
