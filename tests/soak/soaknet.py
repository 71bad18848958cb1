#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients of the load and soak tests (tests/soak), run in the lab's client namespace against the
world servers of tests/lib/labnet.py. Every wait is bounded in time.

  soaknet.py load GO_FILE PORT COUNT HOST...
      COUNT connections to HOST:PORT (round robin over the hosts), each echoes a 12-byte hello,
      so that all COUNT are relayed at once; prints "held COUNT"; waits (at most 300 s) for
      GO_FILE to exist; then every connection echoes a payload of its own size (1 B to 256 KiB)
      both ways at once, half-closes and reads to EOF; sha256 and length are checked on each.
      Prints "ok load ..." and a "result {json}" line with the totals.
  soaknet.py orphan GO_FILE HOST PORT
      one connection echoes 100 bytes and prints "held LOCAL_PORT"; once GO_FILE exists (at most
      300 s) it closes and expects the world to reset it (its FIN went out directly: the test
      took the interface out of interception); prints "ok ..." with what came back.
  soaknet.py soak ARGS...
      the soak driver (--help): mixed traffic, a link flap every second and D-Bus changes at once,
      with checks on every connection, the daemon's counters, file descriptors and memory.
      Prints "ok ..." / "FAIL ..." lines, "N passed, N failed" and a "result {json}" line.
"""
import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from labnet import CHUNK, echo_stream, open_conn, send_pattern, serve_echo  # noqa: E402

TIMEOUT = 60


async def wait_for_file(path, seconds=300):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {seconds} s")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- load

def load_size(i):
    """1% of the connections 256 KiB, 9% 32 KiB, the rest 1 B to 4 KiB."""
    if i % 100 == 0:
        return 256 * 1024
    if i % 10 == 0:
        return 32 * 1024
    return 1 + random.Random(i).randrange(4096)


async def load(go_file, port, count, hosts):
    sem = asyncio.Semaphore(200)    # connects in flight: keeps every accept queue short
    conns = [None] * count
    t0 = time.monotonic()

    async def open_one(i):
        async with sem:
            reader, writer = await open_conn(hosts[i % len(hosts)], port, TIMEOUT)
            hello = b"hello %05d\n" % i
            writer.write(hello)
            got = await asyncio.wait_for(reader.readexactly(len(hello)), TIMEOUT)
            if got != hello:
                raise AssertionError(f"connection {i}: hello came back as {got!r}")
            conns[i] = (reader, writer)

    await asyncio.gather(*(open_one(i) for i in range(count)))
    t_open = time.monotonic() - t0
    print(f"held {count} in {t_open:.1f}s", flush=True)

    await wait_for_file(go_file)

    t1 = time.monotonic()
    total = 0

    async def one(i):
        nonlocal total
        reader, writer = conns[i]
        size = load_size(i)
        await echo_stream(reader, writer, size, i, timeout=240)
        total += size
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(one(i) for i in range(count)))
    t_xfer = time.monotonic() - t1
    hello_bytes = count * 12
    result = {"connections": count, "bytes_each_way": total + hello_bytes, "payload": total,
              "open_seconds": round(t_open, 2), "transfer_seconds": round(t_xfer, 2)}
    print(f"ok load {count} connections, {total + hello_bytes} bytes each way, sha256 verified "
          f"(opened in {t_open:.1f}s, transferred in {t_xfer:.1f}s)")
    print("result " + json.dumps(result), flush=True)


async def orphan(go_file, host, port):
    reader, writer = await open_conn(host, port, TIMEOUT)
    writer.write(b"x" * 100)
    if await asyncio.wait_for(reader.readexactly(100), TIMEOUT) != b"x" * 100:
        raise AssertionError("bad echo")
    print(f"held {writer.get_extra_info('sockname')[1]}", flush=True)
    await wait_for_file(go_file)
    writer.write_eof()
    try:
        rest = await asyncio.wait_for(reader.read(), TIMEOUT)
    except ConnectionResetError:
        print("ok orphan: the client's FIN went out directly and the world reset it")
        return
    raise AssertionError(f"the close came back as {rest!r} and EOF, not as a reset: still relayed?")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "soak":
        return soak_main(args)
    try:
        if cmd == "load":
            asyncio.run(load(args[0], int(args[1]), int(args[2]), args[3:]))
        elif cmd == "orphan":
            asyncio.run(orphan(args[0], args[1], int(args[2])))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (AssertionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        print(f"FAIL {cmd}: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


# ---------------------------------------------------------------- soak
#
# Timeline: the run is cut into intervals (30 s for 300 s). Even intervals are "exact": no traffic
# on the flapping link and the traffic link stays up, so the relay's counters must move by exactly
# what the clients did. Odd intervals add traffic over the flapping link and one flap of the
# traffic link, where connections may fail (cleanly: an error, never wrong bytes) and the counters
# are checked against bounds. At every interval end new connections wait until the running ones
# finished, and the counters are compared. Throughout: the flapping link goes down/up or is
# deleted/recreated every second, and D-Bus changes run in parallel.

FLAP_GRACE = 3.0        # a failure this long after a traffic-link flap still counts as caused by it
GAUGES = {"tracked-sockets", "managed-interfaces", "managed-ports"}
BUS = ("org.skfastpath1", "/org/skfastpath1", "org.skfastpath1.Manager")


class Failure(Exception):
    pass


class Soak:
    def __init__(self, a):
        self.a = a
        self.t0 = time.monotonic()
        self.stop = False
        self.gate = asyncio.Event()
        self.gate.set()
        self.inflight = 0
        self.passed = 0
        self.failed = 0
        self.c0_windows = []            # (start, end) of traffic-link flaps
        self.flaps = {"f0-down-up": 0, "f0-recreate": 0, "c0-down-up": 0}
        self.f0_recreated_at = None
        self.f0_managed = True
        self.reattached = 0
        self.reattach_missed = []
        self.reattach_slowest = 0.0
        self.bus_calls = 0
        self.bus_max = 0.0
        self.stats_answered = 0
        self.stats_max = 0.0
        self.samples = []               # (t, rss KiB, fds)
        self.cat = {}                   # category -> {"ok", "failed", "bytes"}
        self.bytes_checked = 0
        self.interval = self.new_interval()
        self.interval_index = 0
        self.intervals = []
        self.f0_relayed_after_recreate = 0
        self.f0_direct = 0
        self.fastpath_on = True

    # -------------------------------------------------------- reporting

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}", flush=True)
        return ok

    def now(self):
        return time.monotonic() - self.t0

    def new_interval(self):
        return {"relayed_attempts": 0, "relayed_ok": 0, "relayed_failed": 0, "relayed_bytes": 0,
                "relayed_bytes_attempted": 0, "f0_attempts": 0}

    def count(self, cat, ok, nbytes=0):
        c = self.cat.setdefault(cat, {"ok": 0, "failed": 0, "bytes": 0})
        c["ok" if ok else "failed"] += 1
        c["bytes"] += nbytes
        if ok:
            self.bytes_checked += nbytes

    def in_c0_window(self, start, end):
        return any(s - 0.1 <= end and start <= e + FLAP_GRACE for s, e in self.c0_windows)

    def failure(self, cat, start, err, allowed):
        end = self.now()
        self.count(cat, False)
        kinds = self.cat[cat].setdefault("errors", {})
        kind = f"{type(err).__name__}({getattr(err, 'errno', '') or ''})"
        kinds[kind] = kinds.get(kind, 0) + 1
        self.cat[cat]["slowest_failure"] = max(self.cat[cat].get("slowest_failure", 0), round(end - start, 1))
        if isinstance(err, Failure):
            self.check(False, f"{cat}: wrong bytes at {start:.1f}s: {err}")
        elif not allowed(start, end):
            self.check(False, f"{cat}: failed at {start:.1f}-{end:.1f}s outside any flap: "
                              f"{type(err).__name__}: {err}")

    # -------------------------------------------------------- helpers

    async def run(self, *cmd, timeout=10, check=True):
        p = await asyncio.create_subprocess_exec(*cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(p.communicate(), timeout)
        except asyncio.TimeoutError:
            p.kill()
            await p.wait()
            raise
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {err.decode().strip()}")
        return p.returncode, out.decode()

    async def busctl(self, *args, timeout=10):
        t = time.monotonic()
        rc, out = await self.run("busctl", "--system", "--json=short", *args, timeout=timeout,
                                 check=False)
        dt = time.monotonic() - t
        return rc, out, dt

    async def call(self, method, sig=None, *args):
        cmd = ["call", *BUS, method] + ([sig, *map(str, args)] if sig else [])
        rc, out, dt = await self.busctl(*cmd)
        self.bus_calls += 1
        self.bus_max = max(self.bus_max, dt)
        if rc != 0:
            raise RuntimeError(f"{method}{args}: exit {rc} {out.strip()}")
        return json.loads(out) if out.strip() else None

    async def prop(self, name):
        rc, out, dt = await self.busctl("get-property", *BUS, name)
        if rc != 0:
            raise RuntimeError(f"get-property {name}: exit {rc}")
        return json.loads(out)["data"]

    async def statistics(self):
        rc, out, dt = await self.busctl("call", *BUS, "GetStatistics")
        if rc != 0:
            raise RuntimeError(f"GetStatistics: exit {rc}")
        self.stats_answered += 1
        self.stats_max = max(self.stats_max, dt)
        return json.loads(out)["data"][0]

    def daemon_sample(self):
        pid = self.a.daemon_pid
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))

    def world_new_lines(self, since):
        with open(self.a.world_log, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace").splitlines()

    def world_offset(self):
        return os.path.getsize(self.a.world_log)

    # -------------------------------------------------------- one connection

    async def echo(self, host, port, size, seed, timeout=30):
        reader, writer = await open_conn(host, port, timeout)
        lport = writer.get_extra_info("sockname")[1]
        try:
            try:
                await echo_stream(reader, writer, size, seed, timeout)
            except AssertionError as e:
                raise Failure(str(e))
        finally:
            writer.close()
        return lport, size, size

    async def digest(self, host, port, size, seed, timeout=30):
        reader, writer = await open_conn(host, port, timeout)
        lport = writer.get_extra_info("sockname")[1]
        try:
            digest = await send_pattern(writer, size, seed)
            answer = await asyncio.wait_for(reader.read(), timeout)
            want = f"{size} {digest}\n".encode()
            if answer != want:
                raise Failure(f"digest answer {answer[:80]!r}, expected {want!r}")
        finally:
            writer.close()
        return lport, size, len(want)

    def pick_size(self, rnd):
        x = rnd.random()
        if x < 0.6:
            return rnd.randint(1, 4096)
        if x < 0.9:
            return rnd.randint(4097, 256 * 1024)
        return rnd.randint(256 * 1024 + 1, 1024 * 1024)

    # -------------------------------------------------------- traffic

    async def traffic_worker(self, cat, wid):
        rnd = random.Random(f"{cat}-{wid}")
        n = 0
        while not self.stop:
            await self.gate.wait()
            if self.stop:
                break
            if cat == "f0" and not self.interval_has_f0():
                await asyncio.sleep(0.2)
                continue
            v6 = (n + wid) % 2 == 1
            n += 1
            size = self.pick_size(rnd)
            seed = rnd.getrandbits(32)
            if cat == "relayed":
                host, port = ("2001:db8::10" if v6 else "198.18.0.10"), (9 if rnd.random() < 0.2 else 7)
            elif cat == "fastpath":
                host, port = ("::1" if v6 else "127.0.0.1"), self.a.fastpath_port
            elif cat == "unmanaged-c0":
                host, port = ("2001:db8::10" if v6 else "198.18.0.10"), 8080
            elif cat == "unmanaged-c1":
                host, port = ("2001:db8::20" if v6 else "198.18.0.20"), 7
            else:
                host, port = ("2001:db8::40" if v6 else "198.18.0.40"), 7
            start = self.now()
            iv = self.interval
            relayed = cat in ("relayed", "f0")
            if relayed:
                iv["relayed_attempts" if cat == "relayed" else "f0_attempts"] += 1
                iv["relayed_bytes_attempted"] += size + 80 if port == 9 else 2 * size
            woff = self.world_offset() if cat == "f0" else 0
            self.inflight += 1
            try:
                fn = self.digest if port == 9 else self.echo
                lport, up, down = await fn(host, port, size, seed, 15 if cat == "f0" else 30)
                self.count(cat, True, up + down)
                if cat == "relayed":
                    iv["relayed_ok"] += 1
                    iv["relayed_bytes"] += up + down
                elif cat == "f0":
                    if self.f0_was_direct(woff, host, lport):
                        self.f0_direct += 1
                    else:
                        iv["relayed_ok"] += 1
                        iv["relayed_bytes"] += up + down
                        if self.f0_recreated_at is not None and start > self.f0_recreated_at:
                            self.f0_relayed_after_recreate += 1
            except (Failure, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                if relayed:
                    iv["relayed_failed"] += 1
                allowed = {
                    "f0": lambda s, e: True,
                    "relayed": self.in_c0_window,
                    "unmanaged-c0": self.in_c0_window,
                }.get(cat, lambda s, e: False)
                self.failure(cat, start, e, allowed)
            finally:
                self.inflight -= 1
            await asyncio.sleep(rnd.uniform(0.01, 0.05))

    def f0_was_direct(self, woff, host, lport):
        src = "2001:db8:4::1" if ":" in host else "198.19.3.1"
        return any(line == f"accept 7 {src} {lport}" for line in self.world_new_lines(woff))

    async def long_lived(self, cat, host, port, seed):
        """A connection that ping-pongs for the whole run; relayed ones may be broken by a flap of
        the traffic link (then reopened), fastpath ones never."""
        rnd = random.Random(seed)
        relayed = cat == "long-relayed"
        while not self.stop:
            await self.gate.wait()
            if self.stop:
                break
            start = self.now()
            writer = None
            try:
                self.inflight += 1
                try:
                    if relayed:
                        self.interval["relayed_attempts"] += 1
                    reader, writer = await open_conn(host, port, 30)
                finally:
                    self.inflight -= 1
                while not self.stop:
                    await self.gate.wait()
                    if self.stop:
                        break
                    iv = self.interval
                    size = rnd.randint(1, 65536)
                    self.inflight += 1
                    try:
                        if relayed:
                            iv["relayed_bytes_attempted"] += 2 * size
                        try:
                            await echo_stream(reader, writer, size, rnd.getrandbits(32), 30, half_close=False)
                        except AssertionError as e:
                            raise Failure(str(e))
                        self.count(cat + "-rounds", True, 2 * size)
                        if relayed:
                            iv["relayed_bytes"] += 2 * size
                    finally:
                        self.inflight -= 1
                    await asyncio.sleep(0.05)
                # the end: our FIN must come back as the peer's FIN, nothing else
                self.inflight += 1
                try:
                    writer.write_eof()
                    rest = await asyncio.wait_for(reader.read(), 30)
                    if rest:
                        raise Failure(f"{len(rest)} stray bytes before EOF")
                finally:
                    self.inflight -= 1
                writer.close()
                self.count(cat, True)
                if relayed:
                    self.interval["relayed_ok"] += 1
                return
            except (Failure, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                if relayed:
                    self.interval["relayed_failed"] += 1
                self.failure(cat, start, e, self.in_c0_window if relayed else (lambda s, e: False))
                if writer:
                    writer.close()
                await asyncio.sleep(0.5)

    async def fastpath_server(self):
        async def handle(reader, writer):
            try:
                await serve_echo(reader, writer)
            except ConnectionError:
                pass
            finally:
                writer.close()
        servers = []
        for host in ("127.0.0.1", "::1"):
            servers.append(await asyncio.start_server(handle, host, self.a.fastpath_port, limit=CHUNK,
                                                      backlog=1024))
        return servers

    # -------------------------------------------------------- links

    async def ip(self, *args, check=True):
        return await self.run("ip", *args, check=check)

    async def f0_configure(self):
        """Addresses and routes of the flapping link, both ends (what a flap removed)."""
        w = self.a.world_ns
        await self.ip("addr", "replace", "198.19.3.1/24", "dev", "skfp-f0")
        await self.ip("addr", "replace", "2001:db8:4::1/64", "dev", "skfp-f0", "nodad")
        await self.ip("link", "set", "skfp-f0", "up")
        await self.ip("-n", w, "addr", "replace", "198.19.3.2/24", "dev", "skfp-fw0")
        await self.ip("-n", w, "addr", "replace", "2001:db8:4::2/64", "dev", "skfp-fw0", "nodad")
        await self.ip("-n", w, "link", "set", "skfp-fw0", "up")
        await self.ip("route", "replace", "198.18.0.40/32", "via", "198.19.3.2", "dev", "skfp-f0")
        await self.ip("-6", "route", "replace", "2001:db8::40/128", "via", "2001:db8:4::2", "dev", "skfp-f0")

    async def c0_configure(self):
        await self.ip("link", "set", "skfp-c0", "up")
        await self.ip("addr", "replace", "2001:db8:1::1/64", "dev", "skfp-c0", "nodad")
        await self.ip("route", "replace", "198.18.0.10/32", "via", "198.19.0.2", "dev", "skfp-c0")
        await self.ip("-6", "route", "replace", "2001:db8::10/128", "via", "2001:db8:1::2", "dev", "skfp-c0")

    async def f0_ifindex(self):
        _, out = await self.ip("-j", "link", "show", "skfp-f0")
        return json.loads(out)[0]["ifindex"]

    async def f0_flap(self, recreate):
        if recreate:
            await self.ip("link", "del", "skfp-f0")
            await asyncio.sleep(0.2)
            await self.ip("link", "add", "skfp-f0", "type", "veth", "peer", "name", "skfp-fw0",
                          "netns", self.a.world_ns)
            await self.f0_configure()
            self.flaps["f0-recreate"] += 1
            self.f0_recreated_at = self.now()
        else:
            await self.ip("link", "set", "skfp-f0", "down")
            await asyncio.sleep(0.2)
            await self.f0_configure()
            self.flaps["f0-down-up"] += 1
        await self.check_reattached(await self.f0_ifindex(), "recreated" if recreate else "down/up")

    async def check_reattached(self, idx, how):
        """While skfp-f0 is managed, the daemon attaches to whatever link now has that name."""
        t = time.monotonic()
        while time.monotonic() - t < 2.0:
            got = {x[0]: x for x in await self.prop("Interfaces")}
            if not self.f0_managed or "skfp-f0" not in got:
                return      # a D-Bus change took it out meanwhile
            if got["skfp-f0"] == ["skfp-f0", idx, True]:
                self.reattached += 1
                self.reattach_slowest = max(self.reattach_slowest, time.monotonic() - t)
                return
            await asyncio.sleep(0.02)
        self.reattach_missed.append(f"{how} at {self.now():.1f}s: ifindex {idx}, Interfaces says {got.get('skfp-f0')}")

    async def f0_flapper(self):
        tick = 0
        while not self.stop:
            t_next = time.monotonic() + 1.0
            tick += 1
            try:
                await self.f0_flap(recreate=tick % 2 == 0)
            except (RuntimeError, asyncio.TimeoutError, ValueError) as e:
                self.check(False, f"flap {tick} of skfp-f0: {e}")
                return
            await asyncio.sleep(max(0.0, t_next - time.monotonic()))

    async def c0_flap(self):
        start = self.now()
        self.c0_windows.append((start, start + 60))     # open until it is up again
        try:
            await self.ip("link", "set", "skfp-c0", "down")
            await asyncio.sleep(0.5)
            await self.c0_configure()
            self.flaps["c0-down-up"] += 1
        except (RuntimeError, asyncio.TimeoutError) as e:
            self.check(False, f"flap of skfp-c0: {e}")
        self.c0_windows[-1] = (start, self.now())

    # -------------------------------------------------------- D-Bus

    async def bus_changer(self):
        """Changes in a fixed cycle, so the state is always known; each one checked through the
        properties. Every call must succeed."""
        ops = [("AddPort", "q", self.a.spare_port), ("SetFastpath", "b", "false"),
               ("RemoveInterface", "s", "skfp-f0"), ("AddInterface", "s", "skfp-spare"),
               ("RemovePort", "q", self.a.spare_port), ("SetFastpath", "b", "true"),
               ("AddInterface", "s", "skfp-f0"), ("RemoveInterface", "s", "skfp-spare")]
        ports = set(self.a.ports)
        ifaces = {"skfp-c0", "skfp-f0"}
        i = 0
        try:
            while not self.stop or i % len(ops) != 0:
                method, sig, arg = ops[i % len(ops)]
                i += 1
                if method == "RemoveInterface" and arg == "skfp-f0":
                    self.f0_managed = False     # before the call: the flapper must not wait for it
                await self.call(method, sig, arg)
                if method == "AddPort":
                    ports.add(arg)
                elif method == "RemovePort":
                    ports.discard(arg)
                elif method == "AddInterface":
                    ifaces.add(arg)
                elif method == "RemoveInterface":
                    ifaces.discard(arg)
                else:
                    self.fastpath_on = arg == "true"
                self.f0_managed = "skfp-f0" in ifaces
                got_ports = set(await self.prop("Ports"))
                got_ifaces = {x[0] for x in await self.prop("Interfaces")}
                got_fp = await self.prop("Fastpath")
                if got_ports != ports or got_ifaces != ifaces or got_fp != self.fastpath_on:
                    self.check(False, f"after {method}({arg}): Ports {sorted(got_ports)}, Interfaces "
                                      f"{sorted(got_ifaces)}, Fastpath {got_fp}; expected {sorted(ports)}, "
                                      f"{sorted(ifaces)}, {self.fastpath_on}")
                    return
                st = await self.statistics()
                if st["managed-ports"] != len(ports) or st["managed-interfaces"] != len(ifaces):
                    self.check(False, f"after {method}({arg}): managed-ports {st['managed-ports']}, "
                                      f"managed-interfaces {st['managed-interfaces']}")
                    return
                await asyncio.sleep(0.25)
        except (RuntimeError, asyncio.TimeoutError, ValueError, KeyError) as e:
            self.check(False, f"D-Bus change {i}: {e}")

    async def monitor(self):
        prev = None
        while not self.stop:
            try:
                st = await self.statistics()
            except (RuntimeError, asyncio.TimeoutError, ValueError) as e:
                self.check(False, f"GetStatistics at {self.now():.1f}s: {e}")
                return
            if prev:
                back = [k for k in st if k not in GAUGES and st[k] < prev.get(k, 0)]
                if back:
                    self.check(False, f"counters went backwards at {self.now():.1f}s: {back}")
                    return
            prev = st
            try:
                rss, fds = self.daemon_sample()
            except (OSError, StopIteration) as e:
                self.check(False, f"the daemon is gone at {self.now():.1f}s: {e}")
                return
            self.samples.append((self.now(), rss, fds))
            await asyncio.sleep(1)

    # -------------------------------------------------------- checkpoints

    def interval_has_f0(self):
        return self.interval_index % 2 == 1

    async def quiesce(self):
        self.gate.clear()
        deadline = time.monotonic() + 90
        while self.inflight > 0:
            if time.monotonic() > deadline:
                self.check(False, f"{self.inflight} connections still running 90 s after the pause")
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)    # the relay's last bytes of the closing connections

    def check_interval(self, k, iv, d):
        exact = k % 2 == 0
        rc, rb = d["relayed-connections"], d["relayed-bytes"]
        label = f"interval {k} ({'exact' if exact else 'with flaps'}): "
        if exact:
            ok = (rc == iv["relayed_attempts"] and iv["relayed_failed"] == 0 and
                  rb == iv["relayed_bytes"] and d["relay-errors"] == 0 and
                  d["intercepted-connections"] == rc)
            self.check(ok, label + f"relayed-connections +{rc} = {iv['relayed_attempts']} made, relayed-bytes "
                               f"+{rb} = {iv['relayed_bytes']} echoed, relay-errors +{d['relay-errors']}, "
                               f"intercepted-connections +{d['intercepted-connections']}")
        else:
            made = iv["relayed_attempts"] + iv["f0_attempts"]
            ok = (iv["relayed_ok"] <= rc <= made and iv["relayed_bytes"] <= rb <= iv["relayed_bytes_attempted"]
                  and d["relay-errors"] <= iv["relayed_failed"] + iv["f0_attempts"])
            self.check(ok, label + f"relayed-connections +{rc} within {iv['relayed_ok']}..{made}, relayed-bytes "
                               f"+{rb} within {iv['relayed_bytes']}..{iv['relayed_bytes_attempted']}, "
                               f"relay-errors +{d['relay-errors']} <= failed {iv['relayed_failed']}")
        self.intervals.append({"k": k, "exact": exact, **iv, "delta": d})

    # -------------------------------------------------------- the run

    async def main(self):
        a = self.a
        servers = await self.fastpath_server()
        base = await self.statistics()
        rss0, fds0 = self.daemon_sample()
        print(f"     start: daemon RSS {rss0} KiB, {fds0} fds", flush=True)

        n_intervals = max(2, int(round(a.seconds / a.interval)))
        tasks = [asyncio.create_task(self.f0_flapper()), asyncio.create_task(self.bus_changer()),
                 asyncio.create_task(self.monitor())]
        workers = []
        for cat, n in (("relayed", 4), ("fastpath", 3), ("unmanaged-c0", 1), ("unmanaged-c1", 1), ("f0", 2)):
            workers += [asyncio.create_task(self.traffic_worker(cat, w)) for w in range(n)]
        for i, (cat, host, port) in enumerate((("long-relayed", "198.18.0.10", 7),
                                               ("long-relayed", "2001:db8::10", 7),
                                               ("long-fastpath", "127.0.0.1", a.fastpath_port),
                                               ("long-fastpath", "::1", a.fastpath_port))):
            workers.append(asyncio.create_task(self.long_lived(cat, host, port, 1000 + i)))

        prev = base
        rss_warm = None
        for k in range(n_intervals):
            self.interval_index = k
            t_end = time.monotonic() + a.seconds / n_intervals     # the pauses come on top
            if k % 2 == 1:
                await asyncio.sleep(max(0.0, (t_end - time.monotonic()) / 2))
                await self.c0_flap()
            await asyncio.sleep(max(0.0, t_end - time.monotonic()))
            await self.quiesce()
            iv, self.interval = self.interval, self.new_interval()
            st = await self.statistics()
            self.check_interval(k, iv, {key: st[key] - prev[key] for key in st})
            prev = st
            if k == 0:
                rss_warm = self.daemon_sample()[0]
            if k == n_intervals - 1:
                self.stop = True
            self.gate.set()

        # the end: every worker finishes, the long-lived connections close, the links are whole
        await asyncio.wait_for(asyncio.gather(*workers), 120)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await self.f0_configure()
        await self.c0_configure()
        st = await self.statistics()
        d = {key: st[key] - prev[key] for key in st}
        self.check(d["relayed-connections"] == 0 and d["relayed-bytes"] == 0 and d["relay-errors"] == 0,
                   f"the end (long-lived connections closed): relayed-connections +{d['relayed-connections']}, "
                   f"relayed-bytes +{d['relayed-bytes']}, relay-errors +{d['relay-errors']}, all 0")
        for c in ("long-relayed", "long-fastpath"):
            self.check(self.cat.get(c, {}).get("ok", 0) == 2,
                       f"{c}: both connections closed cleanly at the end ({self.cat.get(c)})")
        self.check(self.cat.get("long-fastpath", {}).get("failed", 0) == 0,
                   "long-fastpath: the two connections lived through the whole run")

        await self.final_round()

        for s in servers:
            s.close()
        return rss0, fds0, rss_warm

    async def wait_f0_attached(self):
        for _ in range(100):
            # /sys shows the namespace sysfs was mounted in, not ours: ask ip
            _, out = await self.ip("-j", "link", "show", "skfp-f0")
            idx = json.loads(out)[0]["ifindex"]
            got = {x[0]: x for x in await self.prop("Interfaces")}
            if got.get("skfp-f0") == ["skfp-f0", idx, True]:
                return idx
            await asyncio.sleep(0.1)
        return None

    async def final_round(self):
        """Nothing changes any more: the counters must move exactly with the traffic."""
        # the bus is quiet now: one more flap of each kind must be followed by the daemon alone
        missed = len(self.reattach_missed)
        await self.f0_flap(recreate=False)
        await self.f0_flap(recreate=True)
        self.check(len(self.reattach_missed) == missed, "with the bus quiet, skfp-f0 down/up and recreated: "
                                                        "attached again")
        idx = await self.wait_f0_attached()
        self.check(idx is not None, f"after {self.flaps['f0-recreate']} recreations skfp-f0 (ifindex {idx}) "
                                    "is attached")
        await asyncio.sleep(0.5)
        before = await self.statistics()
        rnd = random.Random(7)
        sums = {"relayed": 0, "fastpath": 0, "f0": 0}
        counts = {"relayed": 0, "fastpath": 0, "f0": 0}
        direct = 0
        sem = asyncio.Semaphore(16)

        async def one(cat, host, port, i):
            nonlocal direct
            size = self.pick_size(rnd)
            async with sem:
                woff = self.world_offset()
                try:
                    lport, up, down = await self.echo(host, port, size, i)
                except (Failure, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                    self.check(False, f"final round: {cat} {host} {size} bytes: {type(e).__name__}: {e}")
                    return
            self.count("final-" + cat, True, up + down)
            sums[cat] += up + down
            counts[cat] += 1
            if cat == "f0" and self.f0_was_direct(woff, host, lport):
                direct += 1

        jobs = []
        for i in range(100):
            v6 = i % 2
            jobs.append(one("relayed", "2001:db8::10" if v6 else "198.18.0.10", 7, i))
            jobs.append(one("fastpath", "::1" if v6 else "127.0.0.1", self.a.fastpath_port, i))
            if i < 20:
                jobs.append(one("f0", "2001:db8::40" if v6 else "198.18.0.40", 7, i))
        await asyncio.gather(*jobs)
        await asyncio.sleep(0.5)
        after = await self.statistics()
        d = {k: after[k] - before[k] for k in after}
        nr = counts["relayed"] + counts["f0"]
        br = sums["relayed"] + sums["f0"]
        self.check(direct == 0, f"final round: all {counts['f0']} connections over skfp-f0 were relayed "
                                f"({direct} went direct)")
        self.check(d["relayed-connections"] == nr, f"final round: relayed-connections +{d['relayed-connections']} = {nr}")
        self.check(d["relayed-bytes"] == br, f"final round: relayed-bytes +{d['relayed-bytes']} = {br}")
        self.check(d["relay-errors"] == 0, f"final round: relay-errors +{d['relay-errors']} = 0")
        self.check(d["intercepted-connections"] == nr,
                   f"final round: intercepted-connections +{d['intercepted-connections']} = {nr}")
        # The daemon runs in the test's cgroup (as it does in the root cgroup of a desktop): the
        # client and the accepted socket of every relayed connection enter the sockhash and are
        # redirected, its upstream socket is skipped by the bypass mark.
        ins = 2 * counts["fastpath"] + 2 * nr
        fb = sums["fastpath"] + br
        skipped = nr
        self.check(d["fastpath-inserts"] == ins, f"final round: fastpath-inserts +{d['fastpath-inserts']} = {ins}")
        self.check(d["fastpath-insert-failures"] == 0,
                   f"final round: fastpath-insert-failures +{d['fastpath-insert-failures']} = 0")
        self.check(d["fastpath-skipped-bypass"] == skipped,
                   f"final round: fastpath-skipped-bypass +{d['fastpath-skipped-bypass']} = {skipped}")
        self.check(d["fastpath-bytes"] == fb and d["fastpath-passed-bytes"] == 0,
                   f"final round: fastpath-bytes +{d['fastpath-bytes']} = {fb} "
                   f"(passed +{d['fastpath-passed-bytes']})")
        self.check(d["fastpath-misses"] == 0, f"final round: fastpath-misses +{d['fastpath-misses']} = 0")


async def soak(a):
    s = Soak(a)
    try:
        rss0, fds0, rss_warm = await s.main()
    except (RuntimeError, asyncio.TimeoutError, OSError, ValueError, KeyError) as e:
        s.check(False, f"soak driver: {type(e).__name__}: {e}")
        print(f"{s.passed} passed, {s.failed} failed")
        return 1

    # the daemon: alive, answering, nothing grown
    st = await s.statistics()
    await asyncio.sleep(1)
    rss1, fds1 = s.daemon_sample()
    # A relayed connection over skfp-f0 whose client's FIN or reset went out directly (while the
    # link was not intercepted) waits for the relay's keepalive: up to 90 s after the client left.
    t = time.monotonic()
    while fds1 > fds0 and time.monotonic() - t < 100:
        await asyncio.sleep(0.5)
        rss1, fds1 = s.daemon_sample()
    if time.monotonic() - t > 1:
        print(f"     waited {time.monotonic() - t:.0f} s for the daemon's fds to come back "
              "(orphaned relayed connections closed by keepalive)", flush=True)
    third = max(1, len(s.samples) // 3)
    early = sorted(r for _, r, _ in s.samples[third:2 * third] or s.samples)[0]
    late = sorted(r for _, r, _ in s.samples[2 * third:] or s.samples)[0]
    fd_max = max(f for _, _, f in s.samples)
    s.check(fds1 == fds0, f"daemon fds back to {fds0} at the end (now {fds1}, at most {fd_max} during the run)")
    s.check(late - early <= 2048, f"daemon RSS does not grow: lowest {early} KiB in the middle third, "
                                  f"{late} KiB in the last")
    s.check(rss1 - rss_warm <= 4096, f"daemon RSS {rss1} KiB at the end, {rss_warm} KiB after the first "
                                     f"interval, {rss0} KiB at the start")
    s.check(st["tracked-sockets"] == 0, f"tracked-sockets {st['tracked-sockets']} with no connection open")
    s.check(s.stats_answered >= 0.8 * a.seconds,
            f"GetStatistics answered {s.stats_answered} times, slowest {s.stats_max * 1000:.0f} ms")
    s.check(s.bus_max < 5, f"{s.bus_calls} D-Bus changes, slowest {s.bus_max * 1000:.0f} ms")
    total_flaps = sum(s.flaps.values())
    s.check(s.flaps["f0-down-up"] + s.flaps["f0-recreate"] >= 0.8 * a.seconds,
            f"{total_flaps} link flaps ({s.flaps})")
    s.check(not s.reattach_missed, f"skfp-f0 attached again after {s.reattached} of its flaps while managed "
                                   f"(slowest {s.reattach_slowest * 1000:.0f} ms), missed: {s.reattach_missed[:3]}")
    s.check(s.f0_relayed_after_recreate > 0,
            f"{s.f0_relayed_after_recreate} connections over skfp-f0 relayed after a recreation "
            f"({s.f0_direct} went direct: while unmanaged or not yet attached)")
    for cat in ("relayed", "fastpath", "unmanaged-c0", "unmanaged-c1", "f0"):
        c = s.cat.get(cat, {"ok": 0, "failed": 0, "bytes": 0})
        s.check(c["ok"] > 0, f"{cat}: {c['ok']} connections byte-exact ({c['bytes']} bytes), "
                             f"{c['failed']} failed cleanly {c.get('errors', '')}")
    result = {"seconds": a.seconds, "flaps": s.flaps, "bus_changes": s.bus_calls,
              "bytes_checked": s.bytes_checked, "categories": s.cat,
              "rss_start": rss0, "rss_warm": rss_warm, "rss_end": rss1, "fds_start": fds0, "fds_end": fds1,
              "intervals_exact": sum(1 for i in s.intervals if i["exact"]),
              "intervals": len(s.intervals)}
    print("result " + json.dumps(result), flush=True)
    print(f"{s.passed} passed, {s.failed} failed", flush=True)
    return 0 if s.failed == 0 else 1


def soak_main(args):
    p = argparse.ArgumentParser(prog="soaknet.py soak")
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--daemon-pid", type=int, required=True)
    p.add_argument("--world-ns", required=True)
    p.add_argument("--world-log", required=True)
    p.add_argument("--fastpath-port", type=int, default=5001)
    p.add_argument("--spare-port", type=int, default=2222)
    p.add_argument("--ports", type=int, nargs="+", default=[7, 9, 5001])
    a = p.parse_args(args)
    a.interval = min(30.0, max(5.0, a.seconds / 10))
    return asyncio.run(soak(a))


if __name__ == "__main__":
    sys.exit(main())
