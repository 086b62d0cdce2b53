"""Accounts users control: throttled sign-in, password policy, revoking logout, password change,
account deletion, one account per e-mail whatever its Unicode spelling."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from deepverify.service.api.deps import Throttles
from deepverify.service.core import storage
from deepverify.service.core.throttle import Throttle, throttle_storage
from tests.service.conftest import PASSWORD, need_service, sign_up, upload, wait_for

NEW_PASSWORD = "violet tangerine submarine"


def _login(client, email: str, password: str):
    return client.post("/api/auth/login", data={"username": email, "password": password})


def _bearer(response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_wrong_passwords_lock_the_account_with_429_and_retry_after(client, settings):
    sign_up(client, "victim@example.com")
    limit = settings.login_max_failures_per_account
    for _ in range(limit):
        assert _login(client, "victim@example.com", "guess").status_code == 401
    locked = _login(client, "victim@example.com", PASSWORD)  # even the right one, for now
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "too many failed attempts" in locked.json()["detail"]
    # Look-alike spellings of the address are the same account, hence locked too.
    assert _login(client, "VICTIM@example.com", PASSWORD).status_code == 429


def test_one_address_cannot_try_many_accounts(make_settings, fake_analyzer):
    from fastapi.testclient import TestClient

    from deepverify.service.main import create_app

    settings = make_settings(login_max_failures_per_address=3)
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        for i in range(3):
            assert _login(client, f"user{i}@example.com", "guess").status_code == 401
        assert _login(client, "user9@example.com", "guess").status_code == 429


def test_the_window_slides():
    throttle = Throttle(name="t", max_failures=2, window_s=2, storage=throttle_storage(None))
    start = time.monotonic()
    throttle.failed("k")
    time.sleep(1.0)
    throttle.failed("k")
    assert throttle.retry_after("k") == 1  # locked until the first failure is 2 s old
    assert throttle.retry_after("other") == 0  # per key
    time.sleep(max(0.0, start + 2.2 - time.monotonic()))
    assert throttle.retry_after("k") == 0  # the first failure left the window ...
    throttle.failed("k")
    assert throttle.retry_after("k") == 1  # ... the second (0.8 s left) still counts
    throttle.clear("k")
    assert throttle.retry_after("k") == 0


def test_an_unreachable_redis_is_a_503_not_a_crash(make_settings, fake_analyzer):
    from fastapi.testclient import TestClient

    from deepverify.service.main import create_app

    settings = make_settings(broker_url="redis://:secret@127.0.0.1:1/0")  # nothing listens
    with TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer)) as client:
        response = _login(client, "anyone@example.com", "guess")
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert re.fullmatch(
        r"sign-in is unavailable: the server cannot reach its Redis \(\w+\); try again in a moment",
        detail,
    ), detail
    assert "secret" not in detail  # the broker URL's password stays out of the answer


@pytest.mark.redis
def test_api_processes_on_one_redis_broker_share_the_counts(make_settings, fake_analyzer):
    """Two apps (as two API processes) on one Redis broker: failures at one lock the other."""
    from fastapi.testclient import TestClient

    from deepverify.service.main import create_app

    redis_url = need_service("DEEPVERIFY_TEST_REDIS_URL")
    settings = make_settings(broker_url=redis_url, login_max_failures_per_account=3)
    throttles = Throttles.from_settings(settings)
    email = f"shared-{uuid.uuid4().hex[:8]}@example.com"  # this run's own account key
    first = TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer))
    second = TestClient(create_app(settings, analyzer_factory=lambda: fake_analyzer))
    try:
        with first, second:
            sign_up(first, email)
            for client in (first, second, first):
                assert _login(client, email, "guess").status_code == 401
            locked = _login(second, email, PASSWORD)  # 3 failures in all: locked at both
            assert locked.status_code == 429
            assert 1 <= int(locked.headers["Retry-After"]) <= settings.login_window_seconds
    finally:  # the counts outlive the test in Redis: leave none for other tests
        throttles.registration.clear("testclient")
        throttles.address.clear("testclient")
        throttles.account.clear(f"testclient {email}")


WEAK = r"this password is too weak \(.+\); use a longer phrase of several unrelated words"
FROM_E_MAIL = "the password must not contain your e-mail address or its parts"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", WEAK),
        ("12345678", WEAK),
        ("qwertyuiop", WEAK),
        ("alice@example.com", FROM_E_MAIL),
        ("alice2024!", FROM_E_MAIL),
        ("aliceexample", FROM_E_MAIL),
    ],
)
def test_weak_and_e_mail_derived_passwords_are_refused(client, password, reason):
    response = client.post(
        "/api/auth/register", json={"email": "alice@example.com", "password": password}
    )
    assert response.status_code == 400, response.text
    assert re.fullmatch(reason, response.json()["detail"]), response.json()["detail"]


@pytest.mark.parametrize(
    "variant",
    [
        "jose\u0301@example.com",
        "JOSÉ@example.com",
        "jo\u200bsé@example.com",
        "josé@example.com\ufeff",
    ],
)
def test_look_alike_e_mails_are_one_account(client, variant):
    sign_up(client, "jos\u00e9@example.com")
    again = client.post("/api/auth/register", json={"email": variant, "password": PASSWORD})
    assert again.status_code == 409
    assert _login(client, variant, PASSWORD).status_code == 200


def test_logout_revokes_the_token_for_the_api_and_the_media(client, clip_bytes):
    headers = sign_up(client, "leaving@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    wait_for(client, headers, video_id)
    page = f"/api/videos/{video_id}/report.html"
    assert client.get(page, headers=headers).status_code == 200
    assert client.post("/api/auth/logout", headers=headers).status_code == 200
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert client.get(page, headers=headers).status_code == 401
    fresh = _bearer(_login(client, "leaving@example.com", PASSWORD))
    assert client.get("/api/auth/me", headers=fresh).status_code == 200


def test_password_change_signs_out_other_sessions(client):
    phone = sign_up(client, "change@example.com")
    laptop = _bearer(_login(client, "change@example.com", PASSWORD))
    wrong = client.post(
        "/api/auth/password",
        headers=laptop,
        json={"current_password": "not it", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    weak = client.post(
        "/api/auth/password",
        headers=laptop,
        json={"current_password": PASSWORD, "new_password": "password1"},
    )
    assert weak.status_code == 400
    changed = client.post(
        "/api/auth/password",
        headers=laptop,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    assert client.get("/api/auth/me", headers=phone).status_code == 401
    assert client.get("/api/auth/me", headers=laptop).status_code == 401
    assert client.get("/api/auth/me", headers=_bearer(changed)).status_code == 200
    assert _login(client, "change@example.com", PASSWORD).status_code == 401
    assert _login(client, "change@example.com", NEW_PASSWORD).status_code == 200


def test_account_deletion_removes_videos_and_files(client, settings, clip_bytes):
    headers = sign_up(client, "gone@example.com")
    other = sign_up(client, "stays@example.com")
    video_id = upload(client, headers, clip_bytes(0)).json()["id"]
    kept = upload(client, other, clip_bytes(1)).json()["id"]
    wait_for(client, headers, video_id)
    wait_for(client, other, kept)
    uploads_before = {p.name for p in storage.uploads_dir(settings).iterdir() if p.is_file()}
    assert (storage.results_dir(settings) / video_id).is_dir() and len(uploads_before) == 2

    refused = client.request("DELETE", "/api/auth/me", headers=headers, json={"password": "no"})
    assert refused.status_code == 400
    deleted = client.request("DELETE", "/api/auth/me", headers=headers, json={"password": PASSWORD})
    assert deleted.status_code == 200
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert not (storage.results_dir(settings) / video_id).exists()
    assert len([p for p in storage.uploads_dir(settings).iterdir() if p.is_file()]) == 1
    assert (storage.results_dir(settings) / kept).is_dir()
    assert _login(client, "gone@example.com", PASSWORD).status_code == 401
