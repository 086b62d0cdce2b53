// One face's rolling probability of "fake" in a live session: a small inline SVG line over the
// last updates (no chart library), with its latest value as text for screen readers.
import { trackColour } from "@/components/ScoreChart";
import { percent } from "@/lib/format";

const W = 240;
const H = 60;
const PAD = 4;

export type LivePoint = { t: number; p: number };

/** The SVG path of `points` (time-ordered) scaled into the chart box; empty for none. */
export function linePath(points: LivePoint[]): string {
  if (points.length === 0) return "";
  const t0 = points[0]!.t;
  const span = Math.max(points[points.length - 1]!.t - t0, 1e-6);
  return points
    .map((point, i) => {
      const x = points.length === 1 ? W / 2 : PAD + ((point.t - t0) / span) * (W - 2 * PAD);
      const y = PAD + (1 - point.p) * (H - 2 * PAD);
      return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

export function LiveChart({ trackId, points, order }: { trackId: number; points: LivePoint[]; order: number[] }) {
  const latest = points[points.length - 1];
  return (
    <figure className="live-chart" data-testid="live-track" data-track-id={trackId}>
      <figcaption>
        Face {trackId}:{" "}
        <strong data-testid="live-track-probability">{percent(latest?.p)}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Face ${trackId}, probability of manipulation over time`}>
        <line className="grid" x1={PAD} x2={W - PAD} y1={H / 2} y2={H / 2} />
        <path d={linePath(points)} fill="none" stroke={trackColour(trackId, order)} strokeWidth={2} />
      </svg>
    </figure>
  );
}
