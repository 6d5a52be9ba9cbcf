import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from siyu.members import privacy
from siyu.members.models import Member, MemberMerge
from tests.conftest import ev


def test_merge_and_privacy_commands(workspace, ingest, tmp_path):
    ingest([ev("group.joined", 1, actor="ann", group="g"), ev("group.joined", 2, actor="anne", group="g", minutes=1)])
    first, second = Member.objects.filter(workspace=workspace).order_by("number")
    privacy.member_contacts_set(member=first, phone="13812345678")
    privacy.member_contacts_set(member=second, phone="138-1234-5678")
    out = StringIO()
    call_command("merge", "candidates", "--workspace", workspace.slug, stdout=out)
    assert f"#{first.number}" in out.getvalue() and "1 pair(s)" in out.getvalue()
    call_command("merge", "run", str(first.number), str(second.number), "--workspace", workspace.slug, stdout=out)
    merge = MemberMerge.objects.get()
    assert Member.objects.get(pk=second.pk).merged_into_id == first.pk
    call_command("merge", "undo", str(merge.pk), "--workspace", workspace.slug, stdout=out)
    assert Member.objects.get(pk=second.pk).merged_into_id is None
    with pytest.raises(CommandError):
        call_command("merge", "run", str(first.number), str(first.number), "--workspace", workspace.slug)
    target = tmp_path / "person.json"
    call_command("privacy", "export", str(first.number), "--workspace", workspace.slug, "--output", str(target), stderr=out)
    assert json.loads(target.read_text())["contacts"]["phone"] == "13812345678"
    call_command("privacy", "erase", str(first.number), "--workspace", workspace.slug, "--yes", "--reason", "asked", stdout=out)
    assert Member.objects.get(pk=first.pk).erased_at is not None
