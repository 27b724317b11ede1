/**
 * `hactl edit-config [CLUSTER] [-s K=V ...] [-p GUC=V ...] [--apply FILE|-] [--replace FILE|-] [-q] [--force]`:
 * change the dynamic configuration (the DCS `config` key) as patronictl's `edit-config` does:
 * `--replace` starts from an empty document, `--apply` merges a YAML file
 * (Patroni's merge rules), `-s`/`-p` set dotted keys, and without any of them `$EDITOR` (else `editor`, else
 * `vi`) edits the YAML. Then a unified diff, `Apply these changes?` (skipped by `--force`), and a write with
 * compare-and-swap on the key's revision, so a concurrent change is never overwritten.
 *
 * hactl additions: the edited document must be a YAML mapping (patronictl would store `null`), a document setting
 * a key hactl does not support yet is refused (`config: <key>: not supported by hactl yet`, exit 1), and settings
 * the agents will adjust or ignore (a too-small `ttl`, a non-integer `loop_wait`, ...) are shown as warnings
 * before the confirmation. The diff is coloured on a terminal instead of going through a pager.
 *
 * @module
 */
import type { ClusterView } from "../src/core/types.ts";
import { yamlOf } from "./lib/cluster_table.ts";
import { parseYamlText } from "../src/config/config.ts";
import { normalizeDynamic } from "../src/config/dynamic.ts";
import { unsupportedDynamicProblems } from "../src/config/key_check.ts";
import { applyKeyValues, EditError, jsonEqual, patchConfigDoc, unifiedDiff } from "../src/config/edit.ts";
import { CTL_GLOBAL_HELP, CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { runCtl } from "./lib/command.ts";
import { type Asker, stdinAsker } from "./lib/prompt.ts";
import { writeConfigKey } from "./lib/dcs.ts";
import { loadClusterFromEtcd } from "./lib/cluster.ts";
import { writeErr, writeOut } from "./lib/io.ts";

type Doc = Record<string, unknown>;

export interface EditConfigDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  /** CAS write of the config key; false when its revision moved. */
  writeConfig(settings: CtlSettings, scope: string, value: Doc, modRevision: string): Promise<boolean>;
  /** A file's text; `-` is stdin. */
  readInput(path: string): Promise<string>;
  /** Edit `text` with the editor; returns the edited text. Throws `CtlError` as patronictl words it. */
  edit(text: string, scope: string, env: Record<string, string>): Promise<string>;
  asker(): Asker;
  /** Colour the diff (stdout is a terminal and NO_COLOR is unset). */
  colour(): boolean;
  out(text: string): void;
  err(text: string): void;
}

async function findOnPath(name: string, env: Record<string, string>): Promise<string | null> {
  for (const dir of (env.PATH ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir || "."}/${name}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return path;
    } catch {
      // not here
    }
  }
  return null;
}

/** Run the editor on a temporary `<cluster>-config-XXXX.yaml` with the terminal attached. */
export async function editWithEditor(
  text: string,
  scope: string,
  env: Record<string, string>,
): Promise<string> {
  let editor = env.EDITOR || null;
  if (!editor) editor = (await findOnPath("editor", env)) ?? (await findOnPath("vi", env));
  if (!editor) throw new CtlError("EDITOR environment variable is not set. editor or vi are not available");
  const file = await Deno.makeTempFile({ prefix: `${scope.replaceAll("/", "_")}-config-`, suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, text);
    // Through sh so that an EDITOR with arguments ("code -w") works too.
    const status = await new Deno.Command("/bin/sh", {
      args: ["-c", `${editor} "$1"`, "sh", file],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (status.code !== 0) throw new CtlError(`Editor exited with return code ${status.code}`);
    return await Deno.readTextFile(file);
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

async function readInput(path: string): Promise<string> {
  if (path === "-") return new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new CtlError(`cannot read ${path}: ${err instanceof Error ? err.message : err}`, { cause: err });
  }
}

const REAL_DEPS: EditConfigDeps = {
  loadCluster: loadClusterFromEtcd,
  writeConfig: writeConfigKey,
  readInput,
  edit: editWithEditor,
  asker: stdinAsker,
  colour: () => Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
  out: writeOut,
  err: writeErr,
};

const HELP = [
  "Usage: hactl edit-config [OPTIONS] [CLUSTER_NAME]",
  "",
  "  Change the cluster's dynamic configuration (the DCS config key). Without --set, --pg, --apply or",
  "  --replace the YAML opens in $EDITOR (else editor, else vi). Shows a diff and asks before writing; the",
  "  write fails, changing nothing, if someone else changed the configuration meanwhile.",
  "",
  "Options:",
  ...CTL_GLOBAL_HELP,
  "  -s, --set KEY=VALUE      Set a key (dotted path, e.g. loop_wait=5 or postgresql.use_pg_rewind=true);",
  "                           VALUE is YAML, 'null' removes the key. Repeatable",
  "  -p, --pg NAME=VALUE      Set a PostgreSQL parameter: short for -s postgresql.parameters.NAME=VALUE.",
  "                           Repeatable",
  "  --apply FILE             Merge a YAML file into the configuration (null removes a key); '-' = stdin",
  "  --replace FILE           Replace the configuration with a YAML file; '-' = stdin",
  "  -q, --quiet              Do not show the diff (nor 'Not changed')",
  "  --force                  Do not ask for confirmation (required with '-' as the file)",
  "  -h, --help               Show this message and exit",
  "",
  "Settings applied in this order: --replace, --apply, --set/--pg.",
  "",
].join("\n");

/** A YAML text that must hold a mapping (the whole dynamic configuration or a patch of it). */
function parseMapping(text: string, source: string): Doc {
  let value: unknown;
  try {
    value = parseYamlText(text, source);
  } catch (err) {
    const problems = (err as { problems?: string[] }).problems;
    throw new CtlError(problems ? problems.join("; ") : `${source}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CtlError(
      `${source}: expected a YAML mapping of configuration keys, found ${JSON.stringify(value)}`,
    );
  }
  return value as Doc;
}

function colourDiff(line: string): string {
  if (line.startsWith("---") || line.startsWith("+++")) return `\x1b[1m${line}\x1b[0m`;
  if (line.startsWith("@@")) return `\x1b[36m${line}\x1b[0m`;
  if (line.startsWith("-")) return `\x1b[31m${line}\x1b[0m`;
  if (line.startsWith("+")) return `\x1b[32m${line}\x1b[0m`;
  return line;
}

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: EditConfigDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: "Usage: hactl edit-config [OPTIONS] [CLUSTER_NAME]\nTry 'hactl edit-config --help' for help.",
    help: HELP,
    args,
    options: {
      set: { type: "string", short: "s", multiple: true },
      pg: { type: "string", short: "p", multiple: true },
      apply: { type: "string" },
      replace: { type: "string" },
      quiet: { type: "boolean", short: "q" },
      force: { type: "boolean" },
    },
    out: deps.out,
    err: deps.err,
    body: (values, positionals) => editConfig(values, positionals, env, deps),
  });
}

/** The command's own options, read. */
interface EditOptions {
  quiet: boolean;
  force: boolean;
  sets: string[];
  pgs: string[];
  applyFile: string | undefined;
  replaceFile: string | undefined;
}

/** Read the config key, build the changed document, then show, confirm and write it. */
async function editConfig(
  values: Record<string, unknown>,
  positionals: string[],
  env: Record<string, string>,
  deps: EditConfigDeps,
): Promise<number> {
  const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
  if (positionals.length > 1) throw new CtlError(`Got unexpected extra argument (${positionals[1]})`);
  const scope = positionals[0] ?? settings.scope;
  if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
  const opts: EditOptions = {
    quiet: values.quiet === true,
    force: values.force === true,
    sets: (values.set as string[] | undefined) ?? [],
    pgs: (values.pg as string[] | undefined) ?? [],
    applyFile: values.apply as string | undefined,
    replaceFile: values.replace as string | undefined,
  };
  const view = await deps.loadCluster(settings, scope);
  if (!view.config) throw new CtlError(`The config key does not exist in the cluster ${scope}`);
  // Garbage in the key (written by another tool) is edited as an empty document; say so.
  for (const p of view.problems.filter((p) => p.startsWith("config:"))) deps.err(`Warning: ${p}\n`);
  const current = view.config.value;
  const before = yamlOf(current, false);
  const { changed, after } = await changedConfig(current, before, opts, scope, env, deps);
  if (jsonEqual(current, changed)) {
    if (!opts.quiet) deps.out("Not changed\n");
    return 0;
  }
  if (!opts.quiet) {
    const colour = deps.colour();
    deps.out(unifiedDiff(before, after).map((l) => (colour ? colourDiff(l) : l) + "\n").join(""));
  }
  const refused = unsupportedDynamicProblems(changed, "config");
  if (refused.length > 0) {
    deps.err(refused.map((p) => `${p}\n`).join(""));
    return 1;
  }
  for (const w of normalizeDynamic(changed).warnings) deps.err(`Warning: ${w}\n`);
  if ((opts.applyFile === "-" || opts.replaceFile === "-") && !opts.force) {
    deps.out("Use --force option to apply changes\n");
    return 0;
  }
  if (opts.force || deps.asker().confirm("Apply these changes?")) {
    if (!(await deps.writeConfig(settings, scope, changed, view.config.modRevision))) {
      throw new CtlError("Config modification aborted due to concurrent changes");
    }
    deps.out("Configuration changed\n");
  }
  return 0;
}

/**
 * The changed document and its YAML: `--replace` (from an empty document), then `--apply`, then `--set`/`--pg`;
 * without any of them, what the editor returns.
 */
async function changedConfig(
  current: Doc,
  before: string,
  opts: EditOptions,
  scope: string,
  env: Record<string, string>,
  deps: EditConfigDeps,
): Promise<{ changed: Doc; after: string }> {
  const { replaceFile, applyFile, sets, pgs } = opts;
  let after: string | null = null;
  let changed: Doc = structuredClone(current);
  if (replaceFile) {
    changed = {};
    patchConfigDoc(changed, parseMapping(await deps.readInput(replaceFile), sourceName(replaceFile)));
    after = yamlOf(changed, false);
  }
  if (applyFile) {
    patchConfigDoc(changed, parseMapping(await deps.readInput(applyFile), sourceName(applyFile)));
    after = yamlOf(changed, false);
  }
  if (sets.length > 0 || pgs.length > 0) {
    try {
      changed = applyKeyValues(changed, [
        ...sets,
        ...pgs.map((p) => "postgresql.parameters." + p.trimStart()),
      ]);
    } catch (err) {
      if (err instanceof EditError) throw new CtlError(err.message, { cause: err });
      throw err;
    }
    after = yamlOf(changed, false);
  }
  if (after === null) {
    after = await deps.edit(before, scope, env);
    changed = parseMapping(after, "the edited configuration");
  }
  return { changed, after };
}

/** How an input file is named in messages (`-` is stdin). */
function sourceName(path: string): string {
  return path === "-" ? "stdin" : path;
}
