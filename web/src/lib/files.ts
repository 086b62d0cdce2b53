// A first check of the chosen file before any byte is sent. The server checks again (it decodes
// the video); this only spares the user a long upload that is bound to be refused.
import { formatBytes } from "./upload";

/** Extensions browsers often report without a MIME type (or with a generic one). */
const VIDEO_EXTENSIONS = [
  ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ts", ".mts",
];

/** What the file input offers in the picker. */
export const ACCEPT = ["video/*", ...VIDEO_EXTENSIONS].join(",");

/** Why `file` cannot be uploaded, or null when it may be. */
export function checkFile(file: File, maxBytes: number | null): string | null {
  const name = file.name.toLowerCase();
  const looksLikeVideo = file.type.startsWith("video/") || VIDEO_EXTENSIONS.some((ext) => name.endsWith(ext));
  if (!looksLikeVideo) {
    const kind = file.type ? ` (${file.type})` : "";
    return `“${file.name}” is not a video${kind}. Choose a video file such as MP4, MOV, WebM or AVI.`;
  }
  if (file.size === 0) return `“${file.name}” is empty. Choose another file.`;
  if (maxBytes !== null && file.size > maxBytes) {
    return `“${file.name}” is too large (${formatBytes(file.size)}); this server accepts videos up to ${formatBytes(maxBytes)}.`;
  }
  return null;
}
