// Score over time: each face track's per-frame probability of "fake" across the video, with the
// decision threshold, drawn as inline SVG (no chart library). A table carries the same numbers
// for screen readers and for anyone who wants exact values.
import type { Report } from "@/lib/api/types";

const W = 720;
const H = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 34 };
/** Distinguishable colours (Okabe-Ito), readable on light and dark backgrounds. */
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"];

type Point = { t: number; p: number };

/** Per-track series of (timestamp, probability), in time order. */
export function seriesByTrack(report: Report): Map<number, Point[]> {
  const series = new Map<number, Point[]>();
  for (const frame of report.frames) {
    for (const face of frame.faces) {
      const points = series.get(face.track_id) ?? [];
      points.push({ t: frame.timestamp, p: face.fake_probability });
      series.set(face.track_id, points);
    }
  }
  for (const points of series.values()) points.sort((a, b) => a.t - b.t);
  return series;
}

/** A round tick interval giving about five ticks over `duration` seconds. */
function tickStep(duration: number): number {
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  return steps.find((step) => duration / step <= 6) ?? Math.ceil(duration / 6 / 600) * 600;
}

export function trackColour(trackId: number, order: number[]): string {
  const index = Math.max(0, order.indexOf(trackId));
  return COLOURS[index % COLOURS.length] ?? COLOURS[0]!;
}

export function ScoreChart({ report }: { report: Report }) {
  const series = seriesByTrack(report);
  const order = [...series.keys()].sort((a, b) => a - b);
  const duration = Math.max(report.video.duration_s, ...report.frames.map((f) => f.timestamp), 1e-3);
  const x = (t: number) => PAD.left + (t / duration) * (W - PAD.left - PAD.right);
  const y = (p: number) => PAD.top + (1 - p) * (H - PAD.top - PAD.bottom);
  const step = tickStep(duration);
  const xTicks = Array.from({ length: Math.floor(duration / step + 1e-9) + 1 }, (_, i) => i * step);
  const yTicks = [0, 0.25, 0.5, 0.75, 1];

  if (order.length === 0) {
    return <p className="muted">No face was found in the sampled frames, so there is no score to plot.</p>;
  }
  const summary = order
    .map((id) => {
      const ps = series.get(id)!.map((pt) => pt.p);
      return `track ${id}: ${ps.length} frames, from ${Math.round(100 * Math.min(...ps))}% to ${Math.round(100 * Math.max(...ps))}%`;
    })
    .join("; ");

  return (
    <figure className="chart" style={{ margin: 0 }}>
      <div className="plot" role="region" tabIndex={0} aria-label="Score chart (scrolls sideways on small screens)">
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc">
          <title id="chart-title">Probability of manipulation per sampled frame over time</title>
          <desc id="chart-desc">
            Decision threshold {Math.round(100 * report.threshold)}%. {summary}.
          </desc>
          {yTicks.map((p) => (
            <g key={p}>
              <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={y(p)} y2={y(p)} />
              <text x={PAD.left - 6} y={y(p) + 4} textAnchor="end">
                {Math.round(p * 100)}%
              </text>
            </g>
          ))}
          {xTicks.map((t) => (
            <text key={t} x={x(t)} y={H - PAD.bottom + 16} textAnchor="middle">
              {Number.isInteger(step) ? t.toFixed(0) : t.toFixed(1)} s
            </text>
          ))}
          <text x={(PAD.left + W - PAD.right) / 2} y={H - 4} textAnchor="middle">
            time in the video
          </text>
          <line className="axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} />
          <line className="axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
          <line className="threshold" x1={PAD.left} x2={W - PAD.right} y1={y(report.threshold)} y2={y(report.threshold)} />
          {order.map((id) => {
            const points = series.get(id)!;
            const colour = trackColour(id, order);
            return (
              <g key={id} data-track={id}>
                <polyline
                  fill="none"
                  stroke={colour}
                  strokeWidth={2}
                  points={points.map((pt) => `${x(pt.t).toFixed(1)},${y(pt.p).toFixed(1)}`).join(" ")}
                />
                {points.map((pt) => (
                  <circle key={pt.t} cx={x(pt.t)} cy={y(pt.p)} r={3} fill={colour}>
                    <title>{`track ${id}, ${pt.t.toFixed(2)} s: ${(100 * pt.p).toFixed(1)}%`}</title>
                  </circle>
                ))}
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption className="legend">
        {order.map((id) => (
          <span key={id}>
            <span className="swatch" style={{ background: trackColour(id, order) }} aria-hidden="true" />
            Face track {id}
          </span>
        ))}
        <span>
          <span className="swatch" style={{ background: "var(--fake)" }} aria-hidden="true" />
          Threshold ({Math.round(100 * report.threshold)}%)
        </span>
      </figcaption>
    </figure>
  );
}
