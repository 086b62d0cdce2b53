"use client";
import { useState } from "react";

import { api, unwrap } from "@/lib/api/client";
import { describeError } from "@/lib/errors";

import { Alert } from "./Alert";

/** Delete a video (after a confirmation) and its results. */
export function DeleteButton({
  video,
  onDeleted,
  small = false,
}: {
  video: { id: string; filename: string };
  onDeleted: () => void;
  small?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onClick() {
    if (!window.confirm(`Delete “${video.filename}” and its report? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    try {
      unwrap(await api.DELETE("/api/videos/{video_id}", { params: { path: { video_id: video.id } } }));
      onDeleted();
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  }

  return (
    <>
      <button
        type="button"
        className={`button danger${small ? " small" : ""}`}
        onClick={() => void onClick()}
        disabled={busy}
        aria-label={`Delete ${video.filename}`}
      >
        {busy ? "Deleting…" : "Delete"}
      </button>
      {error && <Alert>{error}</Alert>}
    </>
  );
}
