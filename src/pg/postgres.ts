/**
 * The real `PostgresPort`: one local PostgreSQL instance driven through its own programs (initdb, pg_ctl,
 * pg_basebackup, pg_controldata) and a single pooled SQL connection (npm:postgres over TCP to the first listen
 * address, as the superuser, with short timeouts and no open transactions).
 *
 * Files hactl owns in `config_dir` (default: the data directory): `postgresql.conf` (includes
 * `postgresql.base.conf`, initdb's original), `pg_hba.conf`, `pg_ident.conf`; in the data directory:
 * `standby.signal` and `postgresql.log` (the postmaster's stderr). Passwords only ever go to the `pgpass` file
 * (0600), the temporary initdb `--pwfile` (0600, removed) and role-setting SQL sent with statement logging off.
 *
 * Launching: `pg_ctl start -w` forks, calls `setsid()` and execs the postmaster with its output in
 * `postgresql.log`, so Postgres is not our child and outlives the agent (systemd `KillMode=process`); a restarted
 * agent adopts it through `postmaster.pid` + `/proc`.
 *
 * I/O adapter: imports `ports.ts`, `types.ts`, `config.ts` (types), `pg_conf.ts`, `pg_process.ts`, `pg_status.ts`.
 *
 * @module
 */
import postgres from "postgres";
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/config.ts";
import { PostgresError, type PostgresPort, slotNameFor } from "../core/ports.ts";
import {
  emptyPgObservation,
  type HistoryEntry,
  type PgObservation,
  type TimelineSwitch,
  type Upstream,
} from "../core/types.ts";
import { ensureRoles } from "./roles.ts";
import { rewindFrom } from "./rewind.ts";
import {
  addCmdlinePending,
  fillFromStatus,
  parseTimelineHistory,
  STATUS_SQL,
  type StatusRow,
  timelineHistoryFiles,
} from "./status.ts";
import {
  applyControlDataMinimums,
  BASE_CONF,
  basebackupArgv,
  buildHba,
  buildPostgresqlConf,
  cmdlineOptions,
  defaultPgHba,
  effectiveParameters,
  initdbArgv,
  localConnectHost,
  type ParamValue,
  parseConnUrl,
  parseControlData,
  pgpassLine,
  replicationConninfo,
  shellQuote,
} from "./conf.ts";
import {
  childEnv,
  delay,
  exists,
  postmasterPid,
  removeIfExists,
  resolveBinDir,
  run,
  runChecked,
  stopSafepointReached,
  tail,
  wipeDirectory,
  writeIfChanged,
  writePrivateFile,
} from "./process.ts";

const log = getLogger(["hactl", "postgres"]);

/** How long one status query may take before the connection is dropped. */
const QUERY_TIMEOUT_MS = 5_000;

export interface LocalPostgresOptions {
  /** Uses `scope`, `name`, `postgresql`, `bootstrap`. */
  config: Config;
  /** `postgresql.parameters` of the DCS `config` key, read at every start. */
  dynamicParameters: () => Record<string, ParamValue>;
  /** `postgresql.use_slots` of the dynamic configuration. */
  useSlots: () => boolean;
}

/** The local PostgreSQL instance (see the module comment for the files it owns and how it launches). */
export class LocalPostgres implements PostgresPort {
  #config: Config;
  readonly #dynamicParameters: () => Record<string, ParamValue>;
  readonly #useSlots: () => boolean;
  #binDir: string | null = null;
  #sql: postgres.Sql | null = null;
  #sysid: string | null = null;
  /** pg_controldata output and when it was read (monotonic ms): replicas re-read it at most every 10 s. */
  #controlDataCache: { at: number; data: Record<string, string> } | null = null;

  constructor(opts: LocalPostgresOptions) {
    this.#config = opts.config;
    this.#dynamicParameters = opts.dynamicParameters;
    this.#useSlots = opts.useSlots;
  }

  get #pg() {
    return this.#config.postgresql;
  }
  get #dataDir(): string {
    return this.#pg.dataDir.replace(/\/+$/, "");
  }
  get #configDir(): string {
    return (this.#pg.configDir || this.#pg.dataDir).replace(/\/+$/, "");
  }
  get #pgpass(): string {
    return this.#pg.pgpass || `/tmp/pgpass_${slotNameFor(this.#config.name)}`;
  }
  get #timeoutMs(): number {
    return (this.#pg.pgCtlTimeout > 0 ? this.#pg.pgCtlTimeout : 60) * 1000;
  }

  async #bin(program: string): Promise<string> {
    this.#binDir ??= await resolveBinDir(this.#pg.binDir, Deno.env.get("PATH"));
    return `${this.#binDir}/${program}`;
  }

  // ---------------------------------------------------------------- observe

  async observe(): Promise<PgObservation> {
    const obs = emptyPgObservation();
    obs.dataDir = await this.#dataDirState();
    if (obs.dataDir !== "initialized") {
      if (obs.dataDir === "empty") this.#sysid = null;
      return obs;
    }
    obs.standbySignal = await exists(`${this.#dataDir}/standby.signal`);
    obs.sysid = await this.#systemIdentifier();
    obs.running = (await postmasterPid(this.#dataDir)) !== null;
    if (!obs.running) return obs;
    let row: StatusRow;
    try {
      const rows = await this.#query((sql) => sql.unsafe(STATUS_SQL));
      row = rows[0]!["status"] as StatusRow;
    } catch (e) {
      log.debug("status query failed: {error}", { error: e instanceof Error ? e.message : String(e) });
      return obs;
    }
    fillFromStatus(obs, row);
    try {
      addCmdlinePending(obs, row.settings, await this.#wantedCmdline(obs.role === "replica"));
    } catch (e) {
      log.debug("cannot compare command-line parameters: {error}", { error: String(e) });
    }
    if (obs.role === "primary" && obs.timeline !== null && obs.timeline > 1) {
      obs.timelineHistory = await this.#timelineHistory(obs.timeline);
    }
    return obs;
  }

  /** The current timeline's history file, parsed; empty when it cannot be read. */
  async #timelineHistory(timeline: number): Promise<TimelineSwitch[]> {
    const file = `${this.#dataDir}/pg_wal/${timeline.toString(16).toUpperCase().padStart(8, "0")}.history`;
    try {
      return parseTimelineHistory(await Deno.readTextFile(file));
    } catch (e) {
      log.debug("cannot read {file}: {error}", { file, error: e instanceof Error ? e.message : String(e) });
      return [];
    }
  }

  async #dataDirState(): Promise<PgObservation["dataDir"]> {
    try {
      const st = await Deno.stat(this.#dataDir);
      if (!st.isDirectory) return "inaccessible";
      await Deno.stat(`${this.#dataDir}/PG_VERSION`);
      return "initialized";
    } catch (e) {
      return e instanceof Deno.errors.NotFound ? "empty" : "inaccessible";
    }
  }

  /**
   * The command-line parameters this server would be started with now: the current configuration, on a replica
   * raised to the primary's values recorded in pg_controldata (re-read at most every 10 s).
   */
  async #wantedCmdline(replica: boolean): Promise<Record<string, string>> {
    const params = this.#effective(true);
    if (replica) {
      const now = performance.now();
      if (!this.#controlDataCache || now - this.#controlDataCache.at > 10_000) {
        this.#controlDataCache = { at: now, data: await this.#controlData() };
      }
      applyControlDataMinimums(params, this.#controlDataCache.data);
    }
    return params;
  }

  /** Replace the local configuration (a reload); the next start, reload and observation use it. */
  setConfig(config: Config): void {
    this.#config = config;
  }

  async #controlData(): Promise<Record<string, string>> {
    const r = await run(await this.#bin("pg_controldata"), [this.#dataDir], {
      timeoutMs: 10_000,
      env: childEnv({ LC_ALL: "C", LANG: "C" }),
    });
    return r.code === 0 ? parseControlData(r.stdout) : {};
  }

  async #systemIdentifier(): Promise<string | null> {
    if (this.#sysid === null) {
      this.#sysid = (await this.#controlData())["Database system identifier"] ?? null;
    }
    return this.#sysid;
  }

  // ---------------------------------------------------------------- SQL

  #client(): postgres.Sql {
    if (this.#sql) return this.#sql;
    const su = this.#pg.authentication.superuser;
    this.#sql = postgres({
      host: localConnectHost(this.#pg.listen.hosts),
      port: this.#pg.listen.port,
      user: su.username,
      ...(su.password !== undefined ? { password: su.password } : {}),
      database: "postgres",
      max: 1,
      idle_timeout: 30,
      connect_timeout: 2,
      prepare: false,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "hactl", statement_timeout: QUERY_TIMEOUT_MS },
    });
    return this.#sql;
  }

  async #closeClient(): Promise<void> {
    const sql = this.#sql;
    this.#sql = null;
    if (sql) await sql.end({ timeout: 0 }).catch(() => {});
  }

  /** Run one statement with a client-side deadline; on timeout or connection loss the client is dropped. */
  async #query<T>(fn: (sql: postgres.Sql) => PromiseLike<T>, timeoutMs = QUERY_TIMEOUT_MS): Promise<T> {
    const sql = this.#client();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PostgresError(`query timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([fn(sql), timeout]);
    } catch (e) {
      if (!(e instanceof Error && "severity" in e)) await this.#closeClient(); // not a server-side SQL error
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Poll until a trivial query answers (and, if given, `check` holds), or throw at the deadline. */
  async #waitFor(
    what: string,
    deadline: number,
    check?: (sql: postgres.Sql) => Promise<boolean>,
  ): Promise<void> {
    let last = "";
    while (Date.now() < deadline) {
      try {
        const ok = check ? await this.#query(check) : (await this.#query((sql) => sql`SELECT 1`), true);
        if (ok) return;
        last = "condition not met yet";
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await delay(200);
    }
    throw new PostgresError(`timed out waiting for ${what}: ${last}`);
  }

  // ---------------------------------------------------------------- files

  /**
   * Write postgresql.conf, pg_hba/pg_ident, pgpass and the signal files for `role`. Returns the postmaster
   * command-line options (shell-quoted for pg_ctl -o), built from the same parameters as the conf file.
   */
  async #writeConfig(role: "primary" | "replica", upstream: Upstream | null): Promise<string> {
    await Deno.mkdir(this.#configDir, { recursive: true, mode: 0o700 });
    const { text, params } = await this.#renderConf(role, upstream);
    await writeIfChanged(`${this.#configDir}/postgresql.conf`, text);
    const hba = `${this.#configDir}/pg_hba.conf`;
    if (this.#pg.pgHba.length > 0) await writeIfChanged(hba, buildHba(this.#pg.pgHba));
    else if (!(await exists(hba))) await writeIfChanged(hba, buildHba(this.#defaultHba()));
    const ident = `${this.#configDir}/pg_ident.conf`;
    if (this.#pg.pgIdent.length > 0) await writeIfChanged(ident, buildHba(this.#pg.pgIdent));
    else if (!(await exists(ident))) await writeIfChanged(ident, buildHba([]));
    if (role === "replica") {
      if (!(await exists(`${this.#dataDir}/standby.signal`))) {
        await Deno.writeTextFile(`${this.#dataDir}/standby.signal`, "", { mode: 0o600 });
      }
    } else {
      await removeIfExists(`${this.#dataDir}/standby.signal`);
    }
    await removeIfExists(`${this.#dataDir}/recovery.signal`);
    return cmdlineOptions(params).map(shellQuote).join(" ");
  }

  #defaultHba(): string[] {
    return defaultPgHba(this.#pg.authentication.replication.username);
  }

  #effective(quiet = false): Record<string, string> {
    const { params, warnings } = effectiveParameters({
      dynamic: this.#dynamicParameters(),
      local: this.#pg.parameters,
      scope: this.#config.scope,
      listen: this.#pg.listen,
      hbaFile: `${this.#configDir}/pg_hba.conf`,
      identFile: `${this.#configDir}/pg_ident.conf`,
      defaultSocketDir: "/tmp",
    });
    if (!quiet) { for (const w of warnings) log.warn(w); }
    return params;
  }

  async #renderConf(
    role: "primary" | "replica",
    upstream: Upstream | null,
  ): Promise<{ text: string; params: Record<string, string> }> {
    const params = this.#effective();
    let recovery: Record<string, string> | null = null;
    if (role === "replica") {
      const raised = applyControlDataMinimums(params, await this.#controlData());
      if (raised.length) {
        log.debug("raised {names} to the values in pg_controldata", { names: raised.join(",") });
      }
      recovery = { recovery_target_timeline: "latest" };
      if (upstream && upstream.name !== this.#config.name) {
        await this.#writePgpass(upstream);
        recovery["primary_conninfo"] = this.#replicationConninfo(upstream);
        if (this.#useSlots()) recovery["primary_slot_name"] = slotNameFor(this.#config.name);
      }
    }
    const includeBase = await exists(`${this.#configDir}/${BASE_CONF}`);
    return { text: buildPostgresqlConf({ params, includeBase, recovery }), params };
  }

  #replicationConninfo(upstream: Upstream): string {
    const user = this.#pg.authentication.replication;
    return replicationConninfo({
      connUrl: upstream.connUrl,
      user: user.username,
      passfile: this.#pgpass,
      applicationName: this.#config.name,
      sslmode: user.sslmode,
      gssencmode: user.gssencmode,
      channelBinding: user.channel_binding,
      ssl: {
        sslcert: user.sslcert,
        sslkey: user.sslkey,
        sslpassword: user.sslpassword,
        sslrootcert: user.sslrootcert,
        sslcrl: user.sslcrl,
        sslcrldir: user.sslcrldir,
      },
    });
  }

  async #writePgpass(upstream: Upstream): Promise<void> {
    const { host, port } = parseConnUrl(upstream.connUrl);
    const user = this.#pg.authentication.replication;
    const lines = user.password !== undefined ? [pgpassLine(host, port, user.username, user.password)] : [];
    await writePrivateFile(this.#pgpass, lines.map((l) => l + "\n").join(""));
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * initdb + configuration + start as primary + roles. On any failure Postgres is stopped and the half-built data
   * directory is moved aside to `<data_dir>.failed` (replacing an older one), as Patroni does, so it can never be
   * started later and win a leader race with a system identifier of its own; the next race starts from scratch.
   */
  async bootstrap(): Promise<void> {
    try {
      await this.#bootstrap();
    } catch (e) {
      await this.stop("immediate").catch(() => {});
      const failed = `${this.#dataDir}.failed`;
      await Deno.remove(failed, { recursive: true }).catch(() => {});
      await Deno.rename(this.#dataDir, failed).catch(() => {});
      this.#sysid = null;
      log.error("bootstrap failed; moved the data directory aside to {failed}", { failed });
      throw e;
    }
  }

  async #bootstrap(): Promise<void> {
    const su = this.#pg.authentication.superuser;
    let pwfile: string | null = null;
    try {
      if (su.password !== undefined) {
        pwfile = await Deno.makeTempFile({ prefix: "hactl-initdb-" });
        await Deno.writeTextFile(pwfile, su.password + "\n", { mode: 0o600 });
      }
      const { argv, dropped } = initdbArgv({
        dataDir: this.#dataDir,
        superuser: su.username,
        pwfile,
        extra: this.#config.bootstrap.initdb,
      });
      if (dropped.length) log.warn("ignored initdb options hactl sets itself: {dropped}", { dropped });
      log.info("running initdb in {dir}", { dir: this.#dataDir });
      await runChecked(await this.#bin("initdb"), argv, { timeoutMs: 600_000, what: "initdb" });
    } finally {
      if (pwfile) await removeIfExists(pwfile);
    }
    this.#sysid = null;
    await Deno.mkdir(this.#configDir, { recursive: true, mode: 0o700 });
    await Deno.rename(`${this.#dataDir}/postgresql.conf`, `${this.#configDir}/${BASE_CONF}`);
    const hba = this.#pg.pgHba.length > 0
      ? this.#pg.pgHba
      : this.#config.bootstrap.pgHba.length > 0
      ? this.#config.bootstrap.pgHba
      : this.#defaultHba();
    await writeIfChanged(`${this.#configDir}/pg_hba.conf`, buildHba(hba));
    await this.start("primary", null);
    await ensureRoles((fn) => this.#query(fn), this.#pg.authentication);
    log.info("roles for superuser, replication and rewind are in place");
  }

  async rewind(upstream: Upstream): Promise<void> {
    if ((await postmasterPid(this.#dataDir)) !== null) {
      throw new PostgresError(`cannot rewind ${this.#dataDir}: Postgres is running there`);
    }
    await this.#closeClient();
    await rewindFrom(upstream, {
      dataDir: this.#dataDir,
      configDir: this.#configDir,
      clusterState: (await this.#controlData())["Database cluster state"] ?? "",
      bin: (program) => this.#bin(program),
      authentication: this.#pg.authentication,
    });
    this.#sysid = null;
  }

  async createReplica(upstream: Upstream): Promise<void> {
    if ((await postmasterPid(this.#dataDir)) !== null) {
      throw new PostgresError(`cannot create a replica in ${this.#dataDir}: Postgres is running there`);
    }
    await this.#closeClient();
    await this.#writePgpass(upstream);
    const { argv, dropped } = basebackupArgv({
      dataDir: this.#dataDir,
      conninfo: this.#replicationConninfo(upstream),
      extra: this.#pg.basebackup,
    });
    if (dropped.length) log.warn("ignored pg_basebackup options hactl sets itself: {dropped}", { dropped });
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= 2; attempt++) {
      await wipeDirectory(this.#dataDir);
      this.#sysid = null;
      log.info("pg_basebackup from {upstream} (attempt {attempt})", { upstream: upstream.name, attempt });
      try {
        await runChecked(await this.#bin("pg_basebackup"), argv, {
          timeoutMs: 7 * 24 * 3600_000,
          what: `pg_basebackup from ${upstream.name}`,
        });
        lastError = null;
        break;
      } catch (e) {
        lastError = e;
        log.warn("{error}", { error: e instanceof Error ? e.message : String(e) });
        if (attempt < 2) await delay(5_000);
      }
    }
    if (lastError) {
      await wipeDirectory(this.#dataDir);
      throw lastError;
    }
    await removeIfExists(`${this.#dataDir}/postgresql.log`);
    await this.#writeConfig("replica", upstream);
  }

  async start(role: "primary" | "replica", upstream: Upstream | null): Promise<void> {
    if ((await postmasterPid(this.#dataDir)) !== null) return;
    if ((await this.#dataDirState()) !== "initialized") {
      throw new PostgresError(`cannot start Postgres: ${this.#dataDir} holds no initialized data directory`);
    }
    await removeIfExists(`${this.#dataDir}/postmaster.pid`); // stale: no live postmaster owns it
    const options = await this.#writeConfig(role, upstream);
    const configFile = `${this.#configDir}/postgresql.conf`;
    const o = `--config-file=${shellQuote(configFile)} ${options}`;
    const deadline = Date.now() + this.#timeoutMs;
    log.info("starting Postgres as {role}", { role });
    const r = await run(await this.#bin("pg_ctl"), [
      "start",
      "-D",
      this.#dataDir,
      "-o",
      o,
      "-l",
      `${this.#dataDir}/postgresql.log`,
      "-w",
      "-t",
      String(Math.ceil(this.#timeoutMs / 1000)),
    ], { timeoutMs: this.#timeoutMs + 10_000 });
    if (r.code !== 0 || r.timedOut) {
      throw new PostgresError(`pg_ctl start failed (code ${r.code}): ${await this.#startFailure(r.stderr)}`);
    }
    if (role === "primary") await this.#waitFor("Postgres to accept connections", deadline);
  }

  async #startFailure(stderr: string): Promise<string> {
    try {
      const text = await Deno.readTextFile(`${this.#dataDir}/postgresql.log`);
      return `${tail(stderr, 2)} | log: ${tail(text, 5)}`;
    } catch {
      return tail(stderr);
    }
  }

  async stop(mode: "fast" | "immediate", onSafepoint?: () => void): Promise<void> {
    let safe = false;
    const safepoint = () => {
      if (safe) return;
      safe = true;
      onSafepoint?.();
    };
    try {
      await this.#stop(mode, onSafepoint ? safepoint : null);
    } finally {
      // The postmaster has exited (or the stop failed: then only if it has gone after all).
      if (!safe && (await postmasterPid(this.#dataDir)) === null) safepoint();
    }
  }

  async #stop(mode: "fast" | "immediate", safepoint: (() => void) | null): Promise<void> {
    if ((await postmasterPid(this.#dataDir)) === null) return;
    await this.#closeClient();
    const pgCtl = await this.#bin("pg_ctl");
    const seconds = String(Math.ceil(this.#timeoutMs / 1000));
    for (const m of mode === "fast" ? ["fast", "immediate"] : ["immediate"]) {
      log.info("stopping Postgres ({mode})", { mode: m });
      const stopping = run(pgCtl, ["stop", "-D", this.#dataDir, "-m", m, "-w", "-t", seconds], {
        timeoutMs: this.#timeoutMs + 10_000,
      });
      if (safepoint) await this.#watchSafepoint(stopping, safepoint);
      const r = await stopping;
      if ((await postmasterPid(this.#dataDir)) === null) return;
      log.warn("pg_ctl stop -m {mode} did not stop Postgres: {out}", {
        mode: m,
        out: tail(r.stderr || r.stdout),
      });
    }
    const pid = await postmasterPid(this.#dataDir);
    if (pid === null) return;
    log.warn("killing the postmaster (pid {pid})", { pid });
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await postmasterPid(this.#dataDir)) === null) return;
      await delay(100);
    }
    throw new PostgresError(`Postgres (pid ${pid}) did not exit after SIGKILL`);
  }

  /** Poll (every 100 ms) while `pg_ctl stop` runs, and call `safepoint` once the stop reached its safe point. */
  async #watchSafepoint(stopping: Promise<unknown>, safepoint: () => void): Promise<void> {
    let done = false;
    void stopping.finally(() => done = true).catch(() => {});
    while (!done) {
      if (await stopSafepointReached(this.#dataDir)) return safepoint();
      await Promise.race([delay(100), stopping.catch(() => {})]);
    }
  }

  async promote(clusterHistory: readonly HistoryEntry[]): Promise<void> {
    const deadline = Date.now() + this.#timeoutMs;
    const seconds = String(Math.ceil(this.#timeoutMs / 1000));
    await this.#seedTimelineHistory(clusterHistory);
    log.info("promoting Postgres");
    await runChecked(await this.#bin("pg_ctl"), ["promote", "-D", this.#dataDir, "-w", "-t", seconds], {
      timeoutMs: this.#timeoutMs + 10_000,
      what: "pg_ctl promote",
    });
    await this.#waitFor("the end of recovery after promote", deadline, async (sql) => {
      const rows = await sql`SELECT pg_is_in_recovery() AS r`;
      return rows[0]!["r"] === false;
    });
  }

  /**
   * Write `pg_wal/<TLI>.history` for every timeline the cluster's `history` key names that this data directory does
   * not know. Postgres names the new timeline after the newest history file it finds, so a replica still on an old
   * timeline cannot reuse a number another member already promoted to (the two would look identical to every
   * later timeline check while holding different WAL).
   */
  async #seedTimelineHistory(history: readonly HistoryEntry[]): Promise<void> {
    for (const file of timelineHistoryFiles(history)) {
      const path = `${this.#dataDir}/pg_wal/${file.name}`;
      if (await exists(path)) continue;
      await Deno.writeTextFile(path, file.text, { mode: 0o600 });
      log.info("made timeline history {file} known before promoting", { file: file.name });
    }
  }

  async follow(upstream: Upstream): Promise<boolean> {
    if ((await postmasterPid(this.#dataDir)) === null) return false;
    if (!(await exists(`${this.#dataDir}/standby.signal`))) return false;
    const fileChanged = await writeIfChanged(
      `${this.#configDir}/postgresql.conf`,
      (await this.#renderConf("replica", upstream)).text,
    );
    let liveDiffers = false;
    if (!fileChanged) {
      const wanted = this.#replicationConninfo(upstream);
      const slot = this.#useSlots() ? slotNameFor(this.#config.name) : "";
      try {
        const rows = await this.#query((sql) =>
          sql`SELECT current_setting('primary_conninfo') AS c, current_setting('primary_slot_name') AS s`
        );
        liveDiffers = rows[0]!["c"] !== wanted || rows[0]!["s"] !== slot;
      } catch {
        liveDiffers = false; // not queryable: the file is right, Postgres reads it when it is up
      }
    }
    if (!fileChanged && !liveDiffers) return false;
    log.info("following {upstream}: reloading Postgres", { upstream: upstream.name });
    await runChecked(await this.#bin("pg_ctl"), ["reload", "-D", this.#dataDir], {
      timeoutMs: 30_000,
      what: "pg_ctl reload",
    });
    return true;
  }

  async reload(role: "primary" | "replica", upstream: Upstream | null, force: boolean): Promise<boolean> {
    if ((await postmasterPid(this.#dataDir)) === null) return false;
    const { text } = await this.#renderConf(role, upstream);
    let changed = await writeIfChanged(`${this.#configDir}/postgresql.conf`, text);
    if (this.#pg.pgHba.length > 0) {
      changed = (await writeIfChanged(`${this.#configDir}/pg_hba.conf`, buildHba(this.#pg.pgHba))) || changed;
    }
    if (this.#pg.pgIdent.length > 0) {
      changed = (await writeIfChanged(`${this.#configDir}/pg_ident.conf`, buildHba(this.#pg.pgIdent))) ||
        changed;
    }
    if (!changed && !force) return false;
    log.info("reloading Postgres ({why})", { why: changed ? "configuration changed" : "requested" });
    await runChecked(await this.#bin("pg_ctl"), ["reload", "-D", this.#dataDir], {
      timeoutMs: 30_000,
      what: "pg_ctl reload",
    });
    this.#controlDataCache = null;
    return true;
  }

  async syncSlots(names: string[]): Promise<void> {
    const wanted = new Set(names.filter((n) => /^[a-z0-9_]{1,63}$/.test(n)));
    const rows = await this.#query((sql) =>
      sql`SELECT pg_is_in_recovery() AS r, coalesce((SELECT json_agg(json_build_object('name', slot_name::text,
            'active', active)) FROM pg_replication_slots WHERE slot_type = 'physical'), '[]'::json) AS slots`
    );
    if (rows[0]!["r"] !== false) return;
    const existing = rows[0]!["slots"] as { name: string; active: boolean }[];
    const have = new Set(existing.map((s) => s.name));
    for (const name of wanted) {
      if (have.has(name)) continue;
      log.info("creating physical replication slot {name}", { name });
      await this.#query((sql) => sql`SELECT pg_create_physical_replication_slot(${name})`).catch((e) => {
        if (!(e instanceof Error && "code" in e && e.code === "42710")) throw e; // created meanwhile
      });
    }
    for (const slot of existing) {
      if (wanted.has(slot.name) || slot.active) continue;
      log.info("dropping physical replication slot {name}", { name: slot.name });
      await this.#query((sql) => sql`SELECT pg_drop_replication_slot(${slot.name})`).catch((e) => {
        log.warn("could not drop slot {name}: {error}", { name: slot.name, error: String(e) });
      });
    }
  }

  async close(): Promise<void> {
    await this.#closeClient();
  }
}
