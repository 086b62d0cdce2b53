"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";

import { Alert } from "@/components/Alert";
import { Field, NewPasswordFields } from "@/components/Field";
import { OidcButton } from "@/components/OidcButton";
import { api, unwrap } from "@/lib/api/client";
import { safeNext, useAuth } from "@/lib/auth";
import { useServerInfo } from "@/lib/config";
import { describeError } from "@/lib/errors";

function SignupForm() {
  const { signIn } = useAuth();
  const { auth } = useServerInfo();
  const router = useRouter();
  const params = useSearchParams();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (password !== confirm) {
      setError("The two passwords differ. Type the same password twice.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      unwrap(await api.POST("/api/auth/register", { body: { email, password } }));
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
      return;
    }
    try {
      await signIn(email, password);
      router.replace(next);
    } catch {
      // The account exists; let the user sign in by hand.
      router.replace(`/login/?registered=1&email=${encodeURIComponent(email)}&next=${encodeURIComponent(next)}`);
    }
  }

  return (
    <div className="card narrow">
      <h1>Create an account</h1>
      {auth?.registration === false && (
        <Alert kind="info">This server does not take new accounts. Sign in with an existing account instead.</Alert>
      )}
      {error && <Alert>{error}</Alert>}
      <form onSubmit={onSubmit}>
        <Field id="email" label="Email" type="email" autoComplete="email" value={email} onValue={setEmail} />
        <NewPasswordFields
          ids={["password", "confirm"]}
          labels={["Password", "Confirm password"]}
          password={password}
          confirm={confirm}
          onPassword={setPassword}
          onConfirm={setConfirm}
        />
        <button type="submit" className="button block" disabled={busy}>
          {busy ? "Creating account…" : "Create account"}
        </button>
      </form>
      <OidcButton next={next} onError={setError} />
      <p className="muted">
        Already have an account? <Link href={`/login/?next=${encodeURIComponent(next)}`}>Sign in</Link>.
      </p>
    </div>
  );
}

export default function SignupPage() {
  return (
    <Suspense>
      <SignupForm />
    </Suspense>
  );
}
