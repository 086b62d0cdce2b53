"use client";
import Link from "next/link";
import { useCallback, useEffect, useState } from "react";

import { Alert } from "@/components/Alert";
import { DeleteButton } from "@/components/DeleteButton";
import { VerdictBadge } from "@/components/Verdict";
import { api, unwrap } from "@/lib/api/client";
import type { VideoPage } from "@/lib/api/types";
import { useRequireUser } from "@/lib/auth";
import { describeError } from "@/lib/errors";
import { dateTime, percent, statusLabel } from "@/lib/format";

const PAGE_SIZE = 20;

export default function HistoryPage() {
  const user = useRequireUser();
  const [skip, setSkip] = useState(0);
  const [page, setPage] = useState<VideoPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => {
    if (!user) return;
    const controller = new AbortController();
    api
      .GET("/api/videos", { params: { query: { skip, limit: PAGE_SIZE } }, signal: controller.signal })
      .then((result) => {
        setPage(unwrap(result));
        setError(null);
      })
      .catch((caught: unknown) => {
        if (!controller.signal.aborted) setError(describeError(caught));
      });
    return () => controller.abort();
  }, [user, skip, generation]);

  // A running job changes status: refresh the list while any is unfinished.
  const unfinished = page?.data.some((video) => video.status === "queued" || video.status === "running");
  useEffect(() => {
    if (!unfinished) return;
    const timer = window.setInterval(reload, 3000);
    return () => window.clearInterval(timer);
  }, [unfinished, reload]);

  if (!user) return <p className="muted">Loading…</p>;
  return (
    <>
      <div className="row-between">
        <h1>Your videos</h1>
        <Link href="/" className="button">
          Upload a video
        </Link>
      </div>
      {error && <Alert>{error}</Alert>}
      {!page && !error && <p className="muted">Loading…</p>}
      {page && page.count === 0 && (
        <div className="card">
          <p style={{ margin: 0 }}>
            No videos yet. <Link href="/">Upload one</Link> to check it.
          </p>
        </div>
      )}
      {page && page.data.length > 0 && (
        <div className="card table-wrap">
          <table>
            <caption className="visually-hidden">Your videos, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Video</th>
                <th scope="col" className="hide-narrow">
                  Uploaded
                </th>
                <th scope="col">Status</th>
                <th scope="col">Verdict</th>
                <th scope="col" className="num hide-narrow">
                  P(fake)
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((video) => (
                <tr key={video.id} data-testid="history-row">
                  <td style={{ wordBreak: "break-word" }}>
                    <Link href={`/job/?id=${encodeURIComponent(video.id)}`}>{video.filename}</Link>
                  </td>
                  <td className="hide-narrow">{dateTime(video.created_at)}</td>
                  <td>
                    <span className="status-pill" title={video.error ?? undefined}>
                      {statusLabel(video.status)}
                    </span>
                  </td>
                  <td>
                    <VerdictBadge verdict={video.verdict} />
                  </td>
                  <td className="num hide-narrow">{percent(video.probability, 0)}</td>
                  <td>
                    <DeleteButton video={video} onDeleted={reload} small />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {page.count > PAGE_SIZE && (
            <nav className="actions" aria-label="Pages" style={{ marginTop: "0.75rem" }}>
              <button type="button" className="button secondary small" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE_SIZE))}>
                Newer
              </button>
              <span className="muted">
                {skip + 1}–{Math.min(skip + PAGE_SIZE, page.count)} of {page.count}
              </span>
              <button type="button" className="button secondary small" disabled={skip + PAGE_SIZE >= page.count} onClick={() => setSkip(skip + PAGE_SIZE)}>
                Older
              </button>
            </nav>
          )}
        </div>
      )}
    </>
  );
}
