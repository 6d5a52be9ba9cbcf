"""Login throttling (issue 14.8): by username and by client address, a cool-down, a translated message,
lockouts audited, an owner (console or CLI) unlocks a colleague."""
from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import CommandError, call_command

from siyu.core.models import AuditEntry, Role

PASSWORD = "pw-for-tests-123"


def login(client, username, password, *, address="10.0.0.1", path="/login/", language="en"):
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language
    )


def logged_in(client):
    return "_auth_user_id" in client.session


def test_fifty_wrong_passwords_lock_the_login_for_the_cool_down(client, workspace, make_staff):
    make_staff(workspace, Role.SALES, username="wang")
    statuses = [login(client, "wang", f"wrong-{n}").status_code for n in range(50)]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, "wrong password"
    assert set(statuses[limit - 1:]) == {429}
    page = login(client, "wang", PASSWORD)
    assert page.status_code == 429 and not logged_in(client)
    assert "Too many failed logins for this account or from this address. Try again in 15 minutes" in page.content.decode()
    # From another address too: the username is locked, not only the address.
    assert login(client, "wang", PASSWORD, address="10.9.9.9").status_code == 429 and not logged_in(client)
    # The cool-down counts from the last failure; once it has passed the right password works.
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert login(client, "wang", PASSWORD).status_code == 302 and logged_in(client)


def test_one_address_trying_many_usernames_is_locked(client, workspace, make_staff):
    make_staff(workspace, Role.SALES, username="wang")
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess{n}", "wrong", address="10.0.0.7")
    assert login(client, "wang", PASSWORD, address="10.0.0.7").status_code == 429 and not logged_in(client)
    assert login(client, "wang", PASSWORD, address="10.0.0.8").status_code == 302 and logged_in(client)


def test_the_lockout_message_is_translated_and_the_admin_login_is_throttled_too(client, workspace, make_staff):
    make_staff(workspace, Role.ADMIN, username="li")
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, "li", f"wrong-{n}", path="/admin/login/")
    page = login(client, "li", PASSWORD, path="/admin/login/", language="zh-CN,zh;q=0.9")
    assert page.status_code == 429 and not logged_in(client)
    assert "登录失败次数过多" in page.content.decode()


def test_a_lockout_is_audited_once_in_each_workspace_of_the_login(client, make_workspace, make_staff):
    first, second = make_workspace(), make_workspace()
    user = make_staff(first, Role.SALES, username="wang")
    make_staff(second, Role.VIEWER, username="wang")
    for n in range(30):
        login(client, "wang", f"wrong-{n}")
    rows = AuditEntry.objects.filter(action="login_locked").order_by("workspace_id")
    assert [(r.workspace_id, r.subject, r.data["username"], r.data["address"]) for r in rows] == [
        (first.pk, f"user:{user.pk}", "wang", "10.0.0.1"), (second.pk, f"user:{user.pk}", "wang", "10.0.0.1"),
    ]


def unlock(*args):
    out = StringIO()
    call_command("workspace", "unlock", *args, stdout=out)
    return out.getvalue()


def test_the_cli_unlocks_a_colleague_and_only_an_owner_may(client, workspace, make_staff):
    make_staff(workspace, Role.OWNER, username="li")
    make_staff(workspace, Role.ADMIN, username="zhao")
    make_staff(workspace, Role.SALES, username="wang")
    for n in range(50):
        login(client, "wang", f"wrong-{n}")
    with pytest.raises(CommandError, match="Only an owner"):
        unlock("--workspace", workspace.slug, "--user", "wang", "--by", "zhao")
    assert login(client, "wang", PASSWORD).status_code == 429
    assert "wang can log in again" in unlock("--workspace", workspace.slug, "--user", "wang", "--by", "li")
    assert login(client, "wang", PASSWORD).status_code == 302 and logged_in(client)
    entry = AuditEntry.objects.get(action="login_unlocked")
    assert (entry.user.username, entry.data["username"], entry.data["via"]) == ("li", "wang", "cli")


def test_an_owner_cannot_unlock_someone_outside_their_workspace(workspace, make_workspace, make_staff):
    make_staff(workspace, Role.OWNER, username="li")
    make_staff(make_workspace(), Role.SALES, username="stranger")
    with pytest.raises(CommandError, match="no role in this workspace"):
        unlock("--workspace", workspace.slug, "--user", "stranger", "--by", "li")
