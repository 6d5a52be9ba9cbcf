"""What siyu.settings.prod sends (issue 14.11): HTTPS only, HSTS, a Content-Security-Policy, Referrer-Policy, secure
cookies; and `check --deploy` under production settings with a proper key is clean."""
import os
import subprocess
import sys

from django.core.management.utils import get_random_secret_key
from django.urls import reverse

from tests.conftest import ROOT, production_security_apply


def test_production_sends_the_security_headers_over_https(client, settings, make_staff, workspace):
    production_security_apply(settings)
    response = client.get(reverse("console:login"), secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_redirects_plain_http_and_trusts_the_proxy_header(client, settings):
    production_security_apply(settings)
    response = client.get("/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 200


def test_production_cookies_are_secure(client, settings, make_staff, workspace):
    production_security_apply(settings)
    make_staff(workspace, username="li.yun")
    page = client.get("/login/", secure=True)
    assert page.cookies["csrftoken"]["secure"] is True
    response = client.post("/login/", {"username": "li.yun", "password": "pw-for-tests-123"}, secure=True)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True and response.cookies["sessionid"]["httponly"] is True


def test_local_settings_send_no_policy_or_hsts(client):
    response = client.get("/login/")
    assert "Content-Security-Policy" not in response and "Strict-Transport-Security" not in response


def test_check_deploy_under_production_settings_with_a_proper_key_is_clean(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIYU_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="siyu.settings.prod", SIYU_VAR_DIR=str(tmp_path), SIYU_SECRET_KEY=get_random_secret_key(),
               SIYU_ALLOWED_HOSTS="scrm.example.com")
    done = subprocess.run([sys.executable, "-m", "siyu.cli", "check", "--deploy"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout, done.stdout + done.stderr
