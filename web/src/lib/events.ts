// Live job progress from the service's Server-Sent Events endpoint. EventSource cannot send an
// Authorization header, so the stream is read with fetch and parsed with eventsource-parser.
import { createParser, type EventSourceMessage } from "eventsource-parser";

import { errorFromResponse } from "./errors";
import { authHeaders } from "./token";

/**
 * Read the event stream at `path` until it ends or `signal` aborts; call `onMessage` per event.
 *
 * Resolves when the server closes the stream; rejects on HTTP or network errors (callers fall
 * back to polling the job).
 */
export async function streamEvents(
  path: string,
  onMessage: (message: EventSourceMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(path, {
    headers: { Accept: "text/event-stream", ...authHeaders() },
    cache: "no-store",
    signal,
  });
  if (!response.ok || !response.body) {
    const body: unknown = await response.json().catch(() => null);
    throw errorFromResponse(response.status, body);
  }
  const parser = createParser({ onEvent: onMessage });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  } finally {
    reader.releaseLock();
  }
}
