/**
 * The table of a run of Patroni's acceptance suite against hactl (scripts/compat/run.sh): reads behave's plain
 * output of each feature (`<feature>.txt`, streamed, so a run cut short by the timeout still counts what it
 * finished) and the feature file beside it (`<feature>.feature`, to list the scenarios never reached), and prints
 * a per-feature summary and a per-scenario table (feature, scenario, result, first failing step) in Markdown.
 *
 * Usage: deno run --allow-read --allow-write scripts/compat/report.ts [--title T] [--out FILE] LOG.txt...
 * `parseBehavePlain`, `scenarioNames` and `renderReport` are pure (tests/unit/compat_report_test.ts).
 *
 * @module
 */

export type ScenarioResult = "passed" | "failed" | "skipped" | "unfinished" | "not run";

export interface ScenarioRow {
  feature: string;
  scenario: string;
  result: ScenarioResult;
  /** The first step that did not pass, with the first line of its error (failed or unfinished scenarios). */
  firstFailure?: string;
}

const FEATURE = /^Feature: (.*)$/;
const SCENARIO = /^ {2}Scenario(?: Outline)?: (.*?)\s*$/;
const STEP = /^ {4}(.*) \.\.\. (passed|failed|skipped|undefined|untested|error)(?: in [0-9.]+s)?\s*$/;

/** The error line worth showing from the lines that follow a failed step. */
function errorLine(lines: string[]): string {
  const block: string[] = [];
  for (const l of lines) {
    if (SCENARIO.test(l) || STEP.test(l) || /^Failing scenarios:/.test(l)) break;
    if (l.trim() !== "") block.push(l.trim());
  }
  const assertion = block.find((l) => l.startsWith("Assertion Failed:"));
  if (assertion) return assertion;
  // A traceback ends with the exception line.
  return block.length > 0 ? block[block.length - 1]! : "";
}

/**
 * Parse behave's `--format plain --no-color` output of one feature. A scenario whose steps all passed passed, one
 * with a failed, undefined or erroring step failed, one whose steps were all skipped (or that has none) was
 * skipped; the scenario being run when the output ends without behave's closing summary is `unfinished`.
 */
export function parseBehavePlain(text: string, featureFallback = ""): ScenarioRow[] {
  const lines = text.split("\n");
  const rows: ScenarioRow[] = [];
  let feature = featureFallback;
  let current: { row: ScenarioRow; statuses: string[] } | null = null;
  const finish = () => {
    if (!current) return;
    const s = current.statuses;
    if (current.row.result === "unfinished") {
      current.row.result = s.length === 0 || s.every((x) => x === "skipped")
        ? "skipped"
        : s.every((x) => x === "passed")
        ? "passed"
        : "failed";
    }
    rows.push(current.row);
    current = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const f = FEATURE.exec(line);
    if (f) {
      feature = f[1]!.trim();
      continue;
    }
    const sc = SCENARIO.exec(line);
    if (sc) {
      finish();
      current = { row: { feature, scenario: sc[1]!, result: "unfinished" }, statuses: [] };
      continue;
    }
    if (/^Failing scenarios:|^\d+ features? passed/.test(line)) {
      finish();
      continue;
    }
    const st = STEP.exec(line);
    if (st && current) {
      const c: { row: ScenarioRow; statuses: string[] } = current;
      c.statuses.push(st[2]!);
      if (st[2] !== "passed" && st[2] !== "skipped" && !c.row.firstFailure) {
        const err = errorLine(lines.slice(i + 1));
        c.row.result = "failed";
        c.row.firstFailure = err ? `${st[1]} (${st[2]}): ${err}` : `${st[1]} (${st[2]})`;
      }
    }
  }
  // Output that stops inside a scenario (the feature's timeout): that scenario did not finish.
  const last = current as { row: ScenarioRow; statuses: string[] } | null;
  if (last) {
    if (last.row.result !== "failed") {
      last.row.result = "unfinished";
      const n = last.statuses.length;
      last.row.firstFailure = `cut short by the runner's timeout after ${n} step${n === 1 ? "" : "s"}`;
    }
    rows.push(last.row);
  }
  return rows;
}

/** The scenario names of a `.feature` file, in order. */
export function scenarioNames(featureText: string): string[] {
  const out: string[] = [];
  for (const line of featureText.split("\n")) {
    const m = /^\s*Scenario(?: Outline)?:\s*(.*?)\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Add the scenarios of the feature file that the output never reached, as `not run`. */
export function withUnreached(rows: ScenarioRow[], names: string[], feature: string): ScenarioRow[] {
  const seen = new Set(rows.map((r) => r.scenario));
  const name = rows[0]?.feature ?? feature;
  return [
    ...rows,
    ...names.filter((n) => !seen.has(n)).map((n) => ({
      feature: name,
      scenario: n,
      result: "not run" as const,
    })),
  ];
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();

/** The Markdown report: a summary per feature (with totals), then one row per scenario. */
export function renderReport(rows: ScenarioRow[], title = ""): string {
  const features = [...new Set(rows.map((r) => r.feature))];
  const count = (rs: ScenarioRow[], r: ScenarioResult) => rs.filter((x) => x.result === r).length;
  const out: string[] = [];
  if (title) out.push(`${title}`, "");
  out.push("| feature | passed | failed | skipped | not finished |", "| --- | --- | --- | --- | --- |");
  for (const f of features) {
    const rs = rows.filter((r) => r.feature === f);
    out.push(
      `| ${cell(f)} | ${count(rs, "passed")} | ${count(rs, "failed")} | ${count(rs, "skipped")} | ${
        count(rs, "unfinished") + count(rs, "not run")
      } |`,
    );
  }
  out.push(
    `| **total** | ${count(rows, "passed")} | ${count(rows, "failed")} | ${count(rows, "skipped")} | ${
      count(rows, "unfinished") + count(rows, "not run")
    } |`,
    "",
    "| feature | scenario | result | first failing step |",
    "| --- | --- | --- | --- |",
  );
  for (const r of rows) {
    out.push(`| ${cell(r.feature)} | ${cell(r.scenario)} | ${r.result} | ${cell(r.firstFailure ?? "")} |`);
  }
  return out.join("\n") + "\n";
}

async function main(args: string[]): Promise<void> {
  let title = "";
  let outFile = "";
  const logs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--title") title = args[++i] ?? "";
    else if (args[i] === "--out") outFile = args[++i] ?? "";
    else logs.push(args[i]!);
  }
  const rows: ScenarioRow[] = [];
  for (const log of logs) {
    const base = log.replace(/\.txt$/, "");
    const feature = base.split("/").pop()!;
    const text = await Deno.readTextFile(log).catch(() => "");
    const featureText = await Deno.readTextFile(`${base}.feature`).catch(() => "");
    rows.push(...withUnreached(parseBehavePlain(text, feature), scenarioNames(featureText), feature));
  }
  const report = renderReport(rows, title);
  if (outFile) await Deno.writeTextFile(outFile, report);
  await Deno.stdout.write(new TextEncoder().encode(report));
}

if (import.meta.main) await main(Deno.args);
