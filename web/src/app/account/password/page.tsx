"use client";
import { useState, type FormEvent } from "react";

import { Alert } from "@/components/Alert";
import { Field, NewPasswordFields } from "@/components/Field";
import { api, unwrap } from "@/lib/api/client";
import { useAuth, useRequireUser } from "@/lib/auth";
import { describeError } from "@/lib/errors";

export default function PasswordPage() {
  const user = useRequireUser();
  const { acceptToken } = useAuth();
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (password !== confirm) {
      setError("The two new passwords differ. Type the same password twice.");
      return;
    }
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      const result = await api.POST("/api/auth/password", {
        body: { current_password: current, new_password: password },
      });
      // Every other session is signed out; this one continues with the new token.
      acceptToken(unwrap(result).access_token);
      setCurrent("");
      setPassword("");
      setConfirm("");
      setDone(true);
    } catch (caught) {
      setError(describeError(caught));
    }
    setBusy(false);
  }

  if (!user) return <p className="muted">Loading…</p>;
  return (
    <div className="card narrow">
      <h1>Change password</h1>
      {user.provider !== "local" ? (
        <Alert kind="info">This account signs in with {user.provider}: change its password there.</Alert>
      ) : (
        <>
          {done && <Alert kind="info">Password changed. Your other sessions are signed out.</Alert>}
          {error && <Alert>{error}</Alert>}
          <form onSubmit={onSubmit}>
            <Field
              id="current-password"
              label="Current password"
              type="password"
              autoComplete="current-password"
              value={current}
              onValue={setCurrent}
            />
            <NewPasswordFields
              ids={["new-password", "confirm-password"]}
              labels={["New password", "Confirm new password"]}
              password={password}
              confirm={confirm}
              onPassword={setPassword}
              onConfirm={setConfirm}
            />
            <button type="submit" className="button block" disabled={busy}>
              {busy ? "Changing password…" : "Change password"}
            </button>
          </form>
        </>
      )}
    </div>
  );
}
