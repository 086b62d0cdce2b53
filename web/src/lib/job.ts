"use client";
// Following one analysis job: load it, then stream its progress (Server-Sent Events) until it is
// done or failed, and load the full video (with its report) once more at the end. When the stream
// cannot be opened or drops, it falls back to polling so the page still finishes.
import { useCallback, useEffect, useState } from "react";

import { api, unwrap } from "./api/client";
import type { Video, VideoEvent } from "./api/types";
import { describeError, UserFacingError } from "./errors";
import { streamEvents } from "./events";

const POLL_MS = 2000;

export type JobState = {
  video: Video | null;
  /** Live progress between full loads (from the stream). */
  live: VideoEvent | null;
  error: string | null;
  notFound: boolean;
};

export function isFinished(status: string | undefined): boolean {
  return status === "done" || status === "failed";
}

async function loadVideo(id: string, signal?: AbortSignal): Promise<Video> {
  return unwrap(await api.GET("/api/videos/{video_id}", { params: { path: { video_id: id } }, signal }));
}

/** The job `id`, kept up to date while it runs. */
export function useJob(id: string | null): JobState & { reload: () => void } {
  const [state, setState] = useState<JobState>({ video: null, live: null, error: null, notFound: false });
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((n) => n + 1), []);

  useEffect(() => {
    if (!id) return;
    const controller = new AbortController();
    const { signal } = controller;

    const fail = (error: unknown) => {
      if (signal.aborted) return;
      const notFound = error instanceof UserFacingError && error.status === 404;
      setState((previous) => ({ ...previous, error: describeError(error), notFound }));
    };

    async function refresh(): Promise<Video | null> {
      try {
        const video = await loadVideo(id!, signal);
        if (!signal.aborted) setState({ video, live: null, error: null, notFound: false });
        return video;
      } catch (error) {
        fail(error);
        return null;
      }
    }

    async function poll(): Promise<void> {
      while (!signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (signal.aborted) return;
        const video = await refresh();
        if (video && isFinished(video.status)) return;
      }
    }

    async function follow(): Promise<void> {
      const first = await refresh();
      if (!first || isFinished(first.status) || signal.aborted) return;
      let gotDone = false;
      try {
        await streamEvents(
          `/api/videos/${encodeURIComponent(id!)}/events`,
          (message) => {
            // `progress` carries a VideoEvent; `done` the full video (report included);
            // `deleted` means it is gone. Anything else (pings) is ignored.
            if (message.event === "deleted") {
              fail(new UserFacingError("This video was deleted.", 404));
              controller.abort();
              return;
            }
            if (message.event !== "progress" && message.event !== "done") return;
            let payload: unknown;
            try {
              payload = JSON.parse(message.data);
            } catch {
              return;
            }
            if (message.event === "done") {
              setState({ video: payload as Video, live: null, error: null, notFound: false });
              gotDone = true;
            } else {
              setState((previous) => ({ ...previous, live: payload as VideoEvent, error: null }));
            }
          },
          signal,
        );
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof UserFacingError && error.status === 404) {
          fail(error);
          return;
        }
        // Stream unavailable (proxy, old server, dropped connection): poll instead.
      }
      if (signal.aborted || gotDone) return;
      const last = await refresh();
      if (last && !isFinished(last.status)) await poll();
    }

    void follow();
    return () => controller.abort();
  }, [id, generation]);

  return { ...state, reload };
}
