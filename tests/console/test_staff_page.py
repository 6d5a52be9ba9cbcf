"""The console's Staff page: roles changed through the one hierarchy service, owners unlock logins."""
from django.conf import settings

from siyu.core.models import AuditEntry, Role
from tests.core import test_roles

team = test_roles.team  # the fixture: owner, admin, operator and viewer of `workspace`
role_of = test_roles.role_of

PASSWORD = "pw-for-tests-123"


def post_role(client, workspace, user, role):
    return client.post(f"/w/{workspace.slug}/staff/{user.pk}/role/", {"role": role}, HTTP_ACCEPT_LANGUAGE="en", follow=True)


def test_the_page_offers_only_the_roles_one_may_give(client, workspace, team):
    client.force_login(team["admin"])
    html = client.get(f"/w/{workspace.slug}/staff/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    row = html.split('data-user="viewer"')[1].split("</tr>")[0]
    assert 'value="admin"' in row and 'value="owner"' not in row
    owner_row = html.split('data-user="owner"')[1].split("</tr>")[0]
    assert "<select" not in owner_row


def test_roles_change_through_the_hierarchy_and_refusals_are_said(client, workspace, team):
    client.force_login(team["admin"])
    assert "viewer is now Operator." in post_role(client, workspace, team["viewer"], "operator").content.decode()
    assert "above your own" in post_role(client, workspace, team["viewer"], "owner").content.decode()
    assert "at or above your own" in post_role(client, workspace, team["owner"], "viewer").content.decode()
    assert role_of(workspace, team["viewer"]) == "operator" and role_of(workspace, team["owner"]) == "owner"
    entry = AuditEntry.objects.get(action="staff_role")
    assert (entry.user, entry.data["via"], entry.data["to"]) == (team["admin"], "console", "operator")
    client.force_login(team["owner"])
    assert "keeps at least one owner" in post_role(client, workspace, team["owner"], "admin").content.decode()


def test_operators_and_viewers_cannot_use_the_page(client, workspace, team):
    for role in ("operator", "viewer"):
        client.force_login(team[role])
        assert client.get(f"/w/{workspace.slug}/staff/").status_code == 403
        assert client.post(f"/w/{workspace.slug}/staff/{team['viewer'].pk}/role/", {"role": "admin"}).status_code == 403
    assert role_of(workspace, team["viewer"]) == "viewer"


def test_a_colleague_of_another_workspace_is_not_found(client, workspace, make_workspace, make_staff, team):
    stranger = make_staff(make_workspace(), Role.VIEWER, username="stranger")
    client.force_login(team["owner"])
    assert client.post(f"/w/{workspace.slug}/staff/{stranger.pk}/role/", {"role": "sales"}).status_code == 404
    assert client.post(f"/w/{workspace.slug}/staff/{stranger.pk}/unlock/").status_code == 404


def test_an_owner_unlocks_a_locked_colleague_an_admin_cannot(client, workspace, team):
    for n in range(50):
        client.post("/login/", {"username": "operator", "password": f"wrong-{n}"})
    assert client.post("/login/", {"username": "operator", "password": PASSWORD}).status_code == 429
    client.force_login(team["admin"])
    page = client.get(f"/w/{workspace.slug}/staff/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "locked out by failed logins" in page and "Unlock" not in page
    assert client.post(f"/w/{workspace.slug}/staff/{team['operator'].pk}/unlock/").status_code == 403
    client.force_login(team["owner"])
    page = client.post(f"/w/{workspace.slug}/staff/{team['operator'].pk}/unlock/", follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "operator can log in again." in page.content.decode()
    assert AuditEntry.objects.get(action="login_unlocked").data["via"] == "console"
    client.logout()
    assert client.post("/login/", {"username": "operator", "password": PASSWORD}).status_code == 302
    assert settings.AXES_FAILURE_LIMIT < 50
