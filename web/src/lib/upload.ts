// Uploading a video with a real progress bar. fetch() cannot report upload progress, so this one
// request uses XMLHttpRequest; its response is typed from the same generated schema.
import { errorFromResponse, SERVER_DOWN, UserFacingError } from "./errors";
import { getToken, setToken } from "./token";
import type { UploadAccepted } from "./api/types";

export type UploadProgress = { loaded: number; total: number };

/**
 * POST the file to `/api/videos` as multipart field `file`.
 *
 * @param file The video chosen by the user.
 * @param onProgress Called as bytes are sent (total is the request size, about the file size).
 * @param signal Aborts the upload.
 * @returns The accepted job: its id and first status.
 */
export function uploadVideo(
  file: File,
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<UploadAccepted> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/videos");
    xhr.responseType = "json";
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    let sent = 0;
    xhr.upload.onprogress = (event) => {
      sent = event.loaded;
      if (event.lengthComputable) onProgress({ loaded: event.loaded, total: event.total });
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(xhr.response as UploadAccepted);
        return;
      }
      if (xhr.status === 401) setToken(null);
      reject(errorFromResponse(xhr.status, xhr.response));
    };
    // Refused before anything was sent: the server is down. Cut off midway: the server (or a
    // proxy) refused the body, most often for its size, or stopped.
    xhr.onerror = () =>
      reject(
        new UserFacingError(
          sent > 0
            ? "The upload was cut off: the server refused the file (it may be too large) or stopped. Try again or choose a smaller video."
            : SERVER_DOWN,
        ),
      );
    xhr.onabort = () => reject(new UserFacingError("Upload cancelled."));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

/** "12.3 MB" style sizes (decimal units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
