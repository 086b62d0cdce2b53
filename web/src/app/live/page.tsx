"use client";
// Live mode: judge a camera, a shared screen or a stream URL as it plays. Camera and screen frames
// are captured here and pushed over a WebSocket; a stream URL is read by the service and followed
// by Server-Sent Events. Both show the window's verdict, each face's rolling probability and its
// latest heatmap, the lag and the analysed frame rate, and keep going through dropped connections.
import { type FormEvent, useCallback, useEffect, useRef, useState } from "react";

import { Alert } from "@/components/Alert";
import { LiveChart, type LivePoint } from "@/components/LiveChart";
import { VerdictBadge } from "@/components/Verdict";
import { useRequireUser } from "@/lib/auth";
import { describeError } from "@/lib/errors";
import { percent, seconds, VERDICT_MEANINGS, verdictLabel } from "@/lib/format";
import {
  type ConnectionState,
  followUrlSession,
  type LiveHandlers,
  type LiveUpdate,
  runCameraSession,
  startUrlSession,
  stopUrlSession,
} from "@/lib/live";

type Source = "camera" | "screen" | "url";

/** Points kept per face: a few minutes of updates. */
const HISTORY = 120;

const STATE_LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  ended: "Stopped",
};

async function openMedia(source: "camera" | "screen"): Promise<MediaStream> {
  if (!navigator.mediaDevices) throw new Error("This browser gives no camera or screen access here (it needs https or localhost).");
  return source === "camera"
    ? navigator.mediaDevices.getUserMedia({ video: true, audio: false })
    : navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
}

export default function LivePage() {
  const user = useRequireUser();
  const videoRef = useRef<HTMLVideoElement>(null);
  const stopRef = useRef<(() => void) | null>(null);
  const [source, setSource] = useState<Source>("camera");
  const [url, setUrl] = useState("");
  const [running, setRunning] = useState(false);
  const [connection, setConnection] = useState<{ state: ConnectionState; detail?: string } | null>(null);
  const [update, setUpdate] = useState<LiveUpdate | null>(null);
  const [history, setHistory] = useState<Map<number, LivePoint[]>>(new Map());
  // Each face's latest heatmap: an update carries a face's picture only when it is new.
  const [heatmaps, setHeatmaps] = useState<Map<number, string>>(new Map());
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const handlers: LiveHandlers = {
    onUpdate: (next) => {
      setUpdate(next);
      const now = Date.now() / 1000; // the page's clock: a reconnected camera restarts elapsed_s
      setHistory((previous) => {
        const merged = new Map(previous);
        for (const track of next.tracks) {
          const points = [...(merged.get(track.track_id) ?? []), { t: now, p: track.probability }];
          merged.set(track.track_id, points.slice(-HISTORY));
        }
        return merged;
      });
      setHeatmaps((previous) => {
        const kept = new Map<number, string>();
        for (const track of next.tracks) {
          const picture = track.heatmap ?? previous.get(track.track_id);
          if (picture) kept.set(track.track_id, picture);
        }
        return kept;
      });
    },
    onState: (state, detail) => setConnection({ state, detail }),
    onNotice: setNotice,
  };

  const stop = useCallback(() => {
    stopRef.current?.();
    stopRef.current = null;
    setRunning(false);
  }, []);
  useEffect(() => stop, [stop]);

  async function start(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setNotice(null);
    setUpdate(null);
    setHistory(new Map());
    setHeatmaps(new Map());
    const controller = new AbortController();
    try {
      if (source === "url") {
        const id = await startUrlSession(url.trim());
        stopRef.current = () => {
          controller.abort();
          void stopUrlSession(id);
        };
        setRunning(true);
        void followUrlSession(id, handlers, controller.signal).finally(stop);
        return;
      }
      const media = await openMedia(source);
      const video = videoRef.current!;
      video.srcObject = media;
      await video.play();
      stopRef.current = () => {
        controller.abort();
        for (const track of media.getTracks()) track.stop();
        video.srcObject = null;
      };
      // Sharing stopped from the browser's own control: end the session too.
      media.getVideoTracks()[0]?.addEventListener("ended", stop);
      setRunning(true);
      // A session that ends by itself releases the camera or screen too.
      void runCameraSession(video, handlers, controller.signal).finally(stop);
    } catch (caught) {
      controller.abort();
      setError(describeError(caught));
    }
  }

  if (!user) return <p className="muted">Loading…</p>;
  const order = [...history.keys()];
  return (
    <>
      <h1>Live</h1>
      <p className="muted">Judge a camera, a shared screen or a stream as it plays. Verdicts cover the last few seconds.</p>
      <form className="card live-controls" onSubmit={(event) => void start(event)}>
        <fieldset disabled={running}>
          <legend>Source</legend>
          {(["camera", "screen", "url"] as const).map((option) => (
            <label key={option} className="inline">
              <input type="radio" name="source" value={option} checked={source === option} onChange={() => setSource(option)} />{" "}
              {option === "camera" ? "Camera" : option === "screen" ? "Screen" : "Stream URL"}
            </label>
          ))}
          {source === "url" && (
            <label className="block">
              Stream URL
              <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="rtsp://camera.example/stream" />
            </label>
          )}
        </fieldset>
        {running ? (
          <button type="button" className="button secondary" onClick={stop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="button">
            Start
          </button>
        )}
        {connection && (
          <span className="status-pill" data-testid="live-connection" data-state={connection.state} aria-live="polite">
            {STATE_LABELS[connection.state]}
            {connection.detail ? `: ${connection.detail}` : ""}
          </span>
        )}
      </form>
      {error && <Alert>{error}</Alert>}
      {notice && running && <p className="muted" data-testid="live-notice">{notice}</p>}
      <div className="live-layout">
        <video ref={videoRef} className="live-preview" muted playsInline hidden={!running || source === "url"} />
        {update && (
          <section className={`verdict ${update.verdict}`} data-testid="live-verdict" aria-live="polite">
            <p className="label">{verdictLabel(update.verdict)}</p>
            <p className="meaning">{VERDICT_MEANINGS[update.verdict] ?? ""}</p>
            {update.reasons.length > 0 && (
              <ul className="reasons">
                {update.reasons.map((reason) => (
                  <li key={reason}>{reason}</li>
                ))}
              </ul>
            )}
            <dl className="facts">
              <div>
                <dt>Probability of manipulation</dt>
                <dd data-testid="live-probability">{percent(update.probability)}</dd>
              </div>
              <div>
                <dt>Lag</dt>
                <dd data-testid="live-lag">{seconds(update.lag_s)}</dd>
              </div>
              <div>
                <dt>Frames analysed</dt>
                <dd data-testid="live-fps">{update.fps.toFixed(1)} fps</dd>
              </div>
              <div>
                <dt>Dropped</dt>
                <dd>
                  {update.frames_dropped} of {update.frames_sampled}
                </dd>
              </div>
            </dl>
          </section>
        )}
      </div>
      {update && (
        <section aria-labelledby="faces-heading">
          <h2 id="faces-heading">Faces</h2>
          {update.tracks.length === 0 && <p className="muted">No face in view.</p>}
          <div className="live-tracks">
            {update.tracks.map((track) => {
              const picture = heatmaps.get(track.track_id);
              return (
                <div key={track.track_id} className="live-face">
                  <div>
                    <LiveChart trackId={track.track_id} points={history.get(track.track_id) ?? []} order={order} />
                    <VerdictBadge verdict={track.verdict} />
                  </div>
                  {picture && (
                    // eslint-disable-next-line @next/next/no-img-element -- a data URL from the update
                    <img
                      className="live-heatmap"
                      data-testid="live-track-heatmap"
                      src={picture}
                      width={96}
                      height={96}
                      alt={`Face ${track.track_id}: its latest frame, coloured where the model looked`}
                    />
                  )}
                </div>
              );
            })}
          </div>
        </section>
      )}
    </>
  );
}
