/**
 * pgBackRest, the real backup tool of the restore tests and the restore benchmark: a local repository's
 * configuration file, a stanza per cluster, running `pgbackrest` with it, and editing a member's YAML (written by
 * `scripts/lib/local_cluster.ts`) as a document to add archiving, a custom bootstrap or replica methods.
 *
 * May import scripts/lib/local_cluster.ts (types) and npm:yaml.
 *
 * @module
 */
import { parse, stringify } from "yaml";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";

/** Run pgBackRest with the configuration `conf`; throws with its output unless it exits 0. */
export async function pgbackrest(conf: string, stanza: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("pgbackrest", {
    args: [`--config=${conf}`, `--stanza=${stanza}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`pgbackrest ${args.join(" ")} exited ${out.code}: ${text}`);
  return text;
}

/**
 * Write `<repo>/pgbackrest.conf`: a repository, lock and spool under `repo`, quiet console, fast start, and the
 * `extra` global options (`key=value` lines); returns the file's path.
 */
export async function writeRepoConf(repo: string, extra: string[] = []): Promise<string> {
  const conf = `${repo}/pgbackrest.conf`;
  await Deno.writeTextFile(
    conf,
    `[global]\nrepo1-path=${repo}/repo\nlock-path=${repo}/lock\nspool-path=${repo}/spool\n` +
      `log-level-console=warn\nlog-level-file=off\nstart-fast=y\narchive-timeout=60\n` +
      extra.map((l) => `${l}\n`).join(""),
  );
  return conf;
}

/** The `[stanza]` section for a member's data directory, port and socket. */
export function stanzaSection(stanza: string, m: MemberLayout, socketDir: string): string {
  return `\n[${stanza}]\npg1-path=${m.dataDir}\npg1-port=${m.pgPort}\npg1-socket-path=${socketDir}\n`;
}

/** The local `postgresql.parameters` that archive a member's WAL to `stanza`. */
export function archiveTo(conf: string, stanza: string): Record<string, string> {
  return {
    archive_mode: "on",
    archive_command: `pgbackrest --config=${conf} --stanza=${stanza} archive-push %p`,
  };
}

/** The parts of a member's YAML the tests edit. */
export interface MemberYaml {
  bootstrap: Record<string, unknown>;
  postgresql: { parameters: Record<string, unknown>; [key: string]: unknown };
}

/** Edit a member's YAML as a document. */
export async function editYaml(m: MemberLayout, edit: (doc: MemberYaml) => void): Promise<void> {
  const doc = parse(await Deno.readTextFile(m.configPath)) as MemberYaml;
  edit(doc);
  await Deno.writeTextFile(m.configPath, stringify(doc), { mode: 0o600 });
}
