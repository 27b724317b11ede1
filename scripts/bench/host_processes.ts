/**
 * The processes of one hactl host beside the agent itself, found from outside as a fault injector needs them:
 * its fencing supervisor (a child of the agent started with `setsid`, so in a session of its own).
 *
 * May import nothing; reads /proc.
 *
 * @module
 */

/** The pids of the agent's fencing supervisor: its children whose command line names `fence-supervisor`. */
export function supervisorPids(agentPid: number): number[] {
  const pids: number[] = [];
  for (const task of Deno.readDirSync(`/proc/${agentPid}/task`)) {
    const children = Deno.readTextFileSync(`/proc/${agentPid}/task/${task.name}/children`).trim();
    for (const child of children ? children.split(/\s+/).map(Number) : []) {
      const cmdline = Deno.readTextFileSync(`/proc/${child}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes("fence-supervisor")) pids.push(child);
    }
  }
  return pids;
}
