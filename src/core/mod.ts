/**
 * The pure core: everything hactl decides, with no I/O.
 *
 * Owns the cycle's decision (`decide(observation, memory, context) -> { actions, memory, reason }`), the shared
 * domain types (observations, actions, the DCS view, `DynamicSettings`), the ports the shell talks through
 * (`Dcs`, `PostgresPort`, `PeerClient`, `Clock`, `AgentLog`, `WatchdogPort`, `FenceChannel`, `CallbackRunner`), and
 * the rules behind switchover, restart, slots, role-change records and the early isolation fence; and what the
 * shell carries out around a plan: the fence and watchdog verdicts (`guards.ts`), the fence deadline (`fence.ts`),
 * the member key (`member.ts`), whether an API request is taken (`requests.ts`), the loop's timing (`loop.ts`);
 * and the durations derived from the dynamic settings (`settings.ts`: lease, stale-after, switchover wait, ...,
 * with explicit units).
 *
 * May import: nothing outside `src/core/`. No `Deno.*`, clock, timer, randomness, network, disk or package: time
 * and jitter arrive as fields of the observation, so the simulator replays every decision exactly.
 *
 * @module
 */
export { decide } from "./decide.ts";
export type { HaContext } from "./ha_context.ts";
export { memberRole, postgresStateName } from "./member_state.ts";
export type * from "./ports.ts";
export * from "./settings.ts";
export * from "./slot_rules.ts";
export { DcsError, PostgresError, UpstreamUnavailableError } from "./ports.ts";
export { PrePromoteRefusedError } from "./pre_promote.ts";
export type * from "./types.ts";
export type * from "./standby_types.ts";
export { guardVerdicts } from "./guards.ts";
export type { DeleteRestartResult, RestartNowResult, ScheduleRestartResult } from "./requests.ts";
