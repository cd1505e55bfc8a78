"""Production settings and migrations, checked the way an operator would."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production(tmp_path: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "tierhub.settings.production",
        "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijkl",
        "ALLOWED_HOSTS": "tierhub.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def test_production_settings_pass_check_deploy(tmp_path):
    # django-csp's own checks (csp.E001 old-style settings, csp.E002) run here too.
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **_production(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# Run in a production process: the response headers of the site's root (a redirect to the
# admin: a page would need collectstatic's manifest first), as JSON on the last line.
PAGE_HEADERS = """
import json
from django.test import Client
response = Client().get("/", secure=True, headers={"host": "tierhub.example.com"})
print(json.dumps({"status": response.status_code, **response.headers}))
"""

PRODUCTION_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def test_production_enforces_the_content_security_policy(tmp_path):
    result = _manage("shell", "-c", PAGE_HEADERS, **_production(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert headers["status"] == 302
    assert "Content-Security-Policy-Report-Only" not in headers  # enforced, not just reported
    directives = dict(
        part.strip().partition(" ")[::2] for part in headers["Content-Security-Policy"].split(";")
    )
    assert directives == PRODUCTION_POLICY


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            **env,
            "DJANGO_SETTINGS_MODULE": "tierhub.settings.production",
            "ALLOWED_HOSTS": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_models_and_migrations_agree():
    result = _manage("makemigrations", "--check", "--dry-run")

    assert result.returncode == 0, result.stdout + result.stderr
