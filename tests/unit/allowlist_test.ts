/**
 * `restapi.allowlist` matching: IPv4/IPv6 addresses and CIDRs, IPv4-mapped IPv6 clients, resolved hostnames.
 */
import assert from "node:assert/strict";
import { addressAllowed, inNetwork, isNetworkEntry, parseIp, parseNetwork } from "../../src/api/allowlist.ts";

Deno.test("parseIp reads IPv4, IPv6 (compressed, with a dotted tail) and maps ::ffff:a.b.c.d to IPv4", () => {
  assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...parseIp("::ffff:10.1.2.3")!], [10, 1, 2, 3]);
  assert.equal(parseIp("::1")!.length, 16);
  assert.equal(parseIp("::1")![15], 1);
  assert.deepEqual([...parseIp("fd00::1:2")!.slice(12)], [0, 1, 0, 2]);
  assert.equal(parseIp("[2001:db8::1]")!.length, 16);
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), null);
  assert.equal(parseIp("256.1.1.1"), null);
  assert.equal(parseIp("db1.example.com"), null);
});

Deno.test("networks match by prefix and never across address families", () => {
  const net = parseNetwork("10.0.0.0/8")!;
  assert.ok(inNetwork(parseIp("10.200.1.1")!, net));
  assert.ok(!inNetwork(parseIp("11.0.0.1")!, net));
  assert.ok(!inNetwork(parseIp("::1")!, net));
  assert.ok(inNetwork(parseIp("fd00::5")!, parseNetwork("fd00::/8")!));
  assert.ok(inNetwork(parseIp("192.168.1.77")!, parseNetwork("::ffff:192.168.1.0/120")!));
  assert.equal(parseNetwork("10.0.0.0/33"), null);
  assert.ok(isNetworkEntry("127.0.0.1"));
  assert.ok(!isNetworkEntry("localhost"));
});

Deno.test("addressAllowed admits listed addresses, networks and resolved hostnames only", () => {
  const list = ["192.0.2.10", "198.51.100.0/24", "db1.example.com"];
  assert.ok(addressAllowed("192.0.2.10", list, []));
  assert.ok(addressAllowed("::ffff:198.51.100.7", list, []));
  assert.ok(!addressAllowed("127.0.0.1", list, []));
  assert.ok(addressAllowed("203.0.113.5", list, ["203.0.113.5"]), "a resolved hostname's address");
  assert.ok(!addressAllowed("not-an-ip", list, []));
});
