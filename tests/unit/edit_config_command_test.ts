/**
 * `hactl edit-config` with the world replaced: the order of --replace/--apply/--set/--pg, the diff, the
 * confirmation, stdin without --force, the CAS write and its conflict message, the editor path.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type EditConfigDeps, run } from "../../cli/edit_config.ts";
import { CtlError } from "../../cli/lib/config.ts";
import { scriptedAsker } from "../../cli/lib/prompt.ts";
import type { ClusterView } from "../../src/core/types.ts";

const CONFIG = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  postgresql: { parameters: { max_connections: 100 }, use_pg_rewind: true },
};

function view(config: Record<string, unknown> | null = CONFIG): ClusterView {
  return {
    initialize: "1",
    config: config ? { value: structuredClone(config), modRevision: "17" } : null,
    leader: null,
    members: [],
    status: null,
    failover: null,
    sync: null,
    history: null,
    revision: "20",
    problems: [],
  };
}

function fake(opts: {
  answers?: string[];
  files?: Record<string, string>;
  casWins?: boolean;
  edited?: string;
  config?: Record<string, unknown> | null;
} = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const writes: { value: Record<string, unknown>; modRevision: string }[] = [];
  const edits: string[] = [];
  const deps: EditConfigDeps = {
    loadCluster: () => Promise.resolve(view(opts.config === undefined ? CONFIG : opts.config)),
    writeConfig: (_s, _scope, value, modRevision) => {
      writes.push({ value, modRevision });
      return Promise.resolve(opts.casWins ?? true);
    },
    readInput: (path) => {
      const text = opts.files?.[path];
      return text === undefined ? Promise.reject(new CtlError(`cannot read ${path}`)) : Promise.resolve(text);
    },
    edit: (text) => {
      edits.push(text);
      return Promise.resolve(opts.edited ?? text);
    },
    asker: () => scriptedAsker(opts.answers ?? [], (t) => out.push(t)),
    colour: () => false,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { deps, out, err, writes, edits };
}

const ENV = { PATRONI_SCOPE: "batman", PATRONI_ETCD3_HOSTS: "127.0.0.1:2379" };

Deno.test("edit-config -s/-p shows patronictl's diff, asks, and writes with CAS on the key's revision", async () => {
  const f = fake({ answers: ["y"] });
  const code = await run(
    ["-s", "loop_wait=5", "-p", "work_mem=8MB", "-p", "max_connections=null"],
    ENV,
    f.deps,
  );
  assert.equal(code, 0, f.err.join(""));
  assert.equal(
    f.out.join(""),
    [
      "--- ",
      "+++ ",
      "@@ -1,7 +1,7 @@",
      "-loop_wait: 10",
      "+loop_wait: 5",
      " postgresql:",
      "   parameters:",
      "-    max_connections: 100",
      "+    work_mem: 8MB",
      "   use_pg_rewind: true",
      " retry_timeout: 10",
      " ttl: 30",
      "Apply these changes? [y/N]: Configuration changed",
      "",
    ].join("\n"),
  );
  assert.deepEqual(f.writes, [{
    value: {
      ttl: 30,
      loop_wait: 5,
      retry_timeout: 10,
      postgresql: { parameters: { work_mem: "8MB" }, use_pg_rewind: true },
    },
    modRevision: "17",
  }]);
});

Deno.test("edit-config: answering no writes nothing; -q hides the diff; --force does not ask", async () => {
  const no = fake({ answers: ["n"] });
  assert.equal(await run(["-s", "ttl=40"], ENV, no.deps), 0);
  assert.deepEqual(no.writes, []);
  assert.match(no.out.join(""), /Apply these changes\? \[y\/N\]: $/);

  const quiet = fake();
  assert.equal(await run(["-q", "--force", "-s", "ttl=40"], ENV, quiet.deps), 0);
  assert.equal(quiet.out.join(""), "Configuration changed\n");
  assert.equal(quiet.writes.length, 1);
});

Deno.test("edit-config: a concurrent change makes the CAS fail with patronictl's message, exit 1", async () => {
  const f = fake({ casWins: false });
  assert.equal(await run(["--force", "-s", "ttl=40"], ENV, f.deps), 1);
  assert.equal(f.err.join(""), "Error: Config modification aborted due to concurrent changes\n");
});

Deno.test("edit-config: --replace, then --apply, then --set; 'Not changed' when nothing differs", async () => {
  const f = fake({
    files: { "new.yml": "ttl: 20\nloop_wait: 5\n", "patch.yml": "loop_wait: null\nretry_timeout: 4\n" },
  });
  assert.equal(
    await run(
      ["--force", "-q", "--replace", "new.yml", "--apply", "patch.yml", "-s", "pause=true"],
      ENV,
      f.deps,
    ),
    0,
  );
  assert.deepEqual(f.writes[0]!.value, { ttl: 20, retry_timeout: 4, pause: true });

  const same = fake({ files: { "same.yml": "ttl: '30'\n" } }); // str('30') == str(30): Patroni keeps the old value
  assert.equal(await run(["--apply", "same.yml"], ENV, same.deps), 0);
  assert.equal(same.out.join(""), "Not changed\n");
  assert.deepEqual(same.writes, []);
});

Deno.test("edit-config --apply - without --force shows the diff, then 'Use --force option to apply changes'", async () => {
  const f = fake({ files: { "-": "ttl: 60\n" } });
  assert.equal(await run(["--apply", "-"], ENV, f.deps), 0);
  assert.match(f.out.join(""), /-ttl: 30\n\+ttl: 60\nUse --force option to apply changes\n$/);
  assert.deepEqual(f.writes, []);
});

Deno.test("edit-config without changes on the command line opens the editor on the sorted YAML", async () => {
  const f = fake({ edited: "loop_wait: 10\nretry_timeout: 10\nttl: 30\n", answers: ["yes"] });
  assert.equal(await run([], ENV, f.deps), 0);
  assert.equal(
    f.edits[0],
    "loop_wait: 10\npostgresql:\n  parameters:\n    max_connections: 100\n  use_pg_rewind: true\nretry_timeout: 10\nttl: 30\n",
  );
  assert.deepEqual(f.writes[0]!.value, { loop_wait: 10, retry_timeout: 10, ttl: 30 });

  const bad = fake({ edited: "- just\n- a list\n" });
  assert.equal(await run([], ENV, bad.deps), 1);
  assert.match(bad.err.join(""), /^Error: the edited configuration: expected a YAML mapping/);
  assert.deepEqual(bad.writes, []);
});

Deno.test("edit-config: errors name what is wrong (no config key, bad -s, unreadable file, bad YAML)", async () => {
  const cases: [string[], Record<string, unknown> | null, RegExp][] = [
    [["-s", "ttl=1"], null, /^Error: The config key does not exist in the cluster batman\n$/],
    [["-s", "ttl"], CONFIG, /^Error: Invalid parameter setting ttl\n$/],
    [["--apply", "missing.yml"], CONFIG, /^Error: cannot read missing.yml\n$/],
    [["--apply", "broken.yml"], CONFIG, /^Error: broken.yml: line 2, column 1: /],
  ];
  for (const [args, config, expected] of cases) {
    const f = fake({ config, files: { "broken.yml": "ttl: [1\n" } });
    assert.equal(await run(args, ENV, f.deps), 1, args.join(" "));
    assert.match(f.err.join(""), expected);
    assert.deepEqual(f.writes, []);
  }
});

Deno.test("edit-config warns about settings the agents would adjust, and still writes them as asked", async () => {
  const f = fake();
  assert.equal(await run(["--force", "-q", "-s", "loop_wait=oops"], ENV, f.deps), 0);
  assert.match(f.err.join(""), /^Warning: loop_wait: "oops" is not an integer/);
  assert.equal(f.writes[0]!.value.loop_wait, "oops");
});

Deno.test("edit-config refuses to write a key hactl does not support yet, naming each one, exit 1", async () => {
  const f = fake();
  assert.equal(
    await run(
      ["--force", "-q", "-s", "postgresql.pg_ctl_timeout=30", "-s", "postgresql.basebackup.checkpoint=fast"],
      ENV,
      f.deps,
    ),
    1,
  );
  assert.equal(
    f.err.join(""),
    "config: postgresql.pg_ctl_timeout: not supported by hactl yet (set postgresql.pg_ctl_timeout in the local " +
      "file instead)\nconfig: postgresql.basebackup: not supported by hactl yet (set postgresql.basebackup in the local " +
      "file instead)\n",
  );
  assert.deepEqual(f.writes, []);
  const off = fake();
  assert.equal(await run(["--force", "-q", "-s", "postgresql.pg_ctl_timeout=60"], ENV, off.deps), 0);
  assert.equal((off.writes[0]!.value.postgresql as Record<string, unknown>).pg_ctl_timeout, 60);
  // max_timelines_history is implemented: written as asked.
  const trim = fake();
  assert.equal(await run(["--force", "-q", "-s", "max_timelines_history=5"], ENV, trim.deps), 0);
  assert.equal(trim.writes[0]!.value.max_timelines_history, 5);
  // So is the dynamic postgresql.recovery_conf.
  const rec = fake();
  assert.equal(
    await run(["--force", "-q", "-s", "postgresql.recovery_conf.restore_command=cp /a/%f %p"], ENV, rec.deps),
    0,
  );
  assert.deepEqual((rec.writes[0]!.value.postgresql as Record<string, unknown>).recovery_conf, {
    restore_command: "cp /a/%f %p",
  });
});

Deno.test("edit-config: end of input at the question prints Aborted! and exits 1", async () => {
  const f = fake({ answers: [] });
  assert.equal(await run(["-s", "ttl=40"], ENV, f.deps), 1);
  assert.equal(f.err.join(""), "Aborted!\n");
  assert.deepEqual(f.writes, []);
});

Deno.test("edit-config on a config key holding garbage warns and edits it as an empty document", async () => {
  const f = fake({ config: {} });
  const base = f.deps.loadCluster;
  f.deps.loadCluster = async (settings, scope) => ({
    ...(await base(settings, scope)),
    problems: ["config: expected a JSON object, found 'oops'; treated as empty"],
  });
  assert.equal(await run(["--force", "-q", "-s", "ttl=30"], ENV, f.deps), 0);
  assert.equal(f.err.join(""), "Warning: config: expected a JSON object, found 'oops'; treated as empty\n");
  assert.deepEqual(f.writes, [{ value: { ttl: 30 }, modRevision: "17" }]);
});
