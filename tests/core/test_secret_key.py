"""The secret key (issue 14.5): a local key of its own, refused placeholders in production, rotation."""
import os
import stat
import subprocess
import sys

import pytest
from django.core.management.utils import get_random_secret_key
from django.db import connection

from siyu.core.checks import secret_key_check
from siyu.core.fields import UNREADABLE
from siyu.core.secret_key import LEGACY_KEY, secret_key_local
from siyu.core.secrets import _fernet_for
from siyu.links.refs import member_ref, member_ref_read
from siyu.members.models import Member
from tests.conftest import ROOT

PRINT_KEYS = "from django.conf import settings; print(settings.SECRET_KEY); print(settings.SECRET_KEY_FALLBACKS)"


def siyu_python(code, *, var_dir, settings_module="siyu.settings.base", **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    environ.update(DJANGO_SETTINGS_MODULE=settings_module, SIYU_VAR_DIR=str(var_dir), **env)
    code = f"import django; django.setup(); {code}" if code.startswith("from django.conf") else code
    return subprocess.run([sys.executable, "-c", code], env=environ, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_without_a_key_each_install_makes_its_own_on_first_run_and_keeps_it(tmp_path):
    first = siyu_python(PRINT_KEYS, var_dir=tmp_path / "a")
    assert first.returncode == 0, first.stderr
    key = first.stdout.splitlines()[0]
    assert len(key) >= 50 and key != LEGACY_KEY
    path = tmp_path / "a" / "secret_key"
    assert path.read_text().strip() == key and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert siyu_python(PRINT_KEYS, var_dir=tmp_path / "a").stdout.splitlines()[0] == key
    assert siyu_python(PRINT_KEYS, var_dir=tmp_path / "b").stdout.splitlines()[0] != key


def test_processes_starting_together_agree_on_the_new_key(tmp_path):
    processes = [subprocess.Popen([sys.executable, "-c", f"from siyu.core.secret_key import secret_key_local; "
                                   f"print(secret_key_local({str(tmp_path)!r}))"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for _ in range(6)]
    keys = {p.communicate(timeout=60)[0].strip() for p in processes}
    assert keys == {secret_key_local(tmp_path)}
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_fallbacks_come_from_the_environment(tmp_path):
    done = siyu_python(PRINT_KEYS, var_dir=tmp_path, SIYU_SECRET_KEY="k" * 10 + get_random_secret_key(),
                       SIYU_SECRET_KEY_FALLBACKS="old-key-one, old-key-two")
    assert done.stdout.splitlines()[1] == "['old-key-one', 'old-key-two']"


@pytest.mark.parametrize("key", [None, "x", LEGACY_KEY, "…long random…", "django-insecure-" + "a1b2c3" * 9, "ab" * 40])
def test_production_settings_refuse_a_missing_short_or_published_key(tmp_path, key):
    env = {} if key is None else {"SIYU_SECRET_KEY": key}
    done = siyu_python(PRINT_KEYS, var_dir=tmp_path, settings_module="siyu.settings.prod", **env)
    assert done.returncode != 0 and "ImproperlyConfigured" in done.stderr and "SIYU_SECRET_KEY" in done.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_settings_refuse_a_published_fallback(tmp_path):
    done = siyu_python(PRINT_KEYS, var_dir=tmp_path, settings_module="siyu.settings.prod",
                       SIYU_SECRET_KEY=get_random_secret_key(), SIYU_SECRET_KEY_FALLBACKS=LEGACY_KEY)
    assert done.returncode != 0 and "SIYU_SECRET_KEY_FALLBACKS" in done.stderr


def test_production_settings_take_a_proper_key(tmp_path):
    key = get_random_secret_key()
    done = siyu_python(PRINT_KEYS, var_dir=tmp_path, settings_module="siyu.settings.prod", SIYU_SECRET_KEY=key)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == key


def test_the_deploy_check_flags_a_published_short_or_missing_key(settings, monkeypatch):
    settings.SECRET_KEY = LEGACY_KEY
    assert [m.id for m in secret_key_check(None)] == ["siyu.E001"]
    settings.SECRET_KEY = "short"
    assert [m.id for m in secret_key_check(None)] == ["siyu.E001"]
    settings.SECRET_KEY = get_random_secret_key()
    assert secret_key_check(None) == []
    monkeypatch.delenv("SIYU_SECRET_KEY")  # the key came from var/secret_key: fine on one machine, flagged for deploy
    assert [m.id for m in secret_key_check(None)] == ["siyu.W001"]
    settings.SECRET_KEY_FALLBACKS = [LEGACY_KEY]
    assert [m.id for m in secret_key_check(None)] == ["siyu.W001", "siyu.E002"]


def test_check_deploy_lists_the_key_problem(tmp_path):
    done = subprocess.run([sys.executable, "-m", "siyu.cli", "check", "--deploy"], cwd=ROOT, capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))},
                               "SIYU_VAR_DIR": str(tmp_path), "SIYU_SECRET_KEY": LEGACY_KEY}, timeout=60)
    assert "siyu.E001" in done.stderr and "published placeholder" in done.stderr and done.returncode != 0


def stored(member, field):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {field} FROM members_member WHERE id = %s", [member.pk])
        return cursor.fetchone()[0]


def test_a_rotated_key_still_reads_old_contacts_and_writes_new_ones_under_the_new_key(workspace, settings):
    member = Member.objects.create(workspace=workspace, number=1, phone="13800138000")
    old_key, new_key = settings.SECRET_KEY, get_random_secret_key()
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new_key, [old_key]
    member = Member.objects.get(pk=member.pk)
    assert member.phone == "13800138000"
    member.save()
    assert _fernet_for(new_key).decrypt(stored(member, "phone").encode()) == b"13800138000"
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired: what was written since still reads
    assert Member.objects.get(pk=member.pk).phone == "13800138000"


def test_a_key_that_is_gone_reads_as_unreadable(workspace, settings):
    member = Member.objects.create(workspace=workspace, number=1, phone="13800138000")
    settings.SECRET_KEY = get_random_secret_key()
    assert Member.objects.get(pk=member.pk).phone == UNREADABLE


def test_contacts_stored_under_the_old_fixed_key_still_read(workspace):
    member = Member.objects.create(workspace=workspace, number=1)
    token = _fernet_for(LEGACY_KEY).encrypt(b"13800138000").decode()
    with connection.cursor() as cursor:  # as an install before the generated key wrote it (not through the field)
        cursor.execute("UPDATE members_member SET phone = %s WHERE id = %s", [token, member.pk])
    assert Member.objects.get(pk=member.pk).phone == "13800138000"


def test_member_references_signed_with_a_fallback_key_still_read(workspace, settings):
    member = Member.objects.create(workspace=workspace, number=1)
    ref = member_ref(member)
    settings.SECRET_KEY = get_random_secret_key()
    assert member_ref_read(ref, workspace) is None
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY, get_random_secret_key()]
    assert member_ref_read(ref, workspace) is None
    settings.SECRET_KEY_FALLBACKS = [get_random_secret_key(), os.environ["SIYU_SECRET_KEY"]]
    assert member_ref_read(ref, workspace) == member.pk
    assert member_ref(member) != ref  # new references are signed with the new key


def test_the_demo_refuses_to_run_under_production_settings(tmp_path):
    done = subprocess.run([sys.executable, "-m", "siyu.cli", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))},
                               "DJANGO_SETTINGS_MODULE": "siyu.settings.prod", "SIYU_VAR_DIR": str(tmp_path),
                               "SIYU_SECRET_KEY": get_random_secret_key()})
    assert done.returncode != 0 and "refuses to run under production settings" in done.stderr
    assert "Demo logins" not in done.stdout


def test_after_a_rotation_members_are_still_found_by_phone_and_an_import_updates_them(workspace, settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from siyu.members.privacy import member_contacts_set, member_find_by_phone

    member = Member.objects.create(workspace=workspace, number=1, display_name="王小明")
    member_contacts_set(member=member, phone="13800138000")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = get_random_secret_key()
    assert list(member_find_by_phone(workspace=workspace, phone="138 0013 8000")) == [member]
    path = tmp_path / "members.csv"
    path.write_text("姓名,手机号,城市\n王小明,13800138000,北京\n", encoding="utf-8")
    out = StringIO()
    call_command("members", "import", str(path), "--workspace", workspace.slug, verbosity=0, stdout=out)
    assert "0 new members, 1 updated" in out.getvalue()
    assert Member.objects.get(pk=member.pk).city == "北京"
