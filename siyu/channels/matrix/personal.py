"""What the Matrix channel holds about a person (members.personal), registered in MatrixConfig.ready()."""
from siyu.members.personal import PersonalData

from .models import MatrixMemberName


def _matrix_ids(member):
    return list(member.identities.filter(channel="matrix").values_list("external_id", flat=True))


def _room_names(member):
    return list(
        MatrixMemberName.objects.filter(account__workspace_id=member.workspace_id, user_id__in=_matrix_ids(member))
        .order_by("room_id").values("room_id", "display_name")
    )


def _erase(erasure):
    """The rooms' member names of the person are forgotten (a later member event stores them again)."""
    user_ids = [external_id for channel, external_id in erasure.identities if channel == "matrix"]
    MatrixMemberName.objects.filter(account__workspace_id=erasure.member.workspace_id, user_id__in=user_ids).delete()


PERSONAL_DATA = PersonalData(app="matrix", export={"matrix_room_names": _room_names}, erase=_erase)
