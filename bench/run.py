#!/usr/bin/env python3
"""pop3d against the POP3 servers Debian ships, on one machine.

Not a test: it prints figures and ratios and never fails on a figure.  Run
as root on Debian 12 (see README.md in this directory):

    sudo python3 bench/run.py            # about 5 minutes on 2 cores

It runs bench/setup.sh (peers, test account, configuration), builds pop3d
unless --pop3d names a binary, generates the maildrops under
/var/tmp/pop3d-bench, measures each server in turn, prints two tables and
writes them to bench/results-DATE.txt.

Every server but Dovecot runs one process per connection under tcpserver
(ucspi-tcp), without -D, so Nagle's algorithm is on unless the server turns
it off itself.  Dovecot 2.x cannot run from inetd (its login process needs
its master), so it listens itself in its default mode, which also starts a
pop3-login and a pop3 process per connection.

How each figure is taken is told next to the code that takes it and in
README.md.
"""
import argparse
import ctypes
import datetime
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORK = '/var/tmp/pop3d-bench'
DATA = WORK + '/data'           # pristine maildrops, copied before each use
ETC = '/etc/pop3d-bench'
USER = 'pop3bench'
PASSWORD = 'bench-Pass-1'       # also in setup.sh
HOME = WORK + '/home'
MBOX = '/var/mail/' + USER
# In the home directory, where the user may create the lock files that some
# servers want beside a maildir.
MAILDIR = HOME + '/Maildir'
DATA_VERSION = 'pop3d-bench data v2'
HZ = os.sysconf('SC_CLK_TCK')
GNU_TIME = '/usr/bin/time'
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Processes: CPU and memory of a server's whole process tree.

def proc_table():
    """{pid: (ppid, comm, own CPU ticks, reaped children's CPU ticks)}"""
    table = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                s = f.read()
        except OSError:
            continue
        rp = s.rindex(')')
        comm = s[s.index('(') + 1:rp]
        f = s[rp + 2:].split()
        # Fields 4 (ppid), 14-17 (utime stime cutime cstime) of proc(5).
        table[int(d)] = (int(f[1]), comm, int(f[11]) + int(f[12]),
                         int(f[13]) + int(f[14]))
    return table


def descendants(table, root):
    kids = {}
    for pid, row in table.items():
        kids.setdefault(row[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in table:
            out.append(p)
            todo.extend(kids.get(p, ()))
    return out


def tree_cpu(root):
    """CPU seconds used so far by root, its live descendants, and every
    descendant already reaped.  The listener is made a child subreaper
    (prctl), so even a process orphaned by a double fork ends up reaped
    inside the tree and its CPU lands in a cutime/cstime counted here."""
    t = proc_table()
    return sum(t[p][2] + t[p][3] for p in descendants(t, root)) / HZ


def vm_hwm_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples VmHWM (peak RSS) of a server's per-session processes every
    5 ms while a session runs.  For servers under tcpserver the figure from
    GNU time's wait4() is exact and is used as well; for Dovecot, whose
    pop3 process is its master's child, sampling is the only way."""

    def __init__(self, server):
        self.server = server
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in self.server.session_pids():
                self.peak = max(self.peak, vm_hwm_kib(pid))
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def port_listening(port):
    want = ':%04X' % port
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                for line in f.readlines()[1:]:
                    fld = line.split()
                    if fld[1].endswith(want) and fld[3] == '0A':
                        return True
        except OSError:
            pass
    return False


def _become_subreaper():
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


# --------------------------------------------------------------------------
# The servers.

class Server:
    name = '?'
    formats = ()
    port = 0

    def __init__(self):
        self.proc = None
        self.note = None

    def available(self):
        return True

    def start(self, fmt, wrap=False):
        raise NotImplementedError

    def _spawn(self, argv, cwd=None):
        logf = open('%s/%s.log' % (WORK, self.name), 'ab')
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf,
                                     preexec_fn=_become_subreaper)
        logf.close()
        deadline = time.time() + 10
        while not port_listening(self.port):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('%s did not start listening (see %s/%s.log)'
                                   % (self.name, WORK, self.name))
            time.sleep(0.05)

    def stop(self):
        if self.proc is None:
            return
        t = proc_table()
        left = {p: t[p][1] for p in descendants(t, self.proc.pid)[1:]}
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Anything of ours still alive after its listener has gone (same
        # pid, same name) is ended by its pid.
        time.sleep(0.1)
        t = proc_table()
        for pid, comm in left.items():
            if pid in t and t[pid][1] == comm:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.proc = None
        deadline = time.time() + 5
        while port_listening(self.port) and time.time() < deadline:
            time.sleep(0.05)

    def cpu(self):
        return tree_cpu(self.proc.pid)

    def transient_pids(self, table=None):
        """Processes that exist only while a session runs."""
        table = table or proc_table()
        return descendants(table, self.proc.pid)[1:]

    def session_pids(self):
        return self.transient_pids()

    def quiesce(self, timeout=30):
        """Wait until every per-session process has exited and been reaped,
        so that its CPU time and GNU time's line are there to be read."""
        deadline = time.time() + timeout
        while self.transient_pids() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.02)


class TcpServer(Server):
    """A server run by tcpserver, one process per connection.  wrap=True
    puts GNU time between tcpserver and the server: it records the
    session's peak RSS (ru_maxrss of wait4, which covers the server and
    every descendant it reaped) without sampling."""
    argv = None

    def time_log(self):
        return '%s/%s.time' % (WORK, self.name)

    def server_argv(self, fmt):
        return self.argv

    def start(self, fmt, wrap=False):
        argv = ['tcpserver', '-R', '-H', '-l', '0', '-c', '20',
                '127.0.0.1', str(self.port)]
        if wrap:
            argv += [GNU_TIME, '-a', '-o', self.time_log(), '-f', '%M']
        self._spawn(argv + self.server_argv(fmt))

    def last_time_rss(self):
        try:
            with open(self.time_log()) as f:
                lines = [ln for ln in f.read().split('\n') if ln.strip()]
            return int(lines[-1].split()[-1])
        except (OSError, ValueError, IndexError):
            return 0

    def session_pids(self):
        t = proc_table()
        return [p for p in Server.transient_pids(self, t)
                if t[p][1] != 'time']


class Floor(TcpServer):
    name = 'floor'
    formats = ('mbox',)
    port = 11000

    def __init__(self):
        TcpServer.__init__(self)
        self.exe = WORK + '/floor'
        self.argv = [self.exe]
        self.src = os.path.join(BENCH, 'floor.c')

    def available(self):
        r = subprocess.run(['cc', '-O2', '-o', self.exe, self.src, '-lcrypt'],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.note = 'floor: cannot build bench/floor.c: ' + r.stderr[-200:]
            return False
        return True


class Pop3d(TcpServer):
    name = 'pop3d'
    formats = ('mbox', 'maildir')
    port = 11010

    def __init__(self, exe):
        TcpServer.__init__(self)
        self.exe = exe
        self.auth = 'unix'

    def available(self):
        if not os.access(self.exe, os.X_OK):
            self.note = 'pop3d: no binary at %s' % self.exe
            return False
        return True

    def server_argv(self, fmt):
        drop = 'mbox:/var/mail/%u' if fmt == 'mbox' else 'maildir:~/Maildir'
        return [self.exe, '-o', 'auth=' + self.auth, '-o', 'maildrop=' + drop]


class Popa3d(TcpServer):
    name = 'popa3d'
    formats = ('mbox',)         # /var/mail/USER only, compiled in
    port = 11020
    argv = ['/opt/pop3d-bench/popa3d']

    def available(self):
        if not os.access(self.argv[0], os.X_OK):
            self.note = 'popa3d: not installed (bench/setup.sh failed?)'
            return False
        return True


class Mailutils(TcpServer):
    name = 'mailutils'
    formats = ('mbox', 'maildir')
    port = 11040

    def available(self):
        if not os.access('/usr/sbin/pop3d', os.X_OK):
            self.note = 'mailutils: /usr/sbin/pop3d missing'
            return False
        return True

    def server_argv(self, fmt):
        return ['/usr/sbin/pop3d', '--inetd',
                '--config-file=%s/mailutils-%s.conf' % (ETC, fmt)]


class Dovecot(Server):
    name = 'dovecot'
    formats = ('mbox', 'maildir')
    port = 11030
    session_comms = ('pop3', 'pop3-login')

    def available(self):
        if not os.access('/usr/sbin/dovecot', os.X_OK):
            self.note = 'dovecot: not installed'
            return False
        return True

    def start(self, fmt, wrap=False):
        conf = '%s/dovecot-%s.conf' % (ETC, fmt)
        os.makedirs(WORK + '/dovecot-state', exist_ok=True)
        # A master left over from an interrupted run holds the port.
        subprocess.run(['dovecot', '-c', conf, 'stop'], capture_output=True)
        self._spawn(['dovecot', '-F', '-c', conf])

    def transient_pids(self, table=None):
        t = table or proc_table()
        return [p for p in descendants(t, self.proc.pid)
                if t[p][1] in self.session_comms]

    def session_pids(self):
        return self.transient_pids()

    def last_time_rss(self):
        return 0


# --------------------------------------------------------------------------
# The client: plain blocking sockets, default options (delayed ACKs on, no
# TCP_QUICKACK), the way a mail client reads.

class Pop3Error(Exception):
    pass


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=600)
        self.buf = b''
        self.pos = 0            # start of the unread part of buf

    def _more(self):
        chunk = self.s.recv(1 << 16)
        if not chunk:
            raise Pop3Error('connection closed')
        return chunk

    def line(self):
        while True:
            i = self.buf.find(b'\n', self.pos)
            if i >= 0:
                ln = self.buf[self.pos:i + 1]
                self.pos = i + 1
                return ln
            self.buf = self.buf[self.pos:] + self._more()
            self.pos = 0

    def cmd(self, c, ok=True):
        self.s.sendall(c.encode() + b'\r\n')
        r = self.line()
        if ok and not r.startswith(b'+OK'):
            raise Pop3Error('%s: %r' % (c.split()[0], r.strip()))
        return r

    def multiline(self):
        """Lines of a multi-line reply up to the terminating dot, read in
        bulk: the server sends nothing after it, so it ends the data."""
        parts = [self.buf[self.pos:]]
        self.buf, self.pos = b'', 0
        got = len(parts[0])
        tail = parts[0][-5:]
        while not (tail.endswith(b'\r\n.\r\n') or
                   (got == 3 and tail == b'.\r\n')):
            chunk = self._more()
            parts.append(chunk)
            got += len(chunk)
            tail = (tail + chunk)[-5:]
        data = b''.join(parts)
        return data[:-3].split(b'\r\n')[:-1]

    def login(self):
        g = self.line()
        if not g.startswith(b'+OK'):
            raise Pop3Error('greeting: %r' % g.strip())
        self.cmd('USER ' + USER)
        self.cmd('PASS ' + PASSWORD)

    def retr_bytes(self, n):
        """RETR n, reading with recv_into like any client; returns the
        octets received (status line, message, terminator)."""
        self.s.sendall(b'RETR %d\r\n' % n)
        buf = bytearray(1 << 20)
        mv = memoryview(buf)
        rest = self.buf[self.pos:]
        self.buf, self.pos = b'', 0
        total = len(rest)
        tail = rest[-5:]
        if rest and not rest.startswith(b'+OK'):
            raise Pop3Error('RETR: %r' % rest[:40])
        first = not rest
        while not tail.endswith(b'\r\n.\r\n'):
            k = self.s.recv_into(buf)
            if k == 0:
                raise Pop3Error('connection closed during RETR')
            if first:
                if not buf.startswith(b'+OK'):
                    raise Pop3Error('RETR: %r' % bytes(buf[:40]))
                first = False
            total += k
            tail = (tail + bytes(mv[max(0, k - 5):k]))[-5:]
        return total

    def quit(self):
        """QUIT, then read to EOF: the session is over when the server
        has closed the connection."""
        self.s.sendall(b'QUIT\r\n')
        r = self.line()
        while self.s.recv(65536):
            pass
        self.s.close()
        if not r.startswith(b'+OK'):
            raise Pop3Error('QUIT: %r' % r.strip())
        return r

    def close(self):
        self.s.close()


# --------------------------------------------------------------------------
# Maildrops.  Deterministic, generated once into DATA and reused while the
# version stamp matches (--keep keeps them between runs).

_rnd_words = random.Random(1939)
WORDS = [''.join(_rnd_words.choice('abcdefghijklmnopqrstuvwxyz')
                 for _ in range(_rnd_words.randint(2, 10)))
         for _ in range(600)]


def _body_lines(rnd, count=400):
    lines = []
    for _ in range(count):
        ln = ''
        while len(ln) < rnd.randint(40, 74):
            ln += rnd.choice(WORDS) + ' '
        lines.append(ln.rstrip())
    return lines


def gen_message(rnd, i, lines):
    day = 1 + i % 28
    date = 'Tue, %02d Nov 2023 %02d:%02d:%02d +0000' % (
        day, i % 24, i % 60, (i * 7) % 60)
    who = 'sender%d' % (i % 977)
    head = ('Return-Path: <%s@example.org>\n'
            'Received: from mx%d.example.org (mx%d.example.org [192.0.2.%d])\n'
            '\tby mail.example.net (Postfix) with ESMTPS id %08X\n'
            '\tfor <%s@example.net>; %s\n'
            'Message-ID: <%d.%08x@example.org>\n'
            'Date: %s\n'
            'From: Sender %d <%s@example.org>\n'
            'To: Bench <%s@example.net>\n'
            'Subject: message %d %s\n'
            'MIME-Version: 1.0\n'
            'Content-Type: text/plain; charset=us-ascii\n'
            '\n') % (who, i % 7, i % 7, 1 + i % 250, i * 2654435761 % 2**32,
                     USER, date, i, rnd.getrandbits(32), date, i % 977, who,
                     USER, i, ' '.join(rnd.choices(WORDS, k=4)))
    body = rnd.choices(lines, k=rnd.randint(3, 37))
    if i % 50 == 7:
        # What mbox escapes and POP3 dot-stuffs.
        body[len(body) // 2] = 'From the bench, a line that looks like a separator'
        body.append('.a line that starts with a dot')
    return head + '\n'.join(body) + '\n'


def mbox_entry(msg):
    out = []
    for ln in msg.split('\n'):
        if ln.startswith('From ') or (ln.startswith('>') and
                                      ln.lstrip('>').startswith('From ')):
            ln = '>' + ln
        out.append(ln)
    return ('From sender@example.org Tue Nov 21 09:00:00 2023\n' +
            '\n'.join(out) + '\n')


def write_mbox(path, msgs):
    with open(path, 'w') as f:
        for m in msgs:
            f.write(mbox_entry(m))


def generate(nbig):
    stamp = '%s %d\n' % (DATA_VERSION, nbig)
    try:
        with open(DATA + '/stamp') as f:
            if f.read() == stamp:
                log('maildrops: reusing %s' % DATA)
                return
    except OSError:
        pass
    t0 = time.time()
    shutil.rmtree(DATA, ignore_errors=True)
    os.makedirs(DATA)
    rnd = random.Random(110)
    lines = _body_lines(rnd)
    write_mbox(DATA + '/small.mbox', [gen_message(rnd, i, lines)
                                      for i in range(10)])
    # Downloads of 200 MiB: 10 messages of 10 MiB and 1,000 of 100 KiB,
    # each retrieved twice.  (Distinct messages would exceed popa3d's
    # compiled-in limit of 200,000,000 octets for an mbox.)
    big_line = ('x' * 75 + '\n')
    for name, count, size in (('dl10m', 10, 10 << 20), ('dl100k', 1000, 100 << 10)):
        with open('%s/%s.mbox' % (DATA, name), 'w') as f:
            for i in range(count):
                head = gen_message(rnd, 90000 + i, lines).split('\n\n', 1)[0]
                f.write(mbox_entry(head + '\n\n' +
                                   big_line * (size // len(big_line))))
    msgs = [gen_message(rnd, i, lines) for i in range(nbig)]
    write_mbox(DATA + '/big.mbox', msgs)
    md = DATA + '/big.maildir'
    for sub in ('cur', 'new', 'tmp'):
        os.makedirs(md + '/' + sub)
    for i, m in enumerate(msgs):
        with open('%s/new/%d.M%dP1.bench' % (md, 1700000000 + i, i), 'w') as f:
            f.write(m)
    subprocess.run(['chown', '-R', '%s:%s' % (USER, USER), md], check=True)
    with open(DATA + '/stamp', 'w') as f:
        f.write(stamp)
    log('maildrops: generated in %.1f s (%d messages, mbox %.0f MB)' % (
        time.time() - t0, nbig, os.path.getsize(DATA + '/big.mbox') / 1e6))


def clean_state():
    """Forget what any server remembered about the previous maildrop:
    Dovecot's index, lock files, pop3d's commit record."""
    shutil.rmtree(HOME + '/mail', ignore_errors=True)
    for d in ('/var/mail', HOME):
        for n in os.listdir(d):
            if n.startswith(USER + '.') or n.startswith('.' + USER):
                try:
                    os.unlink(os.path.join(d, n))
                except OSError:
                    pass


def put_mbox(name):
    clean_state()
    tmp = MBOX + '.bench-tmp'
    shutil.copyfile('%s/%s.mbox' % (DATA, name), tmp)
    shutil.chown(tmp, USER, 'mail')
    os.chmod(tmp, 0o660)
    # Mail that arrived a minute ago, not in this very second: popa3d
    # waits for the next second before it trusts a file that changed in
    # the current one, which is about delivery, not about its speed.
    past = time.time() - 60
    os.utime(tmp, (past, past))
    os.rename(tmp, MBOX)


def put_maildir():
    clean_state()
    shutil.rmtree(MAILDIR, ignore_errors=True)
    subprocess.run(['cp', '-a', DATA + '/big.maildir', MAILDIR], check=True)


# --------------------------------------------------------------------------
# The measurements.  Each returns a figure (or raises); notes go to res.

def m_cpu(srv, port, n, batches):
    """Server CPU per short session: 5 sessions to warm up, then batches
    of n sequential sessions USER PASS STAT QUIT; for each batch the CPU
    of the listener's whole tree (listener, servers, everything they
    started, all reaped inside the tree) before and after, divided by n.
    The lowest batch is the figure: other work on the machine only ever
    adds (cache misses, migrations)."""
    def session():
        c = Client(port)
        c.login()
        c.cmd('STAT')
        c.quit()
    for _ in range(5):
        session()
    best = None
    for _ in range(batches):
        srv.quiesce()
        c0, t0 = srv.cpu(), time.time()
        for _ in range(n):
            session()
        wall = time.time() - t0
        srv.quiesce()
        r = ((srv.cpu() - c0) / n * 1000, wall / n * 1000)
        best = r if best is None or r < best else best
    return best


def m_download(srv, port, cap):
    """Every message twice (200 MiB), RETR one at a time, each reply read
    to its end before the next command.  A slow server is stopped after
    the first RETR that ends past `cap` seconds."""
    c = Client(port)
    c.login()
    n = int(c.cmd('STAT').split()[1])
    total, t0, capped = 0, time.time(), False
    for k in range(2 * n):
        total += c.retr_bytes(k % n + 1)
        if time.time() - t0 > cap and k < 2 * n - 1:
            capped = True
            break
    el = time.time() - t0
    c.quit()
    return total / el / 1e6, total, el, capped


def m_login_uidl(srv, port, want):
    """Seconds from connect() to the end of the UIDL listing, with STAT
    between login and UIDL as mail clients send it: a server that learns
    sizes lazily (pop3d on a maildir) cannot leave that work out."""
    t0 = time.time()
    c = Client(port)
    c.login()
    n = int(c.cmd('STAT').split()[1])
    if n != want:
        raise Pop3Error('STAT says %d messages, not %d' % (n, want))
    c.s.sendall(b'UIDL\r\n')
    if not c.line().startswith(b'+OK'):
        raise Pop3Error('UIDL refused')
    n = len(c.multiline())
    el = time.time() - t0
    c.quit()
    if n != want:
        raise Pop3Error('UIDL listed %d messages, not %d' % (n, want))
    return el


def m_later_logins(srv, port, want):
    """The same after the first session: best of three logins, so that a
    burst of load elsewhere on the machine does not make the figure."""
    best = None
    for _ in range(3):
        srv.quiesce()
        t = m_login_uidl(srv, port, want)
        best = t if best is None else min(best, t)
    return best


def m_dele_quit(srv, port, ndele, nall):
    """DELE 1..ndele (pipelined 500 at a time), then seconds from sending
    QUIT to the server closing the connection (and, for the notes, to its
    reply); a new session checks that exactly nall - ndele messages are
    left."""
    c = Client(port)
    c.login()
    for lo in range(1, ndele + 1, 500):
        hi = min(lo + 500, ndele + 1)
        c.s.sendall(b''.join(b'DELE %d\r\n' % i for i in range(lo, hi)))
        for i in range(lo, hi):
            r = c.line()
            if not r.startswith(b'+OK'):
                raise Pop3Error('DELE %d: %r' % (i, r.strip()))
    t0 = time.time()
    c.s.sendall(b'QUIT\r\n')
    r = c.line()
    reply = time.time() - t0
    while c.s.recv(65536):
        pass
    el = time.time() - t0
    c.close()
    if not r.startswith(b'+OK'):
        raise Pop3Error('QUIT: %r' % r.strip())
    srv.quiesce()
    c = Client(port)
    c.login()
    left = int(c.cmd('STAT').split()[1])
    c.quit()
    if left != nall - ndele:
        raise Pop3Error('%d messages left after QUIT, not %d'
                        % (left, nall - ndele))
    return el, reply


# --------------------------------------------------------------------------

METRICS = [
    # key, label, unit, higher is better
    ('cpu', 'server CPU per short session (USER PASS STAT QUIT)', 'ms', False),
    ('dl10m', 'download 200 MiB as 20 RETRs of 10 MiB, one at a time', 'MB/s', True),
    ('dl100k', 'download 200 MiB as 2,000 RETRs of 100 KiB, one at a time', 'MB/s', True),
    ('mbox1', '{m}-message mbox: login, STAT, UIDL, 1st login', 's', False),
    ('mbox2', '{m}-message mbox: login, STAT, UIDL, later logins', 's', False),
    ('md1', '{m}-message maildir: login, STAT, UIDL, 1st login', 's', False),
    ('md2', '{m}-message maildir: login, STAT, UIDL, later logins', 's', False),
    ('rss', 'peak RSS of a session, {m}-message mbox', 'MiB', False),
    ('rssmd', 'peak RSS of a session, {m}-message maildir', 'MiB', False),
    ('qmbox', 'QUIT after {d} DELE, mbox', 's', False),
    ('qmd', 'QUIT after {d} DELE, maildir', 's', False),
]


def attempt(res, srv, key, fn, *args):
    try:
        return fn(*args)
    except Exception as e:          # a peer failing must not end the run
        res['notes'].append('%s, %s: %s' % (srv.name, key, e))
        log('  %s %s failed: %s' % (srv.name, key, e))
        return None


def cpu_figure(srv, res, opts, label=None):
    srv.start('mbox')
    try:
        r = attempt(res, srv, 'cpu', m_cpu, srv, srv.port, opts.sessions,
                    opts.batches)
    finally:
        srv.stop()
    if r:
        log('  %s: %.2f ms CPU per session (%.1f ms wall)' % (
            label or srv.name, r[0], r[1]))
        return r[0]
    return None


def maildrop_figures(srv, fmt, res, opts):
    """1st and later logins, peak RSS, QUIT after DELE on the big maildrop
    of one format.  Measurements on a fresh copy are repeated (--repeat)
    and the best kept, peak RSS the highest seen."""
    fig = res['fig'][srv.name]
    k1, k2, krss, kq = (('mbox1', 'mbox2', 'rss', 'qmbox') if fmt == 'mbox'
                        else ('md1', 'md2', 'rssmd', 'qmd'))
    fresh = (lambda: put_mbox('big')) if fmt == 'mbox' else put_maildir
    for _ in range(opts.repeat):
        srv.quiesce()
        fresh()
        with RssSampler(srv) as rs:
            t1 = attempt(res, srv, fmt + ' 1st login', m_login_uidl, srv,
                         srv.port, opts.messages)
            srv.quiesce()
        if t1 is None:
            return
        fig[k1] = min(fig.get(k1, t1), t1)
        fig[krss] = max(fig.get(krss, 0), max(rs.peak, srv.last_time_rss())
                        / 1024)
    t2 = attempt(res, srv, fmt + ' later logins', m_later_logins, srv,
                 srv.port, opts.messages)
    if t2 is not None:
        fig[k2] = t2
    log('  %s: %s %.3f / %s s, RSS %.1f MiB' % (
        srv.name, fmt, fig[k1], '%.3f' % t2 if t2 else '-', fig[krss]))
    best = None
    for _ in range(opts.repeat):
        srv.quiesce()
        fresh()
        q = attempt(res, srv, fmt + ' DELE/QUIT', m_dele_quit, srv,
                    srv.port, opts.dele, opts.messages)
        if q is None:
            return
        best = q if best is None or q < best else best
    fig[kq] = best[0]
    log('  %s: %s QUIT after DELE %.3f s (reply after %.3f s)'
        % (srv.name, fmt, best[0], best[1]))
    if best[0] - best[1] > max(0.005, 0.2 * best[0]):
        res['notes'].append(
            '%s: QUIT after DELE, %s: +OK after %.3f s, connection closed '
            'after %.3f s' % (srv.name, fmt, best[1], best[0]))


def run_server(srv, res, opts):
    fig = res['fig'].setdefault(srv.name, {})
    put_mbox('small')
    fig['cpu'] = cpu_figure(srv, res, opts)
    if srv.name == 'floor':
        return
    if srv.name == 'pop3d':
        # Its default backend, through the PAM stack a package installs
        # (contrib/pam.d/pop3d: common-auth, -account, -session).
        srv.auth = 'pam'
        try:
            r = cpu_figure(srv, res, opts, 'pop3d auth=pam')
        finally:
            srv.auth = 'unix'
        if r:
            res['notes'].append('pop3d with auth=pam (its default, '
                                '/etc/pam.d/pop3d): %.2f ms CPU per short '
                                'session' % r)

    srv.start('mbox', wrap=True)
    try:
        for key, what in (('dl10m', '20 x 10 MiB'),
                          ('dl100k', '2,000 x 100 KiB')):
            srv.quiesce()
            put_mbox(key)
            r = attempt(res, srv, 'download ' + what, m_download, srv,
                        srv.port, opts.dl_cap)
            if r:
                fig[key] = r[0]
                log('  %s: download %s %.1f MB/s' % (srv.name, what, r[0]))
                if r[3]:
                    res['notes'].append(
                        '%s: download %s stopped after %.0f MB in %.1f s '
                        '(time cap %g s)' % (srv.name, what, r[1] / 1e6,
                                             r[2], opts.dl_cap))
        maildrop_figures(srv, 'mbox', res, opts)
    finally:
        srv.stop()
        clean_state()

    if 'maildir' not in srv.formats:
        res['notes'].append('%s: maildir n/a (serves /var/mail/USER mbox only)'
                            % srv.name)
        return
    srv.start('maildir', wrap=True)
    try:
        maildrop_figures(srv, 'maildir', res, opts)
    finally:
        srv.stop()
        shutil.rmtree(MAILDIR, ignore_errors=True)
        clean_state()


def fmt_fig(key, v):
    if v is None:
        return '-'
    if key == 'cpu':
        return '%.2f' % v
    if key.startswith('dl') or key.startswith('rss'):
        return '%.1f' % v
    return '%.3f' % v


def table(header, rows):
    w = [max(len(str(r[i])) for r in [header] + rows)
         for i in range(len(header))]
    out = ['| ' + ' | '.join(str(h).ljust(w[i]) for i, h in enumerate(header))
           + ' |',
           '|' + '|'.join('-' * (x + 2) for x in w) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(str(c).ljust(w[i]) if i == 0 else
                                     str(c).rjust(w[i])
                                     for i, c in enumerate(r)) + ' |')
    return '\n'.join(out)


def report(res, names):
    fig = res['fig']
    rows = []
    for key, label, unit, _ in METRICS:
        label = label.format(**res['sizes'])
        rows.append(['%s, %s' % (label, unit)] +
                    [fmt_fig(key, fig.get(n, {}).get(key)) for n in names])
    t1 = table(['figure'] + names, rows)

    peers = [n for n in names if n != 'pop3d']
    rows = []
    for key, label, unit, higher in METRICS:
        mine = fig.get('pop3d', {}).get(key)
        r = [label.format(**res['sizes'])]
        for n in peers:
            other = fig.get(n, {}).get(key)
            if mine is None or other is None or mine == 0 or other == 0:
                r.append('-')
            elif n == 'floor':
                r.append('%.2f' % (mine / other))
            elif higher:
                r.append('%.2f' % (mine / other))
            else:
                r.append('%.2f' % (other / mine))
        rows.append(r)
    hdr = ['ratio'] + ['pop3d/floor' if n == 'floor' else 'vs ' + n
                       for n in peers]
    t2 = table(hdr, rows)
    return t1, t2


def busy_cpu():
    """CPU seconds the whole machine has spent busy since boot."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is in user)
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ


def build_pop3d(build_dir):
    if not os.path.exists(os.path.join(build_dir, 'build.ninja')):
        subprocess.run(['meson', 'setup', build_dir], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(['meson', 'compile', '-C', build_dir, 'pop3d'], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, 'pop3d')


def versions(exe):
    v = {}

    def first(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).strip().split('\n')[0]
        except Exception:
            return '?'
    v['pop3d'] = first([exe, '-V'])
    git = first(['git', '-C', REPO, 'describe', '--always', '--dirty'])
    v['pop3d'] += ' (git %s)' % git
    v['dovecot'] = first(['dovecot', '--version'])
    v['mailutils'] = first(['/usr/sbin/pop3d', '--version'])
    v['popa3d'] = first(['/opt/pop3d-bench/popa3d', '-V'])
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pop3d', help='pop3d binary (default: build one)')
    ap.add_argument('--build-dir', default='/tmp/build-bench')
    ap.add_argument('--sessions', type=int, default=100,
                    help='short sessions per batch for the CPU figure')
    ap.add_argument('--batches', type=int, default=3,
                    help='batches of short sessions; the lowest counts')
    ap.add_argument('--repeat', type=int, default=2,
                    help='runs on a fresh maildrop copy; the best counts')
    ap.add_argument('--messages', type=int, default=50000)
    ap.add_argument('--dele', type=int, default=20000)
    ap.add_argument('--dl-cap', type=float, default=15.0,
                    help='seconds after which a slow download is cut short')
    ap.add_argument('--servers', default='floor,pop3d,popa3d,dovecot,mailutils')
    ap.add_argument('--keep', action='store_true',
                    help='keep the generated maildrops in ' + DATA)
    ap.add_argument('--no-setup', action='store_true')
    ap.add_argument('--out', help='results file (default bench/results-DATE.txt)')
    opts = ap.parse_args()
    # Stop cleanly (servers stopped, maildrops removed) on ^C or kill, also
    # when started in the background, where SIGINT comes in ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit('run.py: terminated'))
    if os.geteuid() != 0:
        sys.exit('run.py: must run as root (servers switch users)')
    if opts.dele >= opts.messages:
        sys.exit('run.py: --dele must be below --messages')

    if not opts.no_setup:
        subprocess.run(['sh', os.path.join(BENCH, 'setup.sh')], check=True)
    try:
        exe = opts.pop3d or build_pop3d(opts.build_dir)
    except subprocess.CalledProcessError:
        sys.exit('run.py: pop3d does not build in %s; fix it or pass '
                 '--pop3d PATH' % opts.build_dir)
    os.makedirs(WORK, exist_ok=True)
    for n in os.listdir(WORK):
        # Logs and GNU time's records of this run only.
        if n.endswith('.log') or n.endswith('.time'):
            os.unlink(os.path.join(WORK, n))
    t_start = time.time()
    busy0, mine0 = busy_cpu(), sum(os.times()[:4])
    generate(opts.messages)

    all_servers = {'floor': Floor(), 'pop3d': Pop3d(exe),
                   'popa3d': Popa3d(), 'dovecot': Dovecot(),
                   'mailutils': Mailutils()}
    names = [n for n in opts.servers.split(',') if n in all_servers]
    res = {'fig': {}, 'notes': [],
           'sizes': {'m': '{:,}'.format(opts.messages),
                     'd': '{:,}'.format(opts.dele)}}
    ran = []
    try:
        for n in names:
            srv = all_servers[n]
            if not srv.available():
                res['notes'].append(srv.note or '%s: not available' % n)
                log('skipping ' + (srv.note or n))
                continue
            log('%s:' % n)
            try:
                run_server(srv, res, opts)
                ran.append(n)
            except Exception as e:
                res['notes'].append('%s: %s' % (n, e))
                log('  %s failed: %s' % (n, e))
            finally:
                srv.stop()
    finally:
        clean_state()
        for p in (MBOX,):
            if os.path.exists(p):
                os.unlink(p)
        shutil.rmtree(MAILDIR, ignore_errors=True)
        if not opts.keep:
            shutil.rmtree(DATA, ignore_errors=True)

    t1, t2 = report(res, ran)
    v = versions(exe)
    now = datetime.datetime.now()
    text = []
    text.append('pop3d benchmark, %s, %d CPUs, Linux %s, run took %.0f s' % (
        now.strftime('%Y-%m-%d %H:%M'), os.cpu_count(), os.uname().release,
        time.time() - t_start))
    # CPU that the machine spent on anything but this run.
    mine = sum(os.times()[:4]) - mine0
    other = max(0.0, busy_cpu() - busy0 - mine) / (time.time() - t_start)
    text.append('  other work on the machine during the run: %.0f %% of one '
                'CPU%s' % (100 * other, '' if other < 0.15 else
                           ' -- the figures are unreliable, run again on an '
                           'idle machine'))
    for n in ran:
        if n in v:
            text.append('  %-9s %s' % (n, v[n]))
    text.append('  all: sha512-crypt password of one system account; '
                'pop3d with -o auth=unix')
    text.append('')
    text.append(t1)
    text.append('')
    text.append('Ratios: against the floor, pop3d\'s cost as a multiple of '
                'the floor (lower is better);')
    text.append('against a peer, how many times better pop3d is (above 1: '
                'pop3d better, below 1: worse).')
    text.append('')
    text.append(t2)
    if res['notes']:
        text.append('')
        text.append('Notes:')
        for n in res['notes']:
            text.append('- ' + n)
    text = '\n'.join(text) + '\n'
    print(text)
    out = opts.out or os.path.join(BENCH, 'results-%s.txt'
                                   % now.strftime('%Y-%m-%d'))
    with open(out, 'w') as f:
        f.write(text)
    log('written to ' + out)


if __name__ == '__main__':
    main()
