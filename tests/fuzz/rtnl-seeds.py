#!/usr/bin/python3
# Writes the seed corpus of the rtnl fuzz target (tests/fuzz/corpus/rtnl/): one datagram per file,
# as recv() on the daemon's rtnetlink socket returns it.
#
#   tests/fuzz/rtnl-seeds.py DIR            synthetic messages: valid, borderline and hostile
#   tests/fuzz/rtnl-seeds.py --capture DIR  (root) real datagrams from the kernel: a link dump and
#                                           events, in a network namespace of its own
import os
import socket
import struct
import subprocess
import sys

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_DUMP = 1, 2, 0x300
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO, IFLA_IFALIAS = 1, 3, 4, 18, 20
IFLA_INFO_KIND = 1
ARPHRD_ETHER, ARPHRD_NONE = 1, 0xfffe


def align(n):
    return (n + 3) & ~3


def attr(atype, payload):
    a = struct.pack('=HH', 4 + len(payload), atype) + payload
    return a + b'\0' * (align(len(a)) - len(a))


def msg(mtype, payload, flags=0, seq=0, length=None):
    n = 16 + len(payload)
    m = struct.pack('=IHHII', n if length is None else length, mtype, flags, seq, 0) + payload
    return m + b'\0' * (align(len(m)) - len(m))


def link(mtype, ifindex, name, arphrd=ARPHRD_ETHER, flags=0x1043, extra=b'', seq=0, nlflags=0):
    ifi = struct.pack('=BxHiII', 0, arphrd, ifindex, flags, 0)
    attrs = attr(IFLA_IFNAME, name) if name is not None else b''
    attrs += attr(IFLA_MTU, struct.pack('=I', 1500)) + extra
    return msg(mtype, ifi + attrs, flags=nlflags, seq=seq)


def done(seq=7):
    return msg(NLMSG_DONE, struct.pack('=i', 0), flags=NLM_F_MULTI, seq=seq)


def error(err, seq=7):
    req = struct.pack('=IHHII', 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    return msg(NLMSG_ERROR, struct.pack('=i', err) + req, seq=seq)


def synthetic():
    veth = attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b'veth\0'))
    mac = attr(IFLA_ADDRESS, bytes.fromhex('020000000001'))
    seeds = {
        'newlink-eth': link(RTM_NEWLINK, 2, b'eth0\0', extra=mac),
        'newlink-veth-linkinfo': link(RTM_NEWLINK, 5, b'skfp-c0\0', extra=mac + veth),
        'newlink-wg-l3': link(RTM_NEWLINK, 9, b'wg0\0', arphrd=ARPHRD_NONE, flags=0x91),
        'newlink-name-15': link(RTM_NEWLINK, 3, b'abcdefghijklmno\0'),
        'dellink': link(RTM_DELLINK, 5, b'skfp-c0\0', flags=0x1002),
        'dump-two-and-done': (link(RTM_NEWLINK, 1, b'lo\0', seq=7, nlflags=NLM_F_MULTI) +
                              link(RTM_NEWLINK, 2, b'eth0\0', seq=7, nlflags=NLM_F_MULTI) + done()),
        'done': done(),
        'error-ebusy': error(-16),
        'error-enobufs': error(-105),
        'ack': error(0),
        'rename-then-delete': link(RTM_NEWLINK, 4, b'new-name\0') + link(RTM_DELLINK, 4, b'new-name\0'),
        'alias-long': link(RTM_NEWLINK, 6, b'skfp-n0\0', extra=attr(IFLA_IFALIAS, b'a' * 255 + b'\0')),
        # hostile: each must be skipped, none may produce a link
        'hostile-name-16': link(RTM_NEWLINK, 3, b'abcdefghijklmnop\0'),
        'hostile-name-unterminated': link(RTM_NEWLINK, 3, b'eth0'),
        'hostile-name-empty': link(RTM_NEWLINK, 3, b'\0'),
        'hostile-no-name': link(RTM_NEWLINK, 3, None),
        'hostile-ifindex-0': link(RTM_NEWLINK, 0, b'eth0\0'),
        'hostile-ifindex-negative': link(RTM_NEWLINK, -5, b'eth0\0'),
        'hostile-truncated': link(RTM_NEWLINK, 2, b'eth0\0')[:30],
        'hostile-len-huge': msg(RTM_NEWLINK, b'\0' * 16, length=0xfffffff0),
        'hostile-len-short': msg(RTM_NEWLINK, b'\0' * 16, length=8),
        'hostile-attr-len-past-end': link(RTM_NEWLINK, 2, b'eth0\0') + msg(RTM_NEWLINK,
            struct.pack('=BxHiII', 0, 1, 3, 0, 0) + struct.pack('=HH', 200, IFLA_IFNAME) + b'x\0\0\0'),
        'hostile-attr-len-3': msg(RTM_NEWLINK, struct.pack('=BxHiII', 0, 1, 3, 0, 0) +
                                  struct.pack('=HH', 3, IFLA_IFNAME) + b'eth0\0\0\0\0'),
        'hostile-error-short': msg(NLMSG_ERROR, b'\xf0\xff'),
    }
    return seeds


def capture_inside():
    """Runs inside the namespace: events of a veth's life, then a dump, as the kernel sends them."""
    seeds = {}
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 1))
    for cmd in (['link', 'set', 'lo', 'up'],
                ['link', 'add', 'skfp-s0', 'type', 'veth', 'peer', 'name', 'skfp-s1'],
                ['link', 'set', 'skfp-s0', 'name', 'skfp-r0'],
                ['link', 'del', 'skfp-r0']):
        subprocess.run(['ip'] + cmd, check=True)
    s.settimeout(0.5)
    n = 0
    try:
        while True:
            d = s.recv(65536)
            mtype = struct.unpack_from('=H', d, 4)[0]
            seeds['captured-event-%d-%s' % (n, 'new' if mtype == RTM_NEWLINK else 'del')] = d
            n += 1
    except socket.timeout:
        pass
    subprocess.run(['ip', 'link', 'add', 'skfp-d0', 'type', 'veth', 'peer', 'name', 'skfp-d1'], check=True)
    s.close()
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    s.settimeout(1)
    s.send(msg(RTM_GETLINK, struct.pack('=BxHiII', 0, 0, 0, 0, 0), flags=NLM_F_REQUEST | NLM_F_DUMP, seq=7))
    for n in range(10):
        d = s.recv(32768)
        seeds['captured-dump-%d' % n] = d
        off, last = 0, None
        while off + 16 <= len(d):
            length, last = struct.unpack_from('=IH', d, off)
            off += align(max(length, 16))
        if last == NLMSG_DONE:
            break
    return seeds


def capture(out):
    ns = 'skfp-fuzzseed-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    try:
        subprocess.run(['nsenter', '--net=/run/netns/' + ns, sys.executable, os.path.abspath(__file__),
                        '--capture-inside', out], check=True)
    finally:
        subprocess.run(['ip', 'netns', 'del', ns])


def main():
    if sys.argv[1] == '--capture':
        capture(sys.argv[2])
        return
    if sys.argv[1] == '--capture-inside':
        out, seeds = sys.argv[2], capture_inside()
    else:
        out, seeds = sys.argv[1], synthetic()
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print('%d seeds in %s' % (len(seeds), out))


if __name__ == '__main__':
    main()
