"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";

import { Alert } from "@/components/Alert";
import { useAuth } from "@/lib/auth";
import { completeOidcSignIn } from "@/lib/oidc";

/** Where the OIDC provider sends the browser back: trade the code for a token, then move on. */
export default function OidcCallbackPage() {
  const { acceptToken } = useAuth();
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // the code is single-use: never run the exchange twice
    started.current = true;
    completeOidcSignIn(new URLSearchParams(window.location.search))
      .then(({ token, next }) => {
        acceptToken(token);
        router.replace(next);
      })
      .catch((caught: unknown) => setError(caught instanceof Error ? caught.message : "Sign-in failed."));
  }, [acceptToken, router]);

  return (
    <div className="card narrow">
      <h1>Signing you in</h1>
      {error ? (
        <>
          <Alert>{error}</Alert>
          <Link href="/login/">Back to sign in</Link>
        </>
      ) : (
        <p className="muted">
          <span className="spinner" aria-hidden="true" /> Finishing sign-in…
        </p>
      )}
    </div>
  );
}
