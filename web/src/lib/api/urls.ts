// Addresses of a video's report page and images, as the API gives them (never built by hand
// beyond joining the API's image prefix with the report's relative paths).
import type { Video } from "./types";

/** The API address of an image named by a relative path in the report (null before done). */
export function imageUrl(video: Video, relPath: string): string | null {
  if (!video.image_base_url) return null;
  const base = video.image_base_url.endsWith("/") ? video.image_base_url : `${video.image_base_url}/`;
  return base + relPath.split("/").map(encodeURIComponent).join("/");
}

/** The self-contained HTML report of a finished video. */
export function reportHtmlUrl(video: Video): string | null {
  return video.report_html_url ?? null;
}
