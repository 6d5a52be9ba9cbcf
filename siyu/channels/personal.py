"""What the webhooks' dead letters hold about a person (members.personal), registered in ChannelsConfig.ready().

A dead letter is a raw payload, so it is found by the person's external ids appearing in it: an erasure
deletes every dead letter of the workspace that names one of them on its channel (replaying it later
would bring the person back).
"""
from django.db.models import Q, QuerySet

from siyu.members.personal import Erasure, PersonalData

from .models import DeadLetter


def _letters(workspace_id: int, identities: list[tuple[str, str]]) -> "QuerySet[DeadLetter]":
    match = Q(pk__in=[])
    for channel, external_id in identities:
        match |= Q(channel=channel, payload__contains=external_id)
    return DeadLetter.objects.filter(match, workspace_id=workspace_id)


def _export(member):
    identities = list(member.identities.values_list("channel", "external_id"))
    return list(_letters(member.workspace_id, identities).order_by("received_at").values("channel", "received_at", "error", "payload"))


def _erase(erasure: Erasure) -> None:
    _letters(erasure.member.workspace_id, list(erasure.identities)).delete()


PERSONAL_DATA = PersonalData(app="channels", export={"webhook_dead_letters": _export}, erase=_erase)
