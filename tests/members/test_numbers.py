"""Member numbers (学号) stay unique and gap-free with two writers in separate processes."""
import subprocess
import sys

import pytest

from siyu.members.models import Member
from tests.conftest import ROOT, child_env

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

WRITER = """
import sys, django
django.setup()
from siyu.core.ingest import events_ingest
from siyu.core.models import Workspace
workspace, tag = Workspace.objects.get(slug=sys.argv[1]), sys.argv[2]
for batch in range(15):
    events_ingest(workspace=workspace, source="simulator", events=[
        {"type": "group.joined", "source_id": f"{tag}-{batch}-{i}", "occurred_at": "2026-03-01T20:00:00+08:00",
         "actor": {"id": f"{tag}-{batch}-{i}"}, "group": {"id": "!shared-group"}}
        for i in range(100)
    ])
"""


def test_two_concurrent_writers_never_share_or_skip_a_number(workspace):
    env = child_env()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, workspace.slug, tag], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
    numbers = sorted(Member.objects.filter(workspace=workspace).values_list("number", flat=True))
    assert numbers == list(range(1, 3001))
    workspace.refresh_from_db()
    assert workspace.member_number_seq == 3000
