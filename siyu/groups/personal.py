"""What groups hold about a person (members.personal), registered in GroupsConfig.ready()."""
from typing import Any

from siyu.members.models import Member
from siyu.members.personal import Erasure, PersonalData

from .models import Membership, Strike, WelcomeBatch


def _group_stays(member: Member) -> list[dict[str, Any]]:
    return [
        {"group": m.group.name, "group_id": m.group_id, "role": m.role, "joined_at": m.joined_at, "left_at": m.left_at}
        for m in Membership.objects.filter(member=member).select_related("group").order_by("joined_at", "pk")
    ]


def _strikes(member: Member) -> list[Any]:
    return list(
        Strike.objects.filter(member=member).order_by("occurred_at")
        .values("rule_name", "number", "actions", "excerpt", "occurred_at", "undone_at")
    )


def _erase(erasure: Erasure) -> None:
    """Strikes keep no excerpt of what the person wrote; a queued welcome no longer names them."""
    member = erasure.member
    Strike.objects.filter(member=member).update(excerpt="")
    for batch in WelcomeBatch.objects.filter(workspace_id=member.workspace_id).exclude(newcomers=[]):
        newcomers = [erasure.person_scrub(p) for p in batch.newcomers]
        if newcomers != batch.newcomers:
            WelcomeBatch.objects.filter(pk=batch.pk).update(newcomers=newcomers)


PERSONAL_DATA = PersonalData(
    app="groups",
    export={"group_stays": _group_stays, "strikes": _strikes},
    erase=_erase,
    event_keys=frozenset({"excerpt"}),  # a strike's excerpt of the message
)
