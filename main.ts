/**
 * hactl: PostgreSQL high availability in one binary. argv -> subcommand table -> exit code; nothing else.
 *
 * @module
 */
import { writeErr, writeOut } from "./cli/lib/io.ts";

type Command = (args: string[], env: Record<string, string>) => Promise<number>;

/*
 * Each command's module is imported when that command runs, not at start-up: `hactl fence-supervisor` (a process
 * beside every agent) then loads only its own few modules and none of the etcd, Postgres or REST stacks, and the
 * agent none of the other commands. Every `import()` names its module with a string literal, so `deno compile`
 * still embeds the whole graph (tests/cli/binary_test.ts checks both).
 */
const COMMANDS: Record<string, { run: Command; summary: string }> = {
  agent: {
    run: async (args, env) => (await import("./cli/agent.ts")).run(args, env),
    summary: "run the daemon on a database host (HA loop, REST API, watchdog)",
  },
  list: {
    run: async (args, env) => (await import("./cli/list.ts")).run(args, env),
    summary: "show the members of a cluster, as patronictl list",
  },
  topology: {
    run: async (args, env) => (await import("./cli/list.ts")).runTopology(args, env),
    summary: "show the members of a cluster as a replication tree",
  },
  switchover: {
    run: async (args, env) => (await import("./cli/switchover.ts")).run("switchover", args, env),
    summary: "hand the leader role to another member, now or at a scheduled time",
  },
  failover: {
    run: async (args, env) => (await import("./cli/switchover.ts")).run("failover", args, env),
    summary: "make a named member the leader",
  },
  reinit: {
    run: async (args, env) => (await import("./cli/reinit.ts")).run(args, env),
    summary: "throw a member's data away and clone it again from the leader",
  },
  restart: {
    run: async (args, env) => (await import("./cli/restart.ts")).run(args, env),
    summary: "restart Postgres on members, now or at a scheduled time",
  },
  reload: {
    run: async (args, env) => (await import("./cli/reload.ts")).run(args, env),
    summary: "make members re-read their configuration and reload Postgres",
  },
  flush: {
    run: async (args, env) => (await import("./cli/flush.ts")).run(args, env),
    summary: "discard a scheduled restart or switchover",
  },
  pause: {
    run: async (args, env) => (await import("./cli/pause.ts")).run("pause", args, env),
    summary: "maintenance mode: stop automatic failover",
  },
  resume: {
    run: async (args, env) => (await import("./cli/pause.ts")).run("resume", args, env),
    summary: "leave maintenance mode",
  },
  "show-config": {
    run: async (args, env) => (await import("./cli/show.ts")).run("show-config", args, env),
    summary: "show the dynamic configuration",
  },
  history: {
    run: async (args, env) => (await import("./cli/show.ts")).run("history", args, env),
    summary: "show the timeline history",
  },
  "edit-config": {
    run: async (args, env) => (await import("./cli/edit_config.ts")).run(args, env),
    summary: "change the dynamic configuration (diff, confirmation, CAS write)",
  },
  "demote-cluster": {
    run: async (args, env) => (await import("./cli/cluster_role.ts")).run("demote", args, env),
    summary: "make the cluster a standby cluster of a remote primary",
  },
  "promote-cluster": {
    run: async (args, env) => (await import("./cli/cluster_role.ts")).run("promote", args, env),
    summary: "make a standby cluster run standalone (its standby leader is promoted)",
  },
  remove: {
    run: async (args, env) => (await import("./cli/remove.ts")).run(args, env),
    summary: "remove a cluster's keys from etcd (asks three times)",
  },
  query: {
    run: async (args, env) => (await import("./cli/query.ts")).run(args, env),
    summary: "run SQL on a member chosen by name or role",
  },
  dsn: {
    run: async (args, env) => (await import("./cli/dsn.ts")).run(args, env),
    summary: "print the libpq connection string of a member",
  },
  "validate-config": {
    run: async (args) => (await import("./cli/validate_config.ts")).run(args),
    summary: "check a configuration file and exit",
  },
  version: {
    run: async (args, env) => (await import("./cli/version.ts")).run(args, env),
    summary: "print the hactl version",
  },
  "fence-supervisor": {
    run: async (args) => (await import("./cli/fence_supervisor.ts")).run(args),
    summary: "(started by the agent) stop Postgres when the agent stops renewing its lease",
  },
};

/** The subcommands and their one-line summaries, in help order (the man page and completions are made from it). */
export function commandSummaries(): { name: string; summary: string }[] {
  return Object.entries(COMMANDS).map(([name, c]) => ({ name, summary: c.summary }));
}

/** `hactl --help`. */
export const HELP = `Usage: hactl <command> [options]

High availability for PostgreSQL, compatible with Patroni's etcd keys, REST API and YAML configuration.

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(18)}${c.summary}`).join("\n")}

Options:
  -h, --help        Show this help and exit
  --version         Print the hactl version and exit (as 'hactl version')

Global options (-c/--config-file, -d/--dcs-url, -k/--insecure, --patroni-compat) go before or after the command.
Run 'hactl <command> --help' for the options of a command.

Exit codes: 0 success; 1 failure (also a request a member refused, or a --wait that ran out of time: 0 with
--patroni-compat or HACTL_PATRONI_COMPAT=1, as patronictl); 2 usage error; 78 invalid configuration (agent,
validate-config).
`;

/** patronictl's global options, which it takes before the subcommand (`patronictl -c FILE list`). */
const LEADING_WITH_VALUE: Record<string, string> = {
  "-c": "--config-file",
  "--config-file": "--config-file",
  "-d": "--dcs-url",
  "--dcs-url": "--dcs-url",
  "--dcs": "--dcs-url",
};

/**
 * Move global options given before the subcommand behind it, in their long form (a command may use `-c` for
 * something else, as `query -c SQL` does): `-c FILE list -e` -> `list -e --config-file FILE`.
 */
export function hoistGlobalOptions(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    if (arg === "-k" || arg === "--insecure" || arg === "--patroni-compat") {
      globals.push(arg === "-k" ? "--insecure" : arg);
      i++;
    } else if (LEADING_WITH_VALUE[flag] && eq > 0 && arg.startsWith("--")) {
      globals.push(LEADING_WITH_VALUE[flag]!, arg.slice(eq + 1));
      i++;
    } else if (LEADING_WITH_VALUE[arg] && i + 1 < argv.length) {
      globals.push(LEADING_WITH_VALUE[arg]!, argv[i + 1]!);
      i += 2;
    } else break;
  }
  if (globals.length === 0 || i >= argv.length) return argv;
  return [argv[i]!, ...argv.slice(i + 1), ...globals];
}

export async function main(argv: string[], env: Record<string, string>): Promise<number> {
  const [name, ...rest] = hoistGlobalOptions(argv);
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    writeOut(HELP);
    return 0;
  }
  if (name === "--version") return await COMMANDS.version!.run([], env);
  const command = COMMANDS[name];
  if (!command) {
    writeErr(`Error: no such command '${name}'\n\n${HELP}`);
    return 2;
  }
  return await command.run(rest, env);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
