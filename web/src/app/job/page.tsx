"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useState } from "react";

import { Alert } from "@/components/Alert";
import { DeleteButton } from "@/components/DeleteButton";
import { HeatmapGallery } from "@/components/HeatmapGallery";
import { ProvenancePanel } from "@/components/ProvenancePanel";
import { ScoreChart } from "@/components/ScoreChart";
import { StageProgress } from "@/components/StageProgress";
import { TracksTable } from "@/components/TracksTable";
import { Verdict } from "@/components/Verdict";
import { imageUrl, reportHtmlUrl } from "@/lib/api/urls";
import { useRequireUser } from "@/lib/auth";
import { describeError } from "@/lib/errors";
import { dateTime, statusLabel } from "@/lib/format";
import { isFinished, useJob } from "@/lib/job";
import { downloadAuthed, saveBlob } from "@/lib/media";
import { formatBytes } from "@/lib/upload";

function stem(filename: string): string {
  const dot = filename.lastIndexOf(".");
  return dot > 0 ? filename.slice(0, dot) : filename;
}

function JobView({ id }: { id: string }) {
  const { video, live, error, notFound } = useJob(id);
  const router = useRouter();
  const [downloadError, setDownloadError] = useState<string | null>(null);

  if (notFound) {
    return (
      <>
        <h1>Video not found</h1>
        <Alert>This video does not exist or was deleted.</Alert>
        <Link href="/history/">Back to your history</Link>
      </>
    );
  }
  if (!video) {
    return error ? <Alert>{error}</Alert> : <p className="muted">Loading…</p>;
  }

  const status = live?.status ?? video.status;
  const progress = live?.progress ?? video.progress;
  const stage = live?.stage ?? video.stage;
  const failure = live?.error ?? video.error;
  const report = status === "done" ? video.report : null;
  const name = stem(video.filename);

  async function download(kind: "json" | "html") {
    setDownloadError(null);
    try {
      if (kind === "json" && report) {
        saveBlob(new Blob([JSON.stringify(report, null, 2)], { type: "application/json" }), `${name}.report.json`);
      } else {
        const url = reportHtmlUrl(video!);
        if (!url) throw new Error("The server offers no HTML report for this video.");
        await downloadAuthed(url, `${name}.report.html`);
      }
    } catch (caught) {
      setDownloadError(describeError(caught));
    }
  }

  return (
    <>
      <div className="row-between">
        <h1 style={{ wordBreak: "break-word" }}>{video.filename}</h1>
        <span className="status-pill" data-testid="job-status" aria-live="polite">
          {statusLabel(status)}
        </span>
      </div>
      <p className="muted">
        Uploaded {dateTime(video.created_at)} · {formatBytes(video.size_bytes)}
      </p>
      {error && <Alert>{error}</Alert>}

      {!isFinished(status) && (
        <section className="card" aria-labelledby="progress-heading">
          <h2 id="progress-heading">
            <span className="spinner" aria-hidden="true" /> {status === "queued" ? "Waiting in the queue" : "Analysing"}
          </h2>
          <StageProgress progress={progress} current={stage} />
        </section>
      )}

      {status === "failed" && (
        <Alert>
          <strong>The analysis failed.</strong> {failure ?? "The server did not say why."}
        </Alert>
      )}

      {status === "done" && !report && (
        <Alert kind="info">The analysis finished, but the server sent no report for it.</Alert>
      )}

      {report && (
        <>
          <Verdict report={report} />
          {report.warnings.length > 0 && (
            <Alert kind="info">
              <strong>Note:</strong>
              <ul style={{ margin: "0.25rem 0 0", paddingLeft: "1.2rem" }}>
                {report.warnings.map((warning) => (
                  <li key={warning}>{warning}</li>
                ))}
              </ul>
            </Alert>
          )}
          {report.provenance && (
            <section className="card" aria-labelledby="provenance-heading">
              <h2 id="provenance-heading">Provenance</h2>
              <ProvenancePanel provenance={report.provenance} />
            </section>
          )}
          <section className="card" aria-labelledby="tracks-heading">
            <h2 id="tracks-heading">Faces</h2>
            <TracksTable report={report} />
          </section>
          <section className="card" aria-labelledby="chart-heading">
            <h2 id="chart-heading">Score over time</h2>
            <ScoreChart report={report} />
          </section>
          <section className="card" aria-labelledby="heatmaps-heading">
            <h2 id="heatmaps-heading">Heatmaps</h2>
            <HeatmapGallery report={report} urlFor={(rel) => imageUrl(video, rel)} />
          </section>
        </>
      )}

      <section className="card" aria-labelledby="actions-heading">
        <h2 id="actions-heading" className="visually-hidden">
          Actions
        </h2>
        {downloadError && <Alert>{downloadError}</Alert>}
        <div className="actions">
          {report && (
            <>
              <button type="button" className="button secondary" onClick={() => void download("json")}>
                Download JSON report
              </button>
              <button type="button" className="button secondary" onClick={() => void download("html")}>
                Download HTML report
              </button>
            </>
          )}
          <Link href="/" className="button secondary">
            Check another video
          </Link>
          <DeleteButton video={video} onDeleted={() => router.push("/history/")} />
        </div>
      </section>
    </>
  );
}

function JobPage() {
  const user = useRequireUser();
  const id = useSearchParams().get("id");
  if (!user) return <p className="muted">Loading…</p>;
  if (!id) {
    return (
      <>
        <h1>No video selected</h1>
        <p>
          Pick one from your <Link href="/history/">history</Link> or <Link href="/">upload a video</Link>.
        </p>
      </>
    );
  }
  return <JobView key={id} id={id} />;
}

export default function Page() {
  return (
    <Suspense fallback={<p className="muted">Loading…</p>}>
      <JobPage />
    </Suspense>
  );
}
