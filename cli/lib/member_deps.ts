/**
 * The real world for the member-targeting commands (`restart`, `reload`, `flush`): etcd for the cluster view, the
 * members' REST API with the `ctl` credentials, and the terminal for questions.
 *
 * @module
 */
import type { MemberCommandDeps } from "./targets.ts";
import { loadClusterFromEtcd } from "./cluster.ts";
import { postJson } from "./http.ts";
import { writeErr, writeOut } from "./io.ts";

export const REAL_MEMBER_DEPS: MemberCommandDeps = {
  loadCluster: loadClusterFromEtcd,
  // A restart answers when Postgres is up again: allow for a slow stop and start.
  request: (method, url, body, settings) =>
    postJson(
      url,
      method === "DELETE" ? undefined : body,
      settings,
      method === "POST" ? 300_000 : 30_000,
      method,
    ),
  confirm: (message) => confirm(message),
  prompt: (message, defaultValue) => {
    const answer = prompt(`${message}[${defaultValue}]:`);
    if (answer === null) return null;
    return answer.trim() === "" ? defaultValue : answer.trim();
  },
  out: writeOut,
  err: writeErr,
  random: () => Math.random(),
};
