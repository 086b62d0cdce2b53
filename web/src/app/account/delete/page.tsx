"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";

import { Alert } from "@/components/Alert";
import { Field } from "@/components/Field";
import { api, unwrap } from "@/lib/api/client";
import { useRequireUser } from "@/lib/auth";
import { describeError } from "@/lib/errors";
import { setToken } from "@/lib/token";

export default function DeleteAccountPage() {
  const [deleted, setDeleted] = useState(false);
  const user = useRequireUser(!deleted);
  const router = useRouter();
  const [confirmation, setConfirmation] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Once the account is gone its token is dead: forget it here (there is nothing left to sign
  // out of) and go to the sign-in page, which says the account was deleted.
  useEffect(() => {
    if (!deleted) return;
    setToken(null);
    router.replace("/login/?deleted=1");
  }, [deleted, router]);

  // A local account confirms with its password (the API checks it); an external one, which
  // has no password here, by typing its e-mail (or "delete" when it has none).
  const local = user?.provider === "local";
  const expected = user?.email ?? "delete";

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    if (!local && confirmation.trim() !== expected) {
      setError(`Type ${expected} exactly to confirm.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      unwrap(await api.DELETE("/api/auth/me", { body: { password: local ? confirmation : null } }));
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
      return;
    }
    setDeleted(true);
  }

  if (deleted) return <p className="muted">Account deleted. Signing out…</p>;
  if (!user) return <p className="muted">Loading…</p>;
  return (
    <div className="card narrow">
      <h1>Delete account</h1>
      <p>
        This deletes your account ({user.email ?? "signed in with " + user.provider}) and every video, upload and
        report it holds. It cannot be undone.
      </p>
      {error && <Alert>{error}</Alert>}
      <form onSubmit={onSubmit}>
        {local ? (
          <Field
            id="confirm-password"
            label="Your password"
            type="password"
            autoComplete="current-password"
            value={confirmation}
            onValue={setConfirmation}
            hint="Type your password to confirm."
          />
        ) : (
          <Field
            id="confirm-email"
            label={`Type ${expected} to confirm`}
            type="text"
            autoComplete="off"
            value={confirmation}
            onValue={setConfirmation}
          />
        )}
        <button type="submit" className="button danger block" disabled={busy}>
          {busy ? "Deleting account…" : "Delete my account"}
        </button>
      </form>
    </div>
  );
}
