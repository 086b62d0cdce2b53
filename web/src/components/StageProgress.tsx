import { percent, stageLabel } from "@/lib/format";

/**
 * One progress bar per pipeline stage, in the order the API lists them (it lists every stage from
 * upload on, the ones still to come at 0, so the user sees the whole way ahead).
 */
export function StageProgress({ progress, current }: { progress: Record<string, number>; current: string | null }) {
  const stages = Object.entries(progress);
  return (
    <ol className="stages" aria-label="Analysis stages">
      {stages.map(([stage, fraction]) => {
        const id = `stage-${stage}`;
        return (
          <li key={stage} className="stage" data-stage={stage}>
            <label htmlFor={id} style={{ margin: 0, fontWeight: stage === current ? 700 : 400 }}>
              {stageLabel(stage)}
            </label>
            <progress id={id} max={1} value={fraction} />
            <span className="pct">{percent(fraction, 0)}</span>
          </li>
        );
      })}
    </ol>
  );
}
