"""The segment conditions over links (members.filters), registered in LinksConfig.ready()."""
from django.db.models import Q

from siyu.core.events import EventType
from siyu.core.models import Event
from siyu.members.filters import Condition, Leaf


def _clicked(leaf: Leaf) -> Q:
    return Q(pk__in=leaf.restrict(Event.objects.filter(
        workspace=leaf.workspace, type=EventType.LINK_CLICKED, member__isnull=False, data__link=leaf.node["clicked"]
    )).values("member_id"))


CONDITIONS = (
    Condition(key="clicked", compile=_clicked, app="links", examples=('{"clicked": 7}',),
              meaning="visited link 7 (a channel code's link too)"),
)
