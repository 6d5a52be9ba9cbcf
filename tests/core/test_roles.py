"""The role hierarchy (issue 14.2), through the admin's own forms and through the CLI.

Nobody grants a role above their own or changes someone at or above their own, a workspace always keeps
an owner, and every change is audited.
"""
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from siyu.core.models import AuditEntry, Role, StaffRole
from siyu.core.services import staff_user_ensure


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def team(workspace, make_staff):
    return {role: make_staff(workspace, role, username=role) for role in ("owner", "admin", "operator", "viewer")}


def role_of(workspace, user):
    return StaffRole.objects.get(workspace=workspace, user=user).role


def change_form(client, workspace, user, role):
    staff = StaffRole.objects.get(workspace=workspace, user=user)
    return client.post(f"/admin/core/staffrole/{staff.pk}/change/", {"role": role}, HTTP_ACCEPT_LANGUAGE="en")


def audits(workspace):
    return list(AuditEntry.objects.filter(workspace=workspace, action="staff_role").values_list("user__username", "data"))


def test_an_admin_cannot_promote_themselves_to_owner_in_the_admin(client, workspace, team):
    client.force_login(team["admin"])
    page = change_form(client, workspace, team["admin"], "owner")
    assert page.status_code == 200
    assert "You cannot grant a role above your own (Admin)." in page.content.decode()
    assert role_of(workspace, team["admin"]) == "admin"
    assert audits(workspace) == []


def test_an_admin_cannot_demote_the_owner_or_another_admin(client, workspace, team, make_staff):
    other_admin = make_staff(workspace, Role.ADMIN, username="admin2")
    client.force_login(team["admin"])
    for target in (team["owner"], other_admin):
        page = change_form(client, workspace, target, "viewer")
        assert page.status_code == 200
        assert "at or above your own" in page.content.decode()
    assert role_of(workspace, team["owner"]) == "owner" and role_of(workspace, other_admin) == "admin"


def test_an_admin_changes_roles_below_their_own_and_it_is_audited(client, workspace, team):
    client.force_login(team["admin"])
    assert change_form(client, workspace, team["viewer"], "operator").status_code == 302
    assert change_form(client, workspace, team["operator"], "sales").status_code == 302
    assert role_of(workspace, team["viewer"]) == "operator" and role_of(workspace, team["operator"]) == "sales"
    assert audits(workspace) == [
        ("admin", {"username": "viewer", "from": "viewer", "to": "operator", "via": "admin"}),
        ("admin", {"username": "operator", "from": "operator", "to": "sales", "via": "admin"}),
    ]


def test_the_admin_add_form_keeps_to_the_hierarchy(client, workspace, make_workspace, team, make_staff):
    # A colleague from another workspace the admin runs can be added, but not above the admin's own role.
    other = make_workspace()
    newcomer = make_staff(other, Role.VIEWER, username="newcomer")
    StaffRole.objects.create(workspace=other, user=team["admin"], role=Role.ADMIN)
    client.force_login(team["admin"])
    form = {"workspace": workspace.pk, "user": newcomer.pk, "role": "owner"}
    page = client.post("/admin/core/staffrole/add/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "above your own" in page.content.decode()
    assert not StaffRole.objects.filter(workspace=workspace, user=newcomer).exists()
    assert client.post("/admin/core/staffrole/add/", {**form, "role": "operator"}).status_code == 302
    assert role_of(workspace, newcomer) == "operator"
    assert audits(workspace) == [("admin", {"username": "newcomer", "from": None, "to": "operator", "via": "admin"})]


def test_the_last_owner_cannot_step_down_but_one_of_two_can(client, workspace, team, make_staff):
    client.force_login(team["owner"])
    page = change_form(client, workspace, team["owner"], "admin")
    assert page.status_code == 200 and "keeps at least one owner" in page.content.decode()
    assert role_of(workspace, team["owner"]) == "owner"
    # An owner may make another owner, and then step down; the new owner cannot demote the first one.
    assert change_form(client, workspace, team["admin"], "owner").status_code == 302
    client.force_login(team["admin"])
    assert "at or above your own" in change_form(client, workspace, team["owner"], "viewer").content.decode()
    client.force_login(team["owner"])
    assert change_form(client, workspace, team["owner"], "admin").status_code == 302
    assert role_of(workspace, team["owner"]) == "admin" and role_of(workspace, team["admin"]) == "owner"


def test_a_superuser_may_change_anyone_but_not_remove_the_last_owner(client, workspace, team, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="pw-for-tests-123")
    client.force_login(root)
    assert "keeps at least one owner" in change_form(client, workspace, team["owner"], "viewer").content.decode()
    assert change_form(client, workspace, team["viewer"], "owner").status_code == 302
    assert change_form(client, workspace, team["owner"], "viewer").status_code == 302
    assert role_of(workspace, team["owner"]) == "viewer" and role_of(workspace, team["viewer"]) == "owner"


def test_a_viewer_has_no_admin_and_an_operator_cannot_reach_roles(client, workspace, team):
    for role in ("viewer", "operator"):
        client.force_login(team[role])
        assert change_form(client, workspace, team["viewer"], "owner").status_code == 302  # to the admin login
    assert role_of(workspace, team["viewer"]) == "viewer"


def cli(*args):
    out = StringIO()
    call_command("workspace", "staff", *args, stdout=out)
    return out.getvalue()


def test_the_cli_keeps_the_last_owner_and_audits(workspace, team):
    with pytest.raises(CommandError, match="keeps at least one owner"):
        cli("--workspace", workspace.slug, "--user", "owner", "--role", "admin")
    assert "viewer is sales" in cli("--workspace", workspace.slug, "--user", "viewer", "--role", "sales")
    assert audits(workspace) == [(None, {"username": "viewer", "from": "viewer", "to": "sales", "via": "cli"})]


def test_the_cli_acting_as_someone_keeps_to_their_role(workspace, team):
    base = ["--workspace", workspace.slug, "--by", "admin"]
    with pytest.raises(CommandError, match="above your own"):
        cli(*base, "--user", "admin", "--role", "owner")
    with pytest.raises(CommandError, match="at or above your own"):
        cli(*base, "--user", "owner", "--role", "viewer")
    staff_user_ensure(username="outsider", password="pw-for-tests-123")
    with pytest.raises(CommandError, match="no role in this workspace"):
        cli("--workspace", workspace.slug, "--by", "outsider", "--user", "viewer", "--role", "sales")
    with pytest.raises(CommandError, match="Unknown user"):
        cli("--workspace", workspace.slug, "--by", "nobody-here", "--user", "viewer", "--role", "sales")
    # A refused new login is not left behind.
    with pytest.raises(CommandError, match="above your own"):
        cli(*base, "--user", "fresh", "--role", "owner", "--password", "pw-for-tests-123")
    assert not StaffRole.objects.filter(user__username="fresh").exists()
    assert not get_user_model().objects.filter(username="fresh").exists()
    cli(*base, "--user", "fresh", "--role", "operator", "--password", "pw-for-tests-123")
    assert role_of(workspace, get_user_model().objects.get(username="fresh")) == "operator"


def test_the_admin_login_page_works_for_someone_not_logged_in(client, db):
    assert client.get("/admin/login/").status_code == 200
    assert client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 200
