"""'Sign in with <provider>' in a real browser: the authorization-code flow with PKCE against a
fake OIDC provider on loopback, ending with the API accepting the provider's JWT."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.e2e.conftest import LiveServer, serve
from tests.e2e.oidc_provider import FakeProvider, fake_provider

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "erin@idp.example.org"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with fake_provider(email=EMAIL) as running:
        yield running


@pytest.fixture(scope="module")
def oidc_server(
    chromium_path: Path,
    provider: FakeProvider,
    web_dir: Path,
    tiny_checkpoint: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    env = {
        "DEEPVERIFY_OIDC_ISSUER": provider.issuer,
        "DEEPVERIFY_OIDC_AUDIENCE": provider.audience,
        "DEEPVERIFY_OIDC_CLIENT_ID": provider.client_id,
        "DEEPVERIFY_OIDC_PROVIDER_NAME": "Test ID",
    }
    home = tmp_path_factory.mktemp("deepverify_oidc_home")
    with serve(web_dir=web_dir, model=tiny_checkpoint, home=home, env=env) as server:
        yield server


def test_sign_in_with_provider_uses_pkce_and_the_api_accepts_the_token(
    oidc_server: LiveServer, provider: FakeProvider, browser: Any, artifacts: Path
) -> None:
    context = browser.new_context(base_url=oidc_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/login/?next=/history/")
        button = page.get_by_role("button", name="Sign in with Test ID")
        button.wait_for()
        page.screenshot(path=artifacts / "13-login-oidc.png", full_page=True)
        button.click()

        # Back from the provider, signed in as the provider's user, where we were going.
        page.wait_for_url(re.compile(r"/history/$"))
        page.get_by_text(EMAIL).wait_for()
        page.get_by_text("No videos yet").wait_for()

        (request,) = provider.authorize_requests
        assert request["client_id"] == provider.client_id
        assert request["code_challenge_method"] == "S256"
        assert request["redirect_uri"] == f"{oidc_server.url}/auth/callback/"
        assert request["audience"] == provider.audience
        assert "openid" in request["scope"].split()
        assert provider.refused == []
        assert len(provider.issued) == 1
        # The stored bearer is the provider's access token for the API's audience.
        token = page.evaluate("() => localStorage.getItem('deepverify.token')")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["iss"] == provider.issuer
        assert claims["aud"] == provider.audience
    finally:
        context.close()


def test_a_tampered_callback_is_refused_with_a_message(
    oidc_server: LiveServer, browser: Any
) -> None:
    context = browser.new_context(base_url=oidc_server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/auth/callback/?code=forged&state=forged")
        page.get_by_role("alert").filter(has_text="No sign-in was in progress").wait_for()
        assert page.evaluate("() => localStorage.getItem('deepverify.token')") is None
    finally:
        context.close()
