// Display formatting only: numbers and dates as people read them.

/** 0.8731 -> "87.3%" (null -> "—"). */
export function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? "—" : `${(100 * value).toFixed(digits)}%`;
}

/** An ISO timestamp in the reader's locale. */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** 12.345 -> "12.3 s". */
export function seconds(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} s`;
}

/** What each verdict means, in the words the report uses. */
export const VERDICT_MEANINGS: Record<string, string> = {
  FAKE: "Substantial evidence of manipulation",
  REAL: "No evidence of manipulation found",
  INCONCLUSIVE: "The evidence does not support a verdict",
  NO_FACE: "No face was found",
};

/** The verdict as shown to people ("NO_FACE" -> "NO FACE"). */
export function verdictLabel(verdict: string | null | undefined): string {
  return verdict ? verdict.replace(/_/g, " ") : "—";
}

// Wording only: which stages exist, and their order, come from the API.
const STAGE_LABELS: Record<string, string> = {
  decode: "Decoding",
  faces: "Finding faces",
  model: "Scoring faces",
  heatmaps: "Heatmaps",
  report: "Report",
};

/** A pipeline stage's name for people; stages without a label keep the API's name. */
export function stageLabel(stage: string): string {
  return STAGE_LABELS[stage] ?? stage;
}

const STATUS_LABELS: Record<string, string> = {
  queued: "Queued",
  running: "Analysing",
  done: "Done",
  failed: "Failed",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}
