"use client";
// Images and downloads that need the bearer token: fetched as Blobs and shown through object URLs
// (an <img src> cannot carry an Authorization header).
import { useEffect, useState } from "react";

import { fetchBlob } from "./api/client";
import { UserFacingError, describeError } from "./errors";

export type ImageState = { url: string | null; error: string | null };

/** Tries per image, and the wait before the first retry (doubling after each failure). */
export const IMAGE_TRIES = 4;
export const IMAGE_RETRY_MS = 500;

/** A wait of `ms` that ends early, rejecting, when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        window.clearTimeout(timer);
        reject(new DOMException("The request was cancelled.", "AbortError"));
      },
      { once: true },
    );
  });
}

/** Whether another try may succeed: not when signed out or refused (401, 403). */
function worthRetrying(error: unknown): boolean {
  return !(error instanceof UserFacingError && (error.status === 401 || error.status === 403));
}

/**
 * Fetch an image, retrying a failure (a busy server, a file of a job that has only just finished)
 * up to `IMAGE_TRIES` times in all, waiting 0.5 s, 1 s, 2 s between tries.
 */
export async function fetchImage(src: string, signal: AbortSignal): Promise<Blob> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchBlob(src, signal);
    } catch (error) {
      if (signal.aborted || attempt >= IMAGE_TRIES || !worthRetrying(error)) throw error;
    }
    await pause(IMAGE_RETRY_MS * 2 ** (attempt - 1), signal);
  }
}

/**
 * An object URL for the authenticated image at `src` (null while loading, and while failed tries
 * are retried: see {@link fetchImage}); revoked on change. `error` is set only after the last try.
 */
export function useAuthedImage(src: string | null): ImageState {
  // What the effect for `src` loaded; cleared (and its URL revoked) when `src` changes.
  const [loaded, setLoaded] = useState<(ImageState & { src: string }) | null>(null);
  useEffect(() => {
    if (!src) return;
    const controller = new AbortController();
    let objectUrl: string | null = null;
    fetchImage(src, controller.signal)
      .then((blob) => {
        objectUrl = URL.createObjectURL(blob);
        setLoaded({ src, url: objectUrl, error: null });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setLoaded({ src, url: null, error: describeError(error) });
      });
    return () => {
      controller.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      setLoaded((previous) => (previous?.src === src ? null : previous));
    };
  }, [src]);
  return loaded !== null && loaded.src === src ? { url: loaded.url, error: loaded.error } : { url: null, error: null };
}

/** Save `blob` as a file named `filename` through a temporary link. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // Give the browser time to start the download before the URL goes away.
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Download the authenticated resource at `src` as `filename`. */
export async function downloadAuthed(src: string, filename: string): Promise<void> {
  saveBlob(await fetchBlob(src), filename);
}
