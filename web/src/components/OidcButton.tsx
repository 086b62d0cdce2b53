"use client";
import { useState } from "react";

import { useServerInfo } from "@/lib/config";
import { startOidcSignIn } from "@/lib/oidc";

/** "Sign in with <provider>", shown only when the server has an OIDC issuer configured. */
export function OidcButton({ next, onError }: { next: string; onError: (message: string) => void }) {
  const { auth } = useServerInfo();
  const [busy, setBusy] = useState(false);
  const oidc = auth?.oidc;
  if (!oidc?.client_id) return null;
  const { client_id: clientId } = oidc;

  async function onClick() {
    if (!oidc) return;
    setBusy(true);
    try {
      await startOidcSignIn(
        {
          issuer: oidc.issuer,
          clientId,
          audience: oidc.audience,
          authorizationEndpoint: oidc.authorization_endpoint,
          scopes: "openid email profile",
        },
        next,
      );
    } catch (caught) {
      onError(caught instanceof Error ? caught.message : "The sign-in provider could not be reached.");
      setBusy(false);
    }
  }

  return (
    <>
      <div className="divider">or</div>
      <button type="button" className="button secondary block" onClick={onClick} disabled={busy}>
        {busy ? "Redirecting…" : `Sign in with ${oidc.provider_name}`}
      </button>
    </>
  );
}
