"""What analytics holds about a person (members.personal), registered in AnalyticsConfig.ready()."""
from siyu.members.personal import Erasure, PersonalData

from .models import Invite


def _erase(erasure: Erasure) -> None:
    """Invites name their inviter by external id: it becomes the erased person's placeholder."""
    if not erasure.external_ids:
        return
    Invite.objects.filter(
        workspace_id=erasure.member.workspace_id, channel__in={c for c, _e in erasure.identities},
        inviter_external_id__in=erasure.external_ids,
    ).update(inviter_external_id=erasure.replacement_id)


PERSONAL_DATA = PersonalData(
    app="analytics",
    erase=_erase,
    merge_earliest={
        "analytics.CampaignTouch": ("first_at", ()),
        "analytics.Invite": ("invited_at", ("channel", "inviter_external_id")),
    },
)
