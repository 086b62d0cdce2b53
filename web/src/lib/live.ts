// Live mode's two transports. Camera and screen: frames captured from a <video> into a canvas go
// to the authenticated WebSocket `/api/live/camera` as JPEGs (8 bytes of capture time first).
// Stream URLs: the service reads the stream and its updates come by Server-Sent Events. Both
// reconnect with backoff when the connection drops and report their state as they go.
import { api, unwrap } from "./api/client";
import { describeError, UserFacingError } from "./errors";
import { streamEvents } from "./events";
import { getToken } from "./token";

/** One face over the current window, as `deepverify live --json` writes it. */
export type LiveTrack = {
  track_id: number;
  probability: number;
  verdict: string;
  reasons: string[];
  frames: number;
  box: number[];
  /** The face's latest crop coloured where the model looked (a JPEG data URL), only in the
   * updates where it is new: keep showing the last one. */
  heatmap?: string | null;
};

/** One live update (see `LiveUpdate.to_dict` in the service). */
export type LiveUpdate = {
  seq: number;
  elapsed_s: number;
  stream_time_s: number;
  verdict: string;
  probability: number | null;
  reasons: string[];
  tracks: LiveTrack[];
  lag_s: number;
  fps: number;
  frames_sampled: number;
  frames_dropped: number;
  reconnects: number;
};

export type ConnectionState = "connecting" | "live" | "reconnecting" | "ended";

export type LiveHandlers = {
  onUpdate: (update: LiveUpdate) => void;
  onState: (state: ConnectionState, detail?: string) => void;
  /** A refused frame or a server message; the session goes on. */
  onNotice: (message: string) => void;
};

/** Frames pushed a second: over the model's sampling rate, under the server's cap (15). */
export const SEND_FPS = 8;
/** The server's default size limit for one frame message. */
export const MAX_FRAME_BYTES = 2 * 1024 * 1024;
/** Longest side of a sent frame: enough for faces, small enough to keep up. */
const MAX_SIDE = 960;
const JPEG_QUALITY = 0.8;
/** Frames queued in the socket beyond this are skipped rather than sent late. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const FIRST_RETRY_MS = 500;
const LONGEST_RETRY_MS = 8000;
// Close codes after which trying again cannot help: refused token or a service without camera
// sessions (1008); "try later" (1013) is retried.
const FINAL_CLOSE_CODES = new Set([1008]);

/** The wait before reconnect attempt `attempt` (0-based): doubling from 0.5 s up to 8 s. */
export function backoff(attempt: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** attempt, LONGEST_RETRY_MS);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One binary frame message: capture time (ms, little-endian float64) then the JPEG. */
export function frameMessage(jpeg: Blob, capturedMs: number): Blob {
  const head = new ArrayBuffer(8);
  new DataView(head).setFloat64(0, capturedMs, true);
  return new Blob([head, jpeg]);
}

/** Draw the video's current picture into `canvas` (scaled down) and encode it as JPEG. */
function captureJpeg(video: HTMLVideoElement, canvas: HTMLCanvasElement): Promise<Blob | null> {
  const { videoWidth: width, videoHeight: height } = video;
  if (!width || !height) return Promise.resolve(null);
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.getContext("2d")?.drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
}

/**
 * Push frames of `video` to a camera session until `signal` aborts; reconnects with backoff.
 *
 * Each connection is a new session on the server (its tracks start again); the page keeps its
 * history of updates across them.
 */
export async function runCameraSession(
  video: HTMLVideoElement,
  handlers: LiveHandlers,
  signal: AbortSignal,
): Promise<void> {
  const canvas = document.createElement("canvas");
  let attempt = 0;
  while (!signal.aborted) {
    handlers.onState(attempt === 0 ? "connecting" : "reconnecting");
    const outcome = await oneCameraConnection(video, canvas, handlers, signal, () => {
      attempt = 0;
    });
    if (signal.aborted) break;
    if (outcome.final) {
      handlers.onState("ended", outcome.reason);
      return;
    }
    handlers.onState("reconnecting", outcome.reason);
    await sleep(backoff(attempt), signal);
    attempt += 1;
  }
  handlers.onState("ended");
}

type Outcome = { final: boolean; reason?: string };

function oneCameraConnection(
  video: HTMLVideoElement,
  canvas: HTMLCanvasElement,
  handlers: LiveHandlers,
  signal: AbortSignal,
  onOpen: () => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/api/live/camera`);
    let timer: number | undefined;
    let lastError: string | undefined;
    let ended = false;
    let busy = false;
    let lastMs = 0;

    const send = async () => {
      if (busy || socket.readyState !== WebSocket.OPEN || socket.bufferedAmount > MAX_BUFFERED_BYTES) return;
      busy = true;
      try {
        // Capture times must not go back (the server refuses such frames).
        const capturedMs = Math.max(lastMs, performance.timeOrigin + performance.now());
        const jpeg = await captureJpeg(video, canvas);
        if (!jpeg || jpeg.size + 8 > MAX_FRAME_BYTES || socket.readyState !== WebSocket.OPEN) return;
        lastMs = capturedMs;
        socket.send(frameMessage(jpeg, capturedMs));
      } finally {
        busy = false;
      }
    };

    const finish = (outcome: Outcome) => {
      window.clearInterval(timer);
      signal.removeEventListener("abort", abort);
      resolve(outcome);
    };
    const abort = () => socket.close(1000, "stopped");
    signal.addEventListener("abort", abort);

    socket.onopen = () => {
      socket.send(JSON.stringify({ token: getToken() ?? "" }));
      timer = window.setInterval(() => void send(), 1000 / SEND_FPS);
    };
    socket.onmessage = (event: MessageEvent) => {
      let message: { update?: LiveUpdate; error?: string; end?: { error?: string | null } };
      try {
        message = JSON.parse(String(event.data)) as typeof message;
      } catch {
        return;
      }
      if (message.update) {
        onOpen();
        handlers.onState("live");
        handlers.onUpdate(message.update);
      } else if (message.error) {
        lastError = message.error;
        handlers.onNotice(message.error);
      } else if (message.end) {
        ended = true;
        lastError = message.end.error ?? "the session reached its maximum length";
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (signal.aborted) return finish({ final: true });
      const reason = event.reason || lastError || "the connection dropped";
      finish({ final: ended || FINAL_CLOSE_CODES.has(event.code), reason });
    };
  });
}

/** Start a session on a stream URL; its id. Throws UserFacingError with the API's reason. */
export async function startUrlSession(url: string): Promise<string> {
  const session = unwrap(await api.POST("/api/live", { body: { url } }));
  return session.id;
}

/** Stop a URL session (best effort: it also ends by itself). */
export async function stopUrlSession(id: string): Promise<void> {
  await api.DELETE("/api/live/{session_id}", { params: { path: { session_id: id } } }).catch(() => undefined);
}

/**
 * Follow a URL session's updates until it ends or `signal` aborts; a dropped stream resumes
 * after the last update seen, with backoff.
 */
export async function followUrlSession(id: string, handlers: LiveHandlers, signal: AbortSignal): Promise<void> {
  let after = 0;
  let attempt = 0;
  while (!signal.aborted) {
    handlers.onState(attempt === 0 && after === 0 ? "connecting" : "reconnecting");
    let ended: string | null | undefined;
    try {
      await streamEvents(
        `/api/live/${encodeURIComponent(id)}/events?after=${after}`,
        (message) => {
          if (message.event === "update") {
            const update = JSON.parse(message.data) as LiveUpdate;
            after = update.seq;
            attempt = 0;
            handlers.onState("live");
            handlers.onUpdate(update);
          } else if (message.event === "end") {
            const state = JSON.parse(message.data) as { error?: string | null };
            ended = state.error ?? null;
          }
        },
        signal,
      );
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof UserFacingError && error.status !== null && error.status < 500) {
        handlers.onState("ended", describeError(error));
        return;
      }
    }
    if (ended !== undefined) {
      handlers.onState("ended", ended ?? undefined);
      return;
    }
    if (signal.aborted) break;
    handlers.onState("reconnecting", "the connection dropped");
    await sleep(backoff(attempt), signal);
    attempt += 1;
  }
  handlers.onState("ended");
}
