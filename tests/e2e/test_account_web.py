"""Account screens in a real browser: change the password, sign in with it, delete the account."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, axe_violations
from tests.e2e.test_web import PASSWORD, _context, _sign_up

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEW_PASSWORD = "staple-orbit-lantern-97"


def _can_sign_in(server: LiveServer, email: str, password: str) -> bool:
    response = httpx.post(
        server.url + "/api/auth/login", data={"username": email, "password": password}, timeout=10
    )
    return response.status_code == 200


def test_change_password_sign_in_with_it_and_delete_the_account(
    live_server: LiveServer, browser: Any, artifacts: Path, axe: Path
) -> None:
    email = "grace@example.org"
    context = _context(browser, live_server)
    page = context.new_page()
    try:
        _sign_up(page, email)
        page.get_by_role("navigation", name="Account").get_by_role(
            "link", name="Change password"
        ).click()
        page.get_by_role("heading", name="Change password").wait_for()
        assert axe_violations(page) == []

        # A wrong current password is refused with the server's reason, nothing changes.
        page.get_by_label("Current password").fill("not-my-password")
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        page.get_by_role("alert").filter(has_text="current password is wrong").wait_for()

        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_role("button", name="Change password").click()
        page.get_by_role("status").filter(has_text="Password changed").wait_for()
        page.screenshot(path=artifacts / "20-password-changed.png", full_page=True)
        assert not _can_sign_in(live_server, email, PASSWORD)
        assert _can_sign_in(live_server, email, NEW_PASSWORD)

        # This session goes on with its new token; sign out and back in with the new password.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_function("() => localStorage.getItem('deepverify.token') === null")
        # The header's push to /login/ and this page's own sign-in redirect (?next=) race; start
        # from a fresh sign-in page so the form is not replaced while it is being filled.
        page.goto("/login/")
        page.get_by_role("heading", name="Sign in").wait_for()
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.get_by_role("heading", name="Check a video").wait_for()

        page.get_by_role("link", name="Delete account").click()
        page.get_by_role("heading", name="Delete account").wait_for()
        assert axe_violations(page) == []
        page.get_by_label("Your password").fill(PASSWORD)  # the old one
        page.get_by_role("button", name="Delete my account").click()
        page.get_by_role("alert").filter(has_text="password is wrong").wait_for()
        assert _can_sign_in(live_server, email, NEW_PASSWORD)

        page.get_by_label("Your password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Delete my account").click()
        page.wait_for_url(re.compile(r"/login/\?deleted=1"))
        page.get_by_role("status").filter(has_text="account and its videos were deleted").wait_for()
        page.screenshot(path=artifacts / "21-account-deleted.png", full_page=True)
        assert page.evaluate("() => localStorage.getItem('deepverify.token')") is None
        assert not _can_sign_in(live_server, email, NEW_PASSWORD)
    finally:
        context.close()
