import type { Report } from "@/lib/api/types";
import { percent, seconds } from "@/lib/format";

import { trackColour } from "./ScoreChart";
import { VerdictBadge } from "./Verdict";

/** Each face followed across the sampled frames, with its sequence-level score. */
export function TracksTable({ report }: { report: Report }) {
  if (report.tracks.length === 0) return <p className="muted">No face tracks.</p>;
  const order = report.tracks.map((t) => t.track_id).sort((a, b) => a - b);
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Face tracks and their scores</caption>
        <thead>
          <tr>
            <th scope="col">Track</th>
            <th scope="col">Verdict</th>
            <th scope="col" className="num">
              P(fake)
            </th>
            <th scope="col" className="num">
              Frames
            </th>
            <th scope="col" className="num hide-narrow">
              Visible
            </th>
            <th scope="col" className="num hide-narrow">
              Face size
            </th>
          </tr>
        </thead>
        <tbody>
          {report.tracks.map((track) => (
            <tr key={track.track_id}>
              <th scope="row">
                <span className="swatch" style={{ background: trackColour(track.track_id, order), display: "inline-block", width: "0.8rem", height: "0.8rem", borderRadius: "2px", marginRight: "0.4rem", verticalAlign: "-1px" }} aria-hidden="true" />
                Face {track.track_id}
              </th>
              <td>
                <VerdictBadge verdict={track.verdict} />
                {(track.reasons ?? []).map((reason) => (
                  <div key={reason.code} className="muted">
                    {reason.message}
                  </div>
                ))}
              </td>
              <td className="num">
                <strong>{percent(track.probability)}</strong>
              </td>
              <td className="num">{track.frames}</td>
              <td className="num hide-narrow">
                {seconds(track.first_timestamp)} – {seconds(track.last_timestamp)}
              </td>
              <td className="num hide-narrow">{Math.round(track.median_face_px)} px</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
