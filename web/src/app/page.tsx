"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";

import { Alert } from "@/components/Alert";
import { Dropzone } from "@/components/Dropzone";
import { useRequireUser } from "@/lib/auth";
import { useServerInfo } from "@/lib/config";
import { describeError } from "@/lib/errors";
import { checkFile } from "@/lib/files";
import { formatBytes, uploadVideo, type UploadProgress } from "@/lib/upload";

type Phase =
  | { kind: "idle" }
  | { kind: "uploading"; file: File; progress: UploadProgress | null }
  | { kind: "processing"; file: File };

export default function UploadPage() {
  const user = useRequireUser();
  const info = useServerInfo();
  const router = useRouter();
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => () => abort.current?.abort(), []);

  async function onFile(file: File) {
    setError(null);
    const problem = checkFile(file, info.videoSuffixes, info.maxUploadBytes);
    if (problem) {
      setError(problem);
      return;
    }
    const controller = new AbortController();
    abort.current = controller;
    setPhase({ kind: "uploading", file, progress: null });
    try {
      const accepted = await uploadVideo(
        file,
        (progress) => {
          setPhase(progress.loaded >= progress.total ? { kind: "processing", file } : { kind: "uploading", file, progress });
        },
        controller.signal,
      );
      router.push(`/job/?id=${encodeURIComponent(accepted.id)}`);
    } catch (caught) {
      setError(describeError(caught));
      setPhase({ kind: "idle" });
    }
  }

  if (!user) return <p className="muted">Loading…</p>;
  const busy = phase.kind !== "idle";
  const percent = phase.kind === "uploading" && phase.progress ? Math.floor((100 * phase.progress.loaded) / phase.progress.total) : null;

  return (
    <>
      <h1>Check a video</h1>
      <p className="muted">
        Upload a video with a face in it. deepverify samples frames, finds the faces and estimates how likely it is that
        they were manipulated, with heatmaps showing which regions drove the score.
      </p>
      {error && <Alert>{error}</Alert>}
      <section className="card" aria-labelledby="upload-heading">
        <h2 id="upload-heading" className="visually-hidden">
          Upload
        </h2>
        <Dropzone
          disabled={busy}
          suffixes={info.videoSuffixes}
          maxLabel={info.maxUploadBytes ? formatBytes(info.maxUploadBytes) : null}
          onFile={onFile}
        />
        {busy && (
          <div style={{ marginTop: "1rem" }}>
            <label htmlFor="upload-progress">
              {phase.kind === "uploading" ? `Uploading ${phase.file.name}` : `Checking ${phase.file.name} on the server…`}
            </label>
            <progress id="upload-progress" max={100} value={percent ?? undefined} aria-valuetext={percent === null ? "waiting" : `${percent}%`} />
            <div className="row-between">
              <span className="muted" aria-live="polite">
                {phase.kind === "uploading" && phase.progress
                  ? `${formatBytes(phase.progress.loaded)} of ${formatBytes(phase.progress.total)} (${percent}%)`
                  : phase.kind === "processing"
                    ? "Upload complete"
                    : "Starting…"}
              </span>
              {phase.kind === "uploading" && (
                <button type="button" className="button secondary small" onClick={() => abort.current?.abort()}>
                  Cancel
                </button>
              )}
            </div>
          </div>
        )}
      </section>
      <p className="muted">
        Earlier videos are in your <Link href="/history/">history</Link>.
      </p>
    </>
  );
}
