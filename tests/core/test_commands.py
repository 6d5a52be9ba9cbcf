from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from siyu.core.models import StaffRole, Workspace


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_workspace_is_created_with_its_owner_and_staff_are_added(db):
    assert "created workspace spark" in run("workspace", "create", "--slug", "spark", "--name", "星火学堂", "--owner", "li", "--password", "a-long-password")
    assert get_user_model().objects.get(username="li").check_password("a-long-password")
    run("workspace", "staff", "--workspace", "spark", "--user", "wang", "--role", "sales", "--password", "another-password")
    roles = dict(StaffRole.objects.filter(workspace__slug="spark").values_list("user__username", "role"))
    assert roles == {"li": "owner", "wang": "sales"}
    assert "li (owner), wang (sales)" in run("workspace", "list")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--slug", "spark", "--name", "x", "--time-zone", "Mars/Olympus"], "not a known time zone"),
        (["--slug", "bad slug", "--name", "x"], "slug"),
        (["--slug", "spark", "--name", "x", "--owner", "nobody"], "give --password"),
    ],
)
def test_bad_workspace_input_is_explained_and_nothing_is_created(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("workspace", "create", *args)
    assert not Workspace.objects.exists()


def test_a_taken_slug_and_an_unknown_workspace_are_refused(db):
    run("workspace", "create", "--slug", "spark", "--name", "x")
    with pytest.raises(CommandError, match="already exists"):
        run("workspace", "create", "--slug", "spark", "--name", "y")
    with pytest.raises(CommandError, match="Unknown workspace"):
        run("workspace", "staff", "--workspace", "nope", "--user", "li", "--role", "viewer", "--password", "pw-123456789")
