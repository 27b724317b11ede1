/**
 * Replication slot naming: pure helpers shared by the HA core and the Postgres adapter.
 *
 * @module
 */

/** A member name as a physical replication slot name, as Patroni derives it (lower case, `[a-z0-9_]`). */
export function slotNameFor(member: string): string {
  return member.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}
