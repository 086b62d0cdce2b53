// "Sign in with <provider>": the OpenID Connect authorization-code flow with PKCE (RFC 7636),
// run entirely in the browser (a public client, no secret). The provider's endpoints come from
// its discovery document; the resulting JWT is what the API receives as the bearer token.

/** What the UI needs to know about the configured provider (from the API's auth config). */
export type OidcSettings = {
  issuer: string;
  clientId: string;
  /** The audience the API checks in the token's `aud` claim. */
  audience: string;
  /** From the API when it could read the issuer's discovery; else discovered here. */
  authorizationEndpoint: string | null;
  scopes: string;
};

type Discovery = { authorization_endpoint: string; token_endpoint: string };
type Pending = { state: string; verifier: string; tokenEndpoint: string; settings: OidcSettings; next: string };

const PENDING_KEY = "deepverify.oidc";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function discover(issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`The sign-in provider's configuration could not be read (HTTP ${response.status}).`);
  return (await response.json()) as Discovery;
}

/** The `aud` claim of a JWT, read without verifying it (the API verifies; this only chooses). */
function audienceOf(token: unknown): string[] {
  if (typeof token !== "string") return [];
  const payload = token.split(".")[1];
  if (!payload) return [];
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const aud = (JSON.parse(json) as { aud?: unknown }).aud;
    return Array.isArray(aud) ? aud.map(String) : typeof aud === "string" ? [aud] : [];
  } catch {
    return [];
  }
}

/**
 * The token to send to the API: the one whose audience is the API's. An access token when the
 * provider issues JWT access tokens for it (Auth0, Kinde, Keycloak with a mapper), else the ID
 * token (Firebase, or any provider where the audience is the client id).
 */
function pickToken(body: Record<string, unknown>, audience: string): string | null {
  for (const key of ["access_token", "id_token"]) {
    const token = body[key];
    if (typeof token === "string" && audienceOf(token).includes(audience)) return token;
  }
  return typeof body.id_token === "string" ? body.id_token : null;
}

/** Where the provider sends the browser back to (must be registered with the provider). */
export function redirectUri(): string {
  return `${window.location.origin}/auth/callback/`;
}

/** Leave for the provider's sign-in page; `next` is where to land after signing in. */
export async function startOidcSignIn(settings: OidcSettings, next: string): Promise<void> {
  const discovery = await discover(settings.issuer);
  const verifier = randomString(48);
  const state = randomString(16);
  const pending: Pending = { state, verifier, tokenEndpoint: discovery.token_endpoint, settings, next };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(settings.authorizationEndpoint ?? discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: settings.clientId,
    redirect_uri: redirectUri(),
    scope: settings.scopes,
    // Auth0 and Kinde issue a JWT access token for the API only when asked for its audience.
    audience: settings.audience,
    state,
    code_challenge: await challengeFor(verifier),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

/**
 * Finish the flow on the callback page: check `state`, trade the code for tokens.
 *
 * @returns The bearer token for the API and where to go next.
 */
export async function completeOidcSignIn(params: URLSearchParams): Promise<{ token: string; next: string }> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const providerError = params.get("error");
  if (providerError) {
    throw new Error(`The sign-in provider refused: ${params.get("error_description") ?? providerError}.`);
  }
  if (!raw) throw new Error("No sign-in was in progress in this tab. Start again from the sign-in page.");
  const pending = JSON.parse(raw) as Pending;
  const code = params.get("code");
  if (!code || params.get("state") !== pending.state) {
    throw new Error("The sign-in response did not match this session. Start again from the sign-in page.");
  }
  const response = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: pending.settings.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const token = pickToken(body, pending.settings.audience);
  if (!response.ok || !token) {
    const reason = typeof body.error_description === "string" ? body.error_description : `HTTP ${response.status}`;
    throw new Error(`The sign-in provider did not issue a token (${reason}).`);
  }
  return { token, next: pending.next };
}
