import type { Report } from "@/lib/api/types";
import { percent, verdictLabel } from "@/lib/format";

/** The verdict, its probability and threshold, and the API's plain-language explanation. */
export function Verdict({ report }: { report: Report }) {
  return (
    <section className={`verdict ${report.verdict}`} aria-labelledby="verdict-label" data-testid="verdict">
      <h2 className="visually-hidden">Verdict</h2>
      <p className="label" id="verdict-label">
        {verdictLabel(report.verdict)}
      </p>
      <dl className="facts">
        <div>
          <dt>Probability of manipulation</dt>
          <dd>{percent(report.probability)}</dd>
        </div>
        <div>
          <dt>Decision threshold</dt>
          <dd>{percent(report.threshold)}</dd>
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
