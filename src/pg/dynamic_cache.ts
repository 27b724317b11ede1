/**
 * The local copy of the dynamic configuration, `<data_dir>/patroni.dynamic.json`, as Patroni keeps it: the last
 * `config` key read from etcd, written (temporary file, then rename; mode 0600) whenever that document changes, and
 * read once at start so the dynamic settings are known before etcd answers (and can be written back to an etcd that
 * lost its keys). Not a safety path: a file that cannot be written is logged once at warning and the agent goes on;
 * a file that cannot be read or parsed is named in a warning and ignored.
 *
 * Nothing is written into a data directory that holds no cluster yet (no `PG_VERSION`): initdb, pg_basebackup and
 * restore tools want an empty directory, so the copy waits until there is a cluster (the next document offered
 * after that is written).
 *
 * May import: `src/core/` (nothing needed), `src/config/`, `src/log/`; Deno's file API.
 *
 * @module
 */

/** The file's name inside the data directory (Patroni's). */
export const DYNAMIC_CACHE_FILE = "patroni.dynamic.json";

/** Where the copy's warnings and notes go. */
export interface DynamicCacheLog {
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** The file's text read as a dynamic configuration document, or why it is not one. Pure. */
export function parseDynamicCache(text: string): { doc: Record<string, unknown> } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "not a JSON object" };
  }
  return { doc: value as Record<string, unknown> };
}

/** The text written for `doc` (compact JSON, as Patroni writes it). Pure. */
export function dynamicCacheText(doc: Record<string, unknown>): string {
  return JSON.stringify(doc);
}

/**
 * The copy in `dataDir`: `load()` once at start, then `offer(doc)` with each document read from etcd (cheap when
 * unchanged: nothing is written unless the text differs from the file's as last read or written). The write is
 * synchronous (a file of a few hundred bytes, as Patroni writes it within its cycle): nothing else in this process
 * runs between the checks (a cluster in the directory, `mayWrite`: no job that empties it) and the rename.
 */
export class DynamicCacheFile {
  readonly path: string;
  /** The text the file holds as far as this process knows (read at start or last written); null: none. */
  #onDisk: string | null = null;
  /** A failed write was logged at warning; further failures go to debug until a write succeeds. */
  #warned = false;

  constructor(
    readonly dataDir: string,
    private readonly log: DynamicCacheLog,
    private readonly mayWrite: () => boolean = () => true,
  ) {
    this.path = `${dataDir}/${DYNAMIC_CACHE_FILE}`;
  }

  /** The cached document, or null when there is none or it cannot be used (a warning names the file). */
  load(): Record<string, unknown> | null {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      this.log.warn(`cannot read ${this.path}, ignoring it: ${errorText(err)}`);
      return null;
    }
    const parsed = parseDynamicCache(text);
    if ("error" in parsed) {
      this.log.warn(`ignoring ${this.path}: ${parsed.error}`);
      return null;
    }
    this.#onDisk = dynamicCacheText(parsed.doc);
    return parsed.doc;
  }

  /**
   * Write `doc` unless the file already holds it, or the directory holds no cluster yet, or a job may be emptying
   * it (the next offer writes it then); never throws.
   */
  offer(doc: Record<string, unknown>): void {
    const text = dynamicCacheText(doc);
    if (text === this.#onDisk || !this.mayWrite() || !exists(`${this.dataDir}/PG_VERSION`)) return;
    let tmp: string | null = null;
    try {
      tmp = Deno.makeTempFileSync({ dir: this.dataDir, prefix: `${DYNAMIC_CACHE_FILE}.` });
      Deno.chmodSync(tmp, 0o600);
      Deno.writeTextFileSync(tmp, text);
      Deno.renameSync(tmp, this.path);
      tmp = null;
      this.#onDisk = text;
      if (this.#warned) this.log.info(`wrote ${this.path} again`);
      this.#warned = false;
    } catch (err) {
      const message = `cannot write ${this.path} (the local copy of the dynamic configuration): ${
        errorText(err)
      }`;
      (this.#warned ? this.log.debug : this.log.warn)(message);
      this.#warned = true;
      if (tmp !== null) {
        try {
          Deno.removeSync(tmp);
        } catch { /* already gone */ }
      }
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
