"use client";
// Images and downloads that need the bearer token: fetched as Blobs and shown through object URLs
// (an <img src> cannot carry an Authorization header).
import { useEffect, useState } from "react";

import { fetchBlob } from "./api/client";
import { describeError } from "./errors";

export type ImageState = { url: string | null; error: string | null };

/** An object URL for the authenticated image at `src` (null while loading); revoked on change. */
export function useAuthedImage(src: string | null): ImageState {
  // What the effect for `src` loaded; cleared (and its URL revoked) when `src` changes.
  const [loaded, setLoaded] = useState<(ImageState & { src: string }) | null>(null);
  useEffect(() => {
    if (!src) return;
    const controller = new AbortController();
    let objectUrl: string | null = null;
    fetchBlob(src, controller.signal)
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
