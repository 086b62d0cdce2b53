// A first check of the chosen file before any byte is sent. The server checks again (it decodes
// the video); this only spares the user a long upload that is bound to be refused. The accepted
// suffixes and the size limit come from the server (/api/auth/config), never from a copy here.
import { formatBytes } from "./upload";

/** What the file input offers in the picker: any video type plus the server's suffixes. */
export function acceptAttribute(suffixes: readonly string[]): string {
  return ["video/*", ...suffixes].join(",");
}

/** "MP4, MOV, WEBM or AVI" from [".mp4", ".mov", ".webm", ".avi"]. */
export function formatSuffixes(suffixes: readonly string[]): string {
  const names = suffixes.map((suffix) => suffix.replace(/^\./, "").toUpperCase());
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}

/** Why `file` cannot be uploaded, or null when it may be (unknown limits, null, are left to the server). */
export function checkFile(file: File, suffixes: readonly string[] | null, maxBytes: number | null): string | null {
  const name = file.name.toLowerCase();
  const looksLikeVideo = file.type.startsWith("video/") || suffixes?.some((ext) => name.endsWith(ext));
  if (suffixes !== null && !looksLikeVideo) {
    const kind = file.type ? ` (${file.type})` : "";
    return `“${file.name}” is not a video${kind}. Choose a video file (${formatSuffixes(suffixes)}).`;
  }
  if (file.size === 0) return `“${file.name}” is empty. Choose another file.`;
  if (maxBytes !== null && file.size > maxBytes) {
    return `“${file.name}” is too large (${formatBytes(file.size)}); this server accepts videos up to ${formatBytes(maxBytes)}.`;
  }
  return null;
}
