/**
 * The `log.dir` sink: `<dir>/patroni.log`, rotated by size as Python's RotatingFileHandler does for Patroni. Before
 * a line would take the file to `file_size` bytes or more, `patroni.log.<file_num-1>` moves to `.<file_num>` (the
 * oldest is dropped), ..., `patroni.log` to `patroni.log.1`, and a new `patroni.log` is started. `file_num: 0`
 * or `file_size: 0` means no rotation (Python's rule). Files get `log.mode` when set (else 0666 minus umask).
 * The name is Patroni's, so existing log shippers and logrotate rules keep working.
 *
 * Synchronous writes: one line is one `write`, in order, and nothing is lost when the process exits right after.
 *
 * @module
 */

/** Patroni's log file name inside `log.dir`. */
export const LOG_FILE_NAME = "patroni.log";

export interface RotatingFileOptions {
  dir: string;
  /** Rotate before the file would reach this many bytes (`log.file_size`, default 25000000). */
  fileSize: number;
  /** Backups kept: `patroni.log.1` .. `patroni.log.<fileNum>` (`log.file_num`, default 4). */
  fileNum: number;
  /** `log.mode`: permissions of the log files. */
  mode?: number;
}

const ENCODER = new TextEncoder();

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `<dir>/patroni.log` with size-based rotation. Throws (naming `log.dir`) when the file cannot be opened. */
export class RotatingLogFile {
  readonly path: string;
  #file: Deno.FsFile;
  #size: number;

  constructor(readonly options: RotatingFileOptions) {
    this.path = `${options.dir.replace(/\/+$/, "")}/${LOG_FILE_NAME}`;
    try {
      Deno.mkdirSync(options.dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new Error(`log.dir: cannot create ${options.dir}: ${err instanceof Error ? err.message : err}`);
    }
    this.#file = this.#open();
    this.#size = this.#file.statSync().size;
  }

  #open(): Deno.FsFile {
    try {
      const file = Deno.openSync(this.path, { append: true, create: true });
      if (this.options.mode !== undefined) Deno.chmodSync(this.path, this.options.mode);
      return file;
    } catch (err) {
      throw new Error(`log.dir: cannot open ${this.path}: ${err instanceof Error ? err.message : err}`);
    }
  }

  /** Appends `text` (one or more whole lines), rotating first when it would not fit. */
  write(text: string): void {
    const data = ENCODER.encode(text);
    const { fileSize, fileNum } = this.options;
    if (fileSize > 0 && fileNum > 0 && this.#size > 0 && this.#size + data.length >= fileSize) this.rotate();
    let written = 0;
    while (written < data.length) written += this.#file.writeSync(data.subarray(written));
    this.#size += data.length;
  }

  /** Shifts the backups by one and starts a new, empty `patroni.log`. */
  rotate(): void {
    this.#file.close();
    const { fileNum } = this.options;
    for (let i = fileNum - 1; i >= 1; i--) {
      const from = `${this.path}.${i}`;
      if (exists(from)) Deno.renameSync(from, `${this.path}.${i + 1}`);
    }
    if (exists(this.path)) Deno.renameSync(this.path, `${this.path}.1`);
    this.#file = this.#open();
    this.#size = 0;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
