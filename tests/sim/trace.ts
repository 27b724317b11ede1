/**
 * The simulator's trace: one line per HA cycle (the cycle's sentence, its actions, the action that failed) or per
 * fault/event, and how such a line is printed in transcripts and in a violation's trace tail.
 *
 * Imports nothing.
 *
 * @module
 */

/** One line of the trace: a cycle's sentence or a fault/event. */
export interface TraceLine {
  at: number;
  member: string;
  kind: "cycle" | "event";
  text: string;
  actions: string[];
  failed: string | null;
}

/** `12.345` seconds, padded. */
export function formatTime(ms: number): string {
  return (ms / 1000).toFixed(3).padStart(8);
}

/** `  12.000 pg1  sentence [actions] (failed: ...)` for traces. */
export function formatTraceLine(l: TraceLine): string {
  const actions = l.actions.length > 0 ? ` [${l.actions.join(" ")}]` : "";
  const failed = l.failed ? ` (${l.failed})` : "";
  const text = l.kind === "event" ? `-- ${l.text}` : l.text;
  return `${formatTime(l.at)} ${l.member}  ${text}${actions}${failed}`;
}
