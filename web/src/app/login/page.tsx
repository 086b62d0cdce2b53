"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState, type FormEvent } from "react";

import { Alert } from "@/components/Alert";
import { Field } from "@/components/Field";
import { OidcButton } from "@/components/OidcButton";
import { safeNext, useAuth } from "@/lib/auth";
import { useServerInfo } from "@/lib/config";
import { describeError } from "@/lib/errors";

function LoginForm() {
  const { state, signIn } = useAuth();
  const { auth } = useServerInfo();
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState(params.get("email") ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (state.status === "signed-in") router.replace(next);
  }, [state.status, next, router]);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email, password);
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  }

  const startupError = state.status === "anonymous" ? state.error : null;
  return (
    <div className="card narrow">
      <h1>Sign in</h1>
      {params.get("registered") && <Alert kind="info">Account created. Sign in to continue.</Alert>}
      {params.get("deleted") && <Alert kind="info">Your account and its videos were deleted.</Alert>}
      {(error ?? startupError) && <Alert>{error ?? startupError}</Alert>}
      <form onSubmit={onSubmit} noValidate={false}>
        <Field id="email" label="Email" type="email" autoComplete="email" value={email} onValue={setEmail} />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onValue={setPassword}
        />
        <button type="submit" className="button block" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <OidcButton next={next} onError={setError} />
      {auth?.registration !== false && (
        <p className="muted">
          No account yet? <Link href={`/signup/?next=${encodeURIComponent(next)}`}>Create one</Link>.
        </p>
      )}
    </div>
  );
}

export default function LoginPage() {
  return (
    <Suspense>
      <LoginForm />
    </Suspense>
  );
}
