/**
 * `hactl agent <config.yml>`: parses the arguments, loads and checks the configuration, sets up logging, logs the
 * configuration's warnings (unknown keys with a did-you-mean, keys with no effect in hactl) and hands over to the
 * daemon (`src/daemon/`, the agent's wiring), whose exit code it returns.
 *
 * @module
 */
import { type Config, ConfigError } from "../src/config/config.ts";
import { checkConfigEnvironment, loadConfigFileWithWarnings } from "../src/config/file.ts";
import { runDaemon } from "../src/daemon/mod.ts";
import { configSecrets, moduleLogger, setupLogging } from "../src/log/log.ts";
import { writeErr, writeOut } from "./lib/io.ts";
import { EXIT_CONFIG, EXIT_USAGE } from "./lib/exit.ts";
import { formatSampleConfig, sampleConfig } from "./lib/sample_config.ts";
import { gatherSampleInputs } from "./lib/sample_inputs.ts";
import { runningConfig } from "./lib/running_config.ts";
import { gatherRunningFacts, GenerateConfigError } from "./lib/running_inputs.ts";
import { StdinLines } from "./lib/prompt.ts";

const HELP = `Usage: hactl agent [CONFIG_FILE] [--validate-config | --generate-sample-config |
                   --generate-config [--dsn DSN]] [--help]

Run the hactl daemon on this database host: the HA loop, the REST API and the watchdog keepalive.

Arguments:
  CONFIG_FILE         Patroni-compatible YAML file (or a directory of *.yml files merged in order).
                      Without it the configuration comes from PATRONI_CONFIGURATION or PATRONI_* variables.
Options:
  --validate-config   Check the configuration, print problems and exit (0 = valid, 78 = invalid).
  --generate-sample-config
                      Write a sample configuration (this host's name and address, the PostgreSQL version of the
                      binaries, PATRONI_* variables; #FIXME where a value is needed) to CONFIG_FILE, or stdout.
  --generate-config   Write the configuration of a running PostgreSQL instance (its parameters, data directory,
                      listen address, pg_hba/pg_ident, binaries; the superuser it was reached as) to CONFIG_FILE,
                      or stdout. It connects with --dsn and the PG* variables; asks for the password if neither
                      gives one.
  --dsn DSN           With --generate-config: the libpq connection string (key=value or postgres:// URI).
  -h, --help          Show this help.

Signals: SIGTERM/SIGINT stop Postgres (fast), close the watchdog, release the leader key and exit 0; in pause
  (maintenance mode) Postgres keeps running and the leader key stays. A second signal is ignored.
  SIGHUP (or POST /reload) re-reads the configuration and applies it live (an invalid one is logged and
  the running one kept; scope, name, etcd3, data_dir, log and watchdog changes wait for a restart).
systemd: with NOTIFY_SOCKET set (Type=notify, scripts/systemd/hactl.service) it reports READY=1 once the
REST API listens, STATUS=<the HA cycle's sentence> every cycle and STOPPING=1 on SIGTERM.
Logging: the log section (level, format, type: json, dir with rotation, ...); see docs/configuration.md, "Logging".
Exit codes: 0 clean shutdown; 2 usage error; 78 (EX_CONFIG) invalid configuration, including a log section
  that cannot be set up (the systemd units do not restart it: RestartPreventExitStatus=78); 1 a fatal
  start-up or runtime error: another agent with this name is
  running ("Can't start; there is already a node named '<name>' running"), the REST API cannot listen,
  watchdog.mode is required on a host that cannot run a watchdog, or (not paused) the data directory belongs
  to another cluster ("system ID mismatch, node <name> belongs to a different cluster: <dcs> != <local>").
`;

/**
 * `hactl agent`; returns the exit code: 0 clean shutdown or valid configuration, 78 invalid configuration,
 * 1 fatal error, 2 usage.
 */
export async function run(args: string[], env: Record<string, string>): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    writeOut(HELP);
    return 0;
  }
  let dsn: string | undefined;
  const at = args.findIndex((a) => a === "--dsn" || a.startsWith("--dsn="));
  if (at >= 0) {
    dsn = args[at] === "--dsn" ? args[at + 1] : args[at]!.slice("--dsn=".length);
    if (dsn === undefined) {
      writeErr(`Error: --dsn needs a value\n\n${HELP}`);
      return EXIT_USAGE;
    }
    args = args.filter((_, i) => i !== at && !(args[at] === "--dsn" && i === at + 1));
  }
  const positional = args.filter((a) => !a.startsWith("-"));
  const flags = ["--validate-config", "--generate-sample-config", "--generate-config"];
  const unknown = args.filter((a) => a.startsWith("-") && !flags.includes(a));
  if (unknown.length > 0 || positional.length > 1) {
    writeErr(`Error: unexpected arguments: ${[...unknown, ...positional.slice(1)].join(" ")}\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (dsn !== undefined && !args.includes("--generate-config")) {
    writeErr(`Error: --dsn is only for --generate-config\n\n${HELP}`);
    return EXIT_USAGE;
  }
  if (args.includes("--generate-config")) return await generateConfig(positional[0], dsn, env);
  if (args.includes("--generate-sample-config")) {
    const text = formatSampleConfig(sampleConfig(await gatherSampleInputs(env)));
    if (positional[0] === undefined) writeOut(text);
    else await Deno.writeTextFile(positional[0], text);
    return 0;
  }
  let config: Config;
  let warnings: string[];
  try {
    ({ config, warnings } = await loadConfigFileWithWarnings(positional[0], env));
    const problems = await checkConfigEnvironment(config);
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    if (err instanceof ConfigError) {
      writeErr(err.problems.map((p) => p + "\n").join(""));
      return EXIT_CONFIG;
    }
    throw err;
  }
  if (args.includes("--validate-config")) {
    for (const warning of warnings) writeErr(`${config.source}: warning: ${warning}\n`);
    writeOut(`${config.source}: configuration is valid\n`);
    return 0;
  }
  try {
    setupLogging({ ...config.log, secrets: configSecrets(config) });
  } catch (err) {
    writeErr(`${config.source}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_CONFIG;
  }
  // Unknown keys, keys with no effect here, a log.format shown differently: never fatal, always said.
  const log = moduleLogger("config");
  for (const warning of warnings) {
    log.warn("{source}: {warning}", { source: config.source, warning });
  }
  return await runDaemon(config, positional[0], env);
}

/** `--generate-config`: the running instance's configuration to `file` or stdout; 1 with the reason on failure. */
async function generateConfig(
  file: string | undefined,
  dsn: string | undefined,
  env: Record<string, string>,
) {
  const ask = () => {
    writeErr("Please enter the user password: ");
    return new StdinLines().readLine(true);
  };
  try {
    const host = await gatherSampleInputs(env);
    const facts = await gatherRunningFacts(dsn, env, ask);
    const text = formatSampleConfig(runningConfig(host, facts));
    if (file === undefined) writeOut(text);
    else {
      const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : "";
      if (dir) await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(file, text, { mode: 0o600 });
    }
    return 0;
  } catch (e) {
    if (!(e instanceof GenerateConfigError)) throw e;
    writeErr(`${e.message}\n`);
    return 1;
  }
}
