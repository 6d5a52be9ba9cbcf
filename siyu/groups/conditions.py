"""The segment conditions over groups (members.filters), registered in GroupsConfig.ready()."""
from django.db.models import Q
from django.utils.translation import gettext as _

from siyu.members.filters import Condition, FilterError, Leaf

from .models import GroupKind, Membership


def _group(leaf: Leaf) -> Q:
    group = leaf.node["group"]
    if isinstance(group, bool) or not isinstance(group, int):
        raise FilterError(_("%(where)s: group must be a group id") % {"where": leaf.where})
    return Q(pk__in=leaf.restrict(Membership.objects.filter(group_id=group, left_at__isnull=True)).values("member_id"))


def _group_kind(leaf: Leaf) -> Q:
    return Q(pk__in=leaf.restrict(Membership.objects.filter(
        group__workspace=leaf.workspace, group__kind=leaf.node["group_kind"], left_at__isnull=True)).values("member_id"))


CONDITIONS = (
    Condition(key="group", compile=_group, app="groups", examples=('{"group": 3}',), meaning="in group 3 now"),
    Condition(
        key="group_kind", compile=_group_kind, app="groups", examples=('{"group_kind": "perks"}',),
        meaning="in a group of that kind now (" + ", ".join(f"`{kind}`" for kind in GroupKind.values) + ")",
    ),
)
