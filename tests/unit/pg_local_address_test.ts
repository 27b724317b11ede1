import assert from "node:assert/strict";
import { localConnectAddress } from "../../src/pg/local_address.ts";

const listen = { hosts: ["127.0.0.1"], port: 5361 };

Deno.test("localConnectAddress() uses TCP to the first listen host when use_unix_socket is off", () => {
  assert.deepEqual(localConnectAddress(listen, false, "/tmp"), { host: "127.0.0.1", port: 5361 });
  assert.deepEqual(localConnectAddress({ hosts: ["*"], port: 5432 }, false, "/tmp"), {
    host: "127.0.0.1",
    port: 5432,
  });
});

Deno.test("localConnectAddress() with use_unix_socket takes the first absolute unix_socket_directories entry", () => {
  // Patroni's rule: only an absolute path can be used to connect through a unix socket.
  assert.deepEqual(localConnectAddress(listen, true, "@abstract, .., /var/run/postgresql, /tmp"), {
    host: "/var/run/postgresql",
    port: 5361,
  });
  assert.deepEqual(localConnectAddress(listen, true, " /tmp "), { host: "/tmp", port: 5361 });
});

Deno.test("localConnectAddress() with use_unix_socket falls back to TCP when no directory is absolute", () => {
  assert.deepEqual(localConnectAddress(listen, true, ".."), { host: "127.0.0.1", port: 5361 });
  assert.deepEqual(localConnectAddress(listen, true, ""), { host: "127.0.0.1", port: 5361 });
});
