import type { Report } from "@/lib/api/types";
import { percent, VERDICT_MEANINGS, verdictLabel } from "@/lib/format";

/** The two-class decision at the threshold, and the uncertain band when the model has one. */
function twoClass(report: Report): string {
  const decision = report.decision ? `${report.decision} at ${percent(report.threshold)}` : percent(report.threshold);
  const band = report.band && report.band[0] !== report.band[1] ? `; uncertain band ${percent(report.band[0])} – ${percent(report.band[1])}` : "";
  return decision + band;
}

/** The verdict, what it means and why, its probability and threshold, and the explanation. */
export function Verdict({ report }: { report: Report }) {
  return (
    <section className={`verdict ${report.verdict}`} aria-labelledby="verdict-label" data-testid="verdict">
      <h2 className="visually-hidden">Verdict</h2>
      <p className="label" id="verdict-label">
        {verdictLabel(report.verdict)}
      </p>
      <p className="meaning">{VERDICT_MEANINGS[report.verdict] ?? ""}</p>
      {report.reasons && report.reasons.length > 0 && (
        <ul className="reasons" data-testid="verdict-reasons">
          {report.reasons.map((reason) => (
            <li key={reason.code}>{reason.message}</li>
          ))}
        </ul>
      )}
      <dl className="facts">
        <div>
          <dt>Probability of manipulation</dt>
          <dd>{percent(report.probability)}</dd>
        </div>
        <div>
          <dt>Two-class decision</dt>
          <dd>{twoClass(report)}</dd>
        </div>
        <div>
          <dt>Face tracks</dt>
          <dd>{report.tracks.length}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd className="mono" title={report.model.model_id}>
            {report.model.backbone}
            {report.model.trained ? "" : " (untrained)"}
          </dd>
        </div>
      </dl>
      <p className="explanation">{report.explanation}</p>
    </section>
  );
}

/** A small coloured verdict label for tables. */
export function VerdictBadge({ verdict }: { verdict: string | null | undefined }) {
  if (!verdict) return <span className="muted">—</span>;
  return <span className={`verdict-badge ${verdict}`}>{verdictLabel(verdict)}</span>;
}
