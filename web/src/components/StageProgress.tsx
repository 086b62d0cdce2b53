import { KNOWN_STAGES, percent, stageLabel } from "@/lib/format";

/**
 * One progress bar per pipeline stage. The API reports the stages that have started; the ones
 * still to come are shown at 0 so the user sees the whole way ahead.
 */
export function StageProgress({ progress, current }: { progress: Record<string, number>; current: string | null }) {
  const names = [...KNOWN_STAGES, ...Object.keys(progress).filter((name) => !KNOWN_STAGES.includes(name))];
  const stages = names.map((name) => [name, progress[name] ?? 0] as const);
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
