"""The rooms' member names the Matrix sync keeps are a person's data: in their export, gone with an erasure."""
import json

import pytest

from siyu.channels.matrix.models import MatrixAccount, MatrixMemberName
from siyu.members import privacy
from siyu.members.models import Member

pytestmark = pytest.mark.django_db


def test_a_persons_room_names_are_exported_and_erased(workspace, ingest):
    account = MatrixAccount.objects.create(workspace=workspace, homeserver="http://127.0.0.1:1", user_id="@bot:localhost")
    ingest([{"type": "group.joined", "source_id": "$j1", "occurred_at": "2026-12-01T10:00:00+00:00",
             "actor": {"id": "@carol:localhost", "name": "Carol"}, "group": {"id": "!r:localhost", "name": "群"}}],
           source="matrix")
    for user_id, name in (("@carol:localhost", "Carol Chen"), ("@dan:localhost", "Dan")):
        MatrixMemberName.objects.create(account=account, room_id="!r:localhost", user_id=user_id, display_name=name)
    carol = Member.objects.get(workspace=workspace, identities__external_id="@carol:localhost")

    exported = json.loads(privacy.member_data_export(member=carol))
    assert exported["matrix_room_names"] == [{"room_id": "!r:localhost", "display_name": "Carol Chen"}]
    privacy.member_erase(member=carol, reason="")
    assert list(MatrixMemberName.objects.values_list("user_id", flat=True)) == ["@dan:localhost"]
