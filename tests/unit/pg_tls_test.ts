import assert from "node:assert/strict";
import { pgSslOption, userConninfoPairs } from "../../src/pg/tls.ts";

const files: Record<string, string> = { "/ca.pem": "CA", "/c.pem": "CERT", "/k.pem": "KEY" };
const read = (p: string): string => {
  if (files[p] === undefined) throw new Error(`no ${p}`);
  return files[p]!;
};

Deno.test("pgSslOption(): no TLS field set keeps the plain connection", () => {
  assert.equal(pgSslOption({ username: "postgres" }, read), undefined);
  assert.equal(pgSslOption({ username: "postgres", sslmode: "disable" }, read), false);
  assert.equal(pgSslOption({ username: "postgres", sslmode: "prefer" }, read), "prefer");
});

Deno.test("pgSslOption(): verify-ca checks the chain against sslrootcert but not the host name, and sends the client certificate", () => {
  const ssl = pgSslOption({
    username: "postgres",
    sslmode: "verify-ca",
    sslrootcert: "/ca.pem",
    sslcert: "/c.pem",
    sslkey: "/k.pem",
    sslpassword: "pw",
  }, read);
  assert.ok(typeof ssl === "object" && ssl !== null);
  assert.equal(ssl.ca, "CA");
  assert.equal(ssl.cert, "CERT");
  assert.equal(ssl.key, "KEY");
  assert.equal(ssl.passphrase, "pw");
  assert.equal(ssl.rejectUnauthorized, true);
  assert.equal(ssl.checkServerIdentity?.("h", {}), undefined);
});

Deno.test("pgSslOption(): verify-full also checks the host name; require verifies only with a root certificate (as libpq)", () => {
  const full = pgSslOption({ username: "u", sslmode: "verify-full", sslrootcert: "/ca.pem" }, read);
  assert.ok(typeof full === "object" && full !== null);
  assert.equal(full.rejectUnauthorized, true);
  assert.equal(full.checkServerIdentity, undefined);
  const req = pgSslOption({ username: "u", sslmode: "require" }, read);
  assert.ok(typeof req === "object" && req !== null);
  assert.equal(req.rejectUnauthorized, false);
  const reqCa = pgSslOption({ username: "u", sslmode: "require", sslrootcert: "/ca.pem" }, read);
  assert.ok(typeof reqCa === "object" && reqCa !== null);
  assert.equal(reqCa.rejectUnauthorized, true);
});

Deno.test("pgSslOption(): an unreadable certificate file is an error naming the file", () => {
  assert.throws(
    () => pgSslOption({ username: "u", sslmode: "verify-ca", sslrootcert: "/missing.pem" }, read),
    /\/missing\.pem/,
  );
});

Deno.test("userConninfoPairs() passes the user's TLS fields to libpq (pg_rewind's --source-server)", () => {
  assert.deepEqual(
    userConninfoPairs({
      username: "rw",
      sslmode: "verify-ca",
      sslrootcert: "/ca.pem",
      sslcert: "/c.pem",
      sslkey: "/k.pem",
    }),
    [["sslmode", "verify-ca"], ["sslcert", "/c.pem"], ["sslkey", "/k.pem"], ["sslrootcert", "/ca.pem"]],
  );
  assert.deepEqual(userConninfoPairs({ username: "rw", password: "secret" }), []);
});
