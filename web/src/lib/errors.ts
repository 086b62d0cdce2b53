// Turning failed requests into one clear sentence for the user. The API's own `detail` message
// is preferred: it already says what was wrong and what to do.

/** An error whose message is fit to show as is. */
export class UserFacingError extends Error {
  readonly status: number | null;

  constructor(message: string, status: number | null = null) {
    super(message);
    this.name = "UserFacingError";
    this.status = status;
  }
}

export const SERVER_DOWN =
  "Cannot reach the deepverify server. Check that it is running (make run) and try again.";

type ValidationItem = { loc?: unknown[]; msg?: string };

/** The message inside a FastAPI error body (`{"detail": "..."}` or a validation list). */
export function detailOf(body: unknown): string | null {
  if (!body || typeof body !== "object" || !("detail" in body)) return null;
  const detail = (body as { detail: unknown }).detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    const parts = (detail as ValidationItem[])
      .map((item) => {
        const field = item.loc?.filter((part) => part !== "body").join(".");
        return field ? `${field}: ${item.msg ?? "invalid"}` : item.msg;
      })
      .filter(Boolean);
    if (parts.length) return parts.join("; ");
  }
  return null;
}

/** A fallback message per HTTP status when the body says nothing useful. */
export function messageForStatus(status: number): string {
  if (status === 401) return "Your session has expired. Please sign in again.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "Not found: it may have been deleted.";
  if (status === 413) return "The file is too large for this server.";
  if (status === 415) return "That file type is not supported: upload a video.";
  if (status === 429) return "Too many requests: wait a moment and try again.";
  if (status >= 500) return `The server failed (HTTP ${status}). Try again in a moment.`;
  return `The request failed (HTTP ${status}).`;
}

/** Build the error to throw for a failed response, given its parsed body (if any). */
export function errorFromResponse(status: number, body: unknown): UserFacingError {
  return new UserFacingError(detailOf(body) ?? messageForStatus(status), status);
}

/** A message for anything caught: our own errors as they are, network failures as "server down". */
export function describeError(error: unknown): string {
  if (error instanceof UserFacingError) return error.message;
  if (error instanceof TypeError) return SERVER_DOWN; // fetch rejects with TypeError when offline
  if (error instanceof DOMException && error.name === "AbortError") return "The request was cancelled.";
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong. Try again.";
}
