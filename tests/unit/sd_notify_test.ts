/**
 * sd_notify: the datagram text and the `sockaddr_un` encoding, and one real datagram received on a unix socket
 * (the receiver is a child `deno` with `--unstable-net`, standing in for systemd).
 */
import assert from "node:assert/strict";
import { notifyMessage, systemdNotifier, unixSocketAddress } from "../../src/host/sd_notify.ts";

Deno.test("notifyMessage() writes KEY=value lines and cannot be tricked into a second key by a newline", () => {
  assert.equal(
    notifyMessage({ READY: 1, STATUS: "no action.\nREADY=1" }),
    "READY=1\nSTATUS=no action. READY=1",
  );
});

Deno.test("unixSocketAddress() encodes a path with a terminating NUL and an @name in the abstract namespace", () => {
  const path = unixSocketAddress("/run/systemd/notify");
  assert.equal(path.length, 2 + 19 + 1);
  assert.deepEqual([...path.addr.slice(0, 3)], [1, 0, "/".charCodeAt(0)]);
  assert.equal(path.addr[2 + 19], 0);
  const abstract = unixSocketAddress("@hactl/notify");
  assert.equal(abstract.length, 2 + 1 + 12);
  assert.deepEqual([...abstract.addr.slice(2, 4)], [0, "h".charCodeAt(0)]);
  assert.throws(
    () => unixSocketAddress("/" + "x".repeat(200)),
    /NOTIFY_SOCKET: not a usable unix socket path/,
  );
});

Deno.test("without NOTIFY_SOCKET the notifier is disabled and sends nothing", () => {
  const n = systemdNotifier({});
  assert.equal(n.enabled, false);
  assert.equal(n.send({ READY: 1 }), null);
});

Deno.test("the notifier delivers READY=1 and STATUS to a listening unix datagram socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-notify-" });
  const socket = `${dir}/notify`;
  const receiver = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--unstable-net",
      `const s = Deno.listenDatagram({ transport: "unixpacket", path: ${JSON.stringify(socket)} });
       const [data] = await s.receive();
       console.log(JSON.stringify(new TextDecoder().decode(data)));
       s.close();`,
    ],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  const notifier = systemdNotifier({ NOTIFY_SOCKET: socket });
  try {
    const deadline = Date.now() + 30_000;
    while (!(await Deno.stat(socket).then(() => true, () => false))) {
      assert.ok(Date.now() < deadline, "the receiver never bound its socket");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(notifier.send({ READY: 1, STATUS: "hactl agent pg1 started" }), null);
    const out = await receiver.output();
    assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)), "READY=1\nSTATUS=hactl agent pg1 started");
    assert.match(notifier.send({ STOPPING: 1 }) ?? "", /sd_notify: sendto\(.*\) failed/);
  } finally {
    notifier.close();
    try {
      receiver.kill();
    } catch {
      // already exited
    }
    await Deno.remove(dir, { recursive: true });
  }
});
