#!/usr/bin/python3
# Watches what the kernel says about links (its own rtnetlink socket, in the namespace it runs in)
# and what skfastpathd says about them (PropertiesChanged on org.skfastpath1.Manager), with one
# clock (CLOCK_MONOTONIC, ns), so a test can tell how long the daemon took from RTM_NEWLINK to
# "attached", and which signal followed which kernel change.
#
#   linkwatch.py record FILE       one line per event, flushed; prints "ready" once subscribed:
#                                  NS kernel new|del IFINDEX NAME
#                                  NS signal Interfaces NAME,IFINDEX,ATTACHED ... (or "-" if empty)
#                                  NS signal OTHER_PROPERTY
#   linkwatch.py bench NAME COUNT  COUNT times: create veth NAME (peer NAME-p) with `ip`, wait for
#                                  the signal showing NAME attached, delete it, wait for the signal
#                                  showing it absent; prints each latency and the median and p90
#   linkwatch.py fake new|del IFINDEX NAME PID
#                                  sends a forged RTM_NEWLINK/RTM_DELLINK from this process (not the
#                                  kernel) to every rtnetlink socket of process PID in this namespace
#   linkwatch.py latency FILE NAME the latencies (ms) from a record FILE: for each "kernel new" of
#                                  NAME with a new ifindex, the first later signal showing NAME
#                                  attached on that ifindex (or "lost" when none came)
#
# Before any D-Bus signal is handled the netlink socket is drained, so a kernel event is always
# recorded before the signal it caused. Latencies therefore include the bus: kernel event ->
# daemon -> dbus-daemon -> this process; the process wakes up for the kernel event at the same time
# as the daemon does.
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

NETLINK_ROUTE = 0
RTMGRP_LINK = 1
RTM_NEWLINK, RTM_DELLINK = 16, 17
IFLA_IFNAME = 3


def now():
    return time.monotonic_ns()


class Rtnl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, RTMGRP_LINK))

    def drain(self):
        """[(t, 'new'|'del', ifindex, name)] of everything queued now."""
        out = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            except OSError as e:   # ENOBUFS: we lost events too; say so
                out.append((now(), 'lost', 0, os.strerror(e.errno)))
                continue
            t = now()
            off = 0
            while off + 16 <= len(data):
                length, mtype = struct.unpack_from('=IH', data, off)
                if length < 16 or off + length > len(data):
                    break
                if mtype in (RTM_NEWLINK, RTM_DELLINK) and length >= 32:
                    ifindex = struct.unpack_from('=i', data, off + 20)[0]
                    name = None
                    a = off + 32
                    while a + 4 <= off + length:
                        alen, atype = struct.unpack_from('=HH', data, a)
                        if alen < 4:
                            break
                        if atype == IFLA_IFNAME:
                            name = data[a + 4:a + alen].split(b'\0')[0].decode()
                        a += (alen + 3) & ~3
                    out.append((t, 'new' if mtype == RTM_NEWLINK else 'del', ifindex, name or '?'))
                off += (length + 3) & ~3


def interfaces_text(value):
    items = ['%s,%d,%s' % (str(n), int(i), 'true' if a else 'false') for n, i, a in value]
    return ' '.join(items) if items else '-'


class Watch:
    """The daemon's signals and the kernel's link events, in order, on the GLib loop."""

    def __init__(self, on_event):
        import dbus
        import dbus.mainloop.glib
        from gi.repository import GLib
        self.GLib = GLib
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        self.on_event = on_event
        self.rtnl = Rtnl()
        self.bus = dbus.SystemBus()
        self.bus.add_signal_receiver(self.on_signal, signal_name='PropertiesChanged',
                                     dbus_interface='org.freedesktop.DBus.Properties',
                                     path='/org/skfastpath1')
        # a round trip: the match is in place at the bus before we say we are ready
        self.bus.get_object('org.freedesktop.DBus', '/org/freedesktop/DBus').GetId(
            dbus_interface='org.freedesktop.DBus')
        GLib.io_add_watch(self.rtnl.sock.fileno(), GLib.IO_IN, self.on_rtnl)
        self.loop = GLib.MainLoop()

    def kernel(self):
        for t, what, ifindex, name in self.rtnl.drain():
            self.on_event(t, 'kernel', what, ifindex, name)

    def on_rtnl(self, fd, cond):
        self.kernel()
        return True

    def on_signal(self, interface, changed, invalidated):
        self.kernel()
        t = now()
        if interface != 'org.skfastpath1.Manager':
            return
        for prop, value in changed.items():
            if prop == 'Interfaces':
                self.on_event(t, 'signal', 'Interfaces', [(str(n), int(i), bool(a)) for n, i, a in value])
            else:
                self.on_event(t, 'signal', str(prop), None)
        for prop in invalidated:
            self.on_event(t, 'signal', str(prop) + '(invalidated)', None)


def record(path):
    out = open(path, 'a', buffering=1)

    def on_event(t, source, what, a, b=None):
        if source == 'kernel':
            out.write('%d kernel %s %d %s\n' % (t, what, a, b))
        elif what == 'Interfaces':
            out.write('%d signal Interfaces %s\n' % (t, interfaces_text(a)))
        else:
            out.write('%d signal %s\n' % (t, what))

    w = Watch(on_event)
    print('ready', flush=True)
    w.loop.run()


def latencies_from(lines, name):
    """For each new ifindex of NAME the kernel announced: ms until a signal showed it attached."""
    result = []
    waiting = None      # (t, ifindex) of the kernel event we wait an answer for
    current = None      # the ifindex NAME had at the last kernel event
    for line in lines:
        f = line.split()
        if len(f) < 3:
            continue
        t = int(f[0])
        if f[1] == 'kernel' and f[2] == 'new' and f[4] == name and int(f[3]) != current:
            if waiting:
                result.append(None)
            current = int(f[3])
            waiting = (t, current)
        elif f[1] == 'kernel' and f[2] == 'del' and int(f[3]) == current:
            current = None
        elif f[1] == 'signal' and f[2] == 'Interfaces' and waiting:
            if '%s,%d,true' % (name, waiting[1]) in f[3:]:
                result.append((t - waiting[0]) / 1e6)
                waiting = None
    if waiting:
        result.append(None)
    return result


def summary(lat):
    ok = sorted(x for x in lat if x is not None)
    if not ok:
        return 'no latency measured'
    p90 = ok[min(len(ok) - 1, int(round(0.9 * len(ok) + 0.5)) - 1)]
    return 'n=%d median=%.3f ms p90=%.3f ms min=%.3f ms max=%.3f ms lost=%d' % (
        len(ok), statistics.median(ok), p90, ok[0], ok[-1], len(lat) - len(ok))


def bench(name, count):
    state = {'phase': None, 't0': None, 'ifindex': None, 'lat': [], 'deadline': None}
    peer = name[:13] + '-p'

    children = []

    def ip(*args):
        # never wait here: the loop must be in poll() when the kernel announces the link, or the
        # event would be stamped late
        for c in [c for c in children if c.poll() is not None]:
            children.remove(c)
            if c.returncode != 0:
                sys.exit('ip link failed: %s' % ' '.join(c.args))
        children.append(subprocess.Popen(['ip', 'link'] + list(args)))

    def step():
        n = len(state['lat'])
        if n >= count:
            w.loop.quit()
            return False
        state['phase'] = 'create'
        state['t0'] = state['ifindex'] = None
        state['deadline'] = now() + 5 * 10**9
        ip('add', name, 'type', 'veth', 'peer', 'name', peer)
        return False

    def on_event(t, source, what, a, b=None):
        if source == 'kernel':
            if what == 'new' and b == name and state['phase'] == 'create' and state['t0'] is None:
                state['t0'], state['ifindex'] = t, a
            return
        if what != 'Interfaces':
            return
        mine = [x for x in a if x[0] == name]
        if not mine:
            return
        _, ifindex, attached = mine[0]
        if state['phase'] == 'create' and state['t0'] is not None and attached and ifindex == state['ifindex']:
            state['lat'].append((t - state['t0']) / 1e6)
            state['phase'] = 'delete'
            ip('del', name)
        elif state['phase'] == 'delete' and ifindex == 0:
            state['phase'] = None
            w.GLib.idle_add(step)

    def watchdog():
        if state['deadline'] and now() > state['deadline']:
            print('timed out in phase %s after %d rounds' % (state['phase'], len(state['lat'])), file=sys.stderr)
            subprocess.run(['ip', 'link', 'del', name], stderr=subprocess.DEVNULL)
            sys.exit(1)
        return True

    w = Watch(on_event)
    w.GLib.timeout_add(100, watchdog)
    w.GLib.idle_add(step)
    w.loop.run()
    for i, x in enumerate(state['lat']):
        print('round %d: %.3f ms' % (i + 1, x))
    print(summary(state['lat']))


def fake(what, ifindex, name, pid):
    inodes = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        if target.startswith('socket:['):
            inodes.add(int(target[8:-1]))
    ports = []
    with open('/proc/net/netlink') as f:
        next(f)
        for line in f:
            x = line.split()
            if int(x[1]) == NETLINK_ROUTE and int(x[9]) in inodes:
                ports.append(int(x[2]))
    name = name.encode() + b'\0'
    ifla = struct.pack('=HH', 4 + len(name), IFLA_IFNAME) + name
    ifla += b'\0' * (((len(ifla) + 3) & ~3) - len(ifla))
    payload = struct.pack('=BxHiII', 0, 1, ifindex, 0x1043, 0) + ifla
    msg = struct.pack('=IHHII', 16 + len(payload), RTM_NEWLINK if what == 'new' else RTM_DELLINK, 0, 0, 0) + payload
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    s.bind((0, 0))
    for port in ports:
        s.sendto(msg, (port, 0))
    if not ports:
        print('no rtnetlink socket of process %d in this namespace' % pid)
    return 0 if ports else 1


def main():
    cmd = sys.argv[1]
    if cmd == 'record':
        record(sys.argv[2])
    elif cmd == 'bench':
        bench(sys.argv[2], int(sys.argv[3]))
    elif cmd == 'fake':
        sys.exit(fake(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
    elif cmd == 'latency':
        with open(sys.argv[2]) as f:
            lat = latencies_from(f, sys.argv[3])
        for x in lat:
            print('lost' if x is None else '%.3f' % x)
        print(summary(lat))
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
