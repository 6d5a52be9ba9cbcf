"""The member export's "Groups now" column (members.exports), registered in GroupsConfig.ready()."""
from collections import defaultdict
from collections.abc import Iterable

from django.utils.translation import gettext as _

from siyu.members.exports import ExportColumn

from .models import Membership


def _groups_now(member_ids: Iterable[int]) -> dict[int, str]:
    groups: defaultdict[int, list[str]] = defaultdict(list)
    for member_id, name in Membership.objects.filter(member_id__in=member_ids, left_at__isnull=True).order_by(
        "group__name"
    ).values_list("member_id", "group__name"):
        groups[member_id].append(name)
    return {member_id: "、".join(names) for member_id, names in groups.items()}


GROUPS_NOW = ExportColumn(key="groups_now", title=lambda: _("Groups now"), cells=_groups_now)
