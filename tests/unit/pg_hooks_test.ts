/**
 * The pre_promote and before_stop scripts as the Postgres adapter runs them (src/pg/hooks.ts): argv split as a
 * shell would, a non-zero pre_promote exit refuses the promotion with `PrePromoteRefusedError`, before_stop is
 * waited for but bounded by pg_ctl_timeout (its whole process group killed past it), and neither receives the
 * agent's own variables.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PrePromoteRefusedError } from "../../src/core/pre_promote.ts";
import { runBeforeStop, runPrePromote, runScript } from "../../src/pg/hooks.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function instance(
  dir: string,
  pg: { prePromote?: string; beforeStop?: string; pgCtlTimeout?: number },
): PgInstance {
  const config = makeTestConfig({ name: "pg1", dataDir: `${dir}/data`, pgPort: 5432, apiPort: 8008 });
  config.postgresql = { ...config.postgresql, ...pg };
  return new PgInstance(config, () => ({}), () => true);
}

Deno.test("runPrePromote refuses the promotion when the script exits non-zero, saying how it ended", async () => {
  await withTempDir("hactl-hooks-", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/fence.sh`,
      "#!/bin/sh\necho 'cannot fence the old primary' >&2\nexit 3\n",
      {
        mode: 0o755,
      },
    );
    await assert.rejects(
      () => runPrePromote(instance(dir, { prePromote: `${dir}/fence.sh` })),
      (e: unknown) =>
        e instanceof PrePromoteRefusedError &&
        e.message === `pre_promote script ${dir}/fence.sh exited with 3: cannot fence the old primary`,
    );
  });
});

Deno.test("runPrePromote lets the promotion go on when the script exits 0, and refuses it when it cannot start", async () => {
  await withTempDir("hactl-hooks-", async (dir) => {
    await Deno.writeTextFile(`${dir}/args.sh`, `#!/bin/sh\necho "$# $1 $2" > ${dir}/ran\n`, { mode: 0o755 });
    await runPrePromote(instance(dir, { prePromote: `${dir}/args.sh 'a b' c` }));
    assert.equal(await Deno.readTextFile(`${dir}/ran`), "2 a b c\n");
    await runPrePromote(instance(dir, {})); // none set: nothing to run
    await assert.rejects(
      () => runPrePromote(instance(dir, { prePromote: `${dir}/missing.sh` })),
      PrePromoteRefusedError,
    );
  });
});

Deno.test("runBeforeStop waits for the script, and kills its process group at pg_ctl_timeout", async () => {
  await withTempDir("hactl-hooks-", async (dir) => {
    await Deno.writeTextFile(`${dir}/ok.sh`, `#!/bin/sh\nsleep 0.2\necho done > ${dir}/ran\nexit 1\n`, {
      mode: 0o755,
    });
    await runBeforeStop(instance(dir, { beforeStop: `${dir}/ok.sh` }));
    assert.equal(
      await Deno.readTextFile(`${dir}/ran`),
      "done\n",
      "waited for, and a non-zero exit does not throw",
    );
    const started = performance.now();
    const r = await runScript(`sh -c 'sleep 30 & sleep 30; echo late > ${dir}/late'`, 300);
    assert.ok(r.timedOut);
    assert.equal(r.code, null);
    assert.ok(performance.now() - started < 5000, "returned at the deadline, not after the sleeps");
    await assert.rejects(() => Deno.stat(`${dir}/late`), Deno.errors.NotFound);
  });
});

Deno.test("the scripts do not see the agent's own variables", async () => {
  Deno.env.set("PATRONI_SECRET_FOR_TEST", "x");
  try {
    const r = await runScript("sh -c 'echo ${PATRONI_SECRET_FOR_TEST:-unset}'", 5000);
    assert.equal(r.output, "unset");
    assert.equal(r.code, 0);
  } finally {
    Deno.env.delete("PATRONI_SECRET_FOR_TEST");
  }
});
