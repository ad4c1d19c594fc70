"""Helpers for pop3d's integration tests (used by conftest.py and the tests).

Nothing here knows pytest: a POP3 client over a raw socket that keeps the
exact bytes, a reference implementation of the wire form of a stored
message (RFC 1939 section 3), maildir and users-file builders, and /proc
readers to find and inspect the processes of a session.
"""

import hashlib
import os
import re
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

# Seconds any single read from the server may take before a test fails.
IO_TIMEOUT = 10.0

CRLF = b"\r\n"


def _b(data):
    """str -> bytes (latin-1, so every octet 0-255 is expressible)."""
    return data.encode("latin-1") if isinstance(data, str) else bytes(data)


# ---------------------------------------------------------------------------
# The wire form of a message: what RETR/TOP must send and LIST must count.

def wire_form(stored, body_lines=None):
    """Stored message bytes -> the octets RETR (or TOP with body_lines)
    sends between its "+OK" line and the final ".".

    Every line ends in CRLF: a bare LF gets a CR, an existing CRLF is kept
    (never CR CR LF), an unterminated last line gets CRLF.  A line starting
    with "." gets one more.  Bare CR and NUL are sent as stored.  For TOP,
    the header ends at the first empty line (CRs only count as empty), which
    is sent, then body_lines lines of the body.
    """
    stored = _b(stored)
    pieces = stored.split(b"\n")
    last = pieces.pop()
    lines = [(p, True) for p in pieces]
    if last:
        lines.append((last, False))
    out = []
    in_body = False
    remaining = body_lines
    for content, terminated in lines:
        if in_body and remaining is not None:
            if remaining == 0:
                break
            remaining -= 1
        text = b"." + content if content.startswith(b".") else content
        if terminated and content.endswith(b"\r"):
            out.append(text + b"\n")
        else:
            out.append(text + CRLF)
        if not in_body and terminated and content.strip(b"\r") == b"":
            in_body = True
    return b"".join(out)


def stuffed_lines(wire):
    """Lines of a wire form that start with "." (each was stuffed)."""
    return sum(1 for l in wire.split(CRLF)[:-1] if l.startswith(b"."))


def pop_size(stored):
    """RFC 1939 §11: the size that LIST, STAT and RETR's "+OK" give: the
    message with CRLF line ends and without the byte-stuffing, which is
    what the client stores (wire_form less its stuffed dots)."""
    wire = wire_form(stored)
    return len(wire) - stuffed_lines(wire)


def unstuff(wire):
    """Wire form -> lines as a client sees them (CRLF removed, dots undone)."""
    lines = wire.split(CRLF)
    assert lines[-1] == b""
    return [l[1:] if l.startswith(b".") else l for l in lines[:-1]]


# ---------------------------------------------------------------------------
# A client that keeps exact bytes.

class ProtocolError(AssertionError):
    pass


class Client:
    """A POP3 client on a connected socket.  Every read has a timeout, so
    a server that says nothing fails the test instead of hanging it."""

    def __init__(self, sock, timeout=IO_TIMEOUT):
        self.sock = sock
        self.sock.settimeout(timeout)
        self._buf = bytearray()     # received, not yet consumed from _pos
        self._pos = 0
        self.eof = False

    @property
    def buf(self):
        """Received octets not yet consumed."""
        return bytes(self._buf[self._pos:])

    # -- raw I/O -----------------------------------------------------------
    def send(self, data):
        """Sends bytes (or a latin-1 str) exactly as given."""
        self.sock.sendall(_b(data))

    def sendline(self, line):
        """Sends line + CRLF."""
        self.send(_b(line) + CRLF)

    def _fill(self, timeout=None):
        if self.eof:
            return False
        if timeout is not None:
            old = self.sock.gettimeout()
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        finally:
            if timeout is not None:
                self.sock.settimeout(old)
        if not data:
            self.eof = True
            return False
        if self._pos > (1 << 20):
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data
        return True

    def _take(self, end):
        out = bytes(self._buf[self._pos:end])
        self._pos = end
        return out

    def readline(self, timeout=None):
        """One line including its LF; a partial line or b"" at EOF."""
        start = self._pos
        while True:
            i = self._buf.find(b"\n", start)
            if i >= 0:
                return self._take(i + 1)
            start = len(self._buf)
            if not self._fill(timeout):
                return self._take(len(self._buf))

    def read_exact(self, n):
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise ProtocolError("EOF after %d of %d octets"
                                    % (len(self._buf) - self._pos, n))
        return self._take(self._pos + n)

    def stream(self, n, sink, chunk=1 << 20):
        """Passes the next n octets to sink(bytes) without keeping them."""
        while n > 0:
            if self._pos == len(self._buf) and not self._fill():
                raise ProtocolError("EOF with %d octets to go" % n)
            take = min(n, len(self._buf) - self._pos)
            sink(self._take(self._pos + take))
            n -= take
            if self._pos == len(self._buf):
                del self._buf[:]
                self._pos = 0

    def read_until_eof(self, timeout=IO_TIMEOUT):
        """Everything until the server closes (fails after timeout)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("server did not close; got %r"
                                    % self.buf[:200])
            try:
                self._fill(timeout=left)
            except socket.timeout:
                pass
        return self._take(len(self._buf))

    def expect_eof(self, timeout=IO_TIMEOUT):
        """The server closes without sending anything more."""
        rest = self.read_until_eof(timeout)
        if rest:
            raise ProtocolError("expected close, got %r" % rest[:300])

    def is_open(self, wait=0.2):
        """True if nothing arrived and the server has not closed within wait."""
        try:
            got = self._fill(timeout=wait)
        except socket.timeout:
            return True
        if got:
            raise ProtocolError("unexpected data %r" % self.buf[:300])
        return False

    # -- POP3 --------------------------------------------------------------
    def reply(self, timeout=None):
        """One reply line as str without CRLF; asserts it ends in CRLF."""
        line = self.readline(timeout)
        if not line.endswith(CRLF):
            raise ProtocolError("reply not terminated by CRLF: %r" % line)
        return line[:-2].decode("latin-1")

    def expect(self, line):
        """The next line is exactly line + CRLF."""
        got = self.readline()
        want = _b(line) + CRLF
        if got != want:
            raise ProtocolError("expected %r, got %r" % (want, got))

    def cmd(self, line):
        """Sends a command line, returns the first reply line (str)."""
        self.sendline(line)
        return self.reply()

    def read_multiline_raw(self):
        """Octets up to and including the terminating ".\\r\\n" line."""
        out = []
        while True:
            line = self.readline()
            if not line.endswith(CRLF):
                raise ProtocolError("multi-line reply cut: %r"
                                    % b"".join(out + [line])[-300:])
            out.append(line)
            if line == b".\r\n":
                return b"".join(out)

    def read_multiline(self):
        """Lines of a multi-line reply body: CRLF removed, dots undone,
        without the final "."."""
        raw = self.read_multiline_raw()
        return unstuff(raw[:-3])

    def multi(self, line):
        """Sends a command expecting a multi-line reply.  Returns (first
        line str, body lines bytes); body is None after -ERR."""
        first = self.cmd(line)
        if not first.startswith("+OK"):
            return first, None
        return first, self.read_multiline()

    def greeting(self, want="+OK POP3 server ready"):
        self.expect(want)

    def login(self, user, password):
        r = self.cmd(b"USER " + _b(user))
        if r != "+OK User name accepted, password please":
            raise ProtocolError("USER: %r" % r)
        r = self.cmd(b"PASS " + _b(password))
        if r != "+OK Logged in":
            raise ProtocolError("PASS: %r" % r)

    def retr_raw(self, n):
        """RETR n; returns the raw octets after the +OK line (message and
        the final ".\\r\\n"), checking the "+OK SIZE octets" line."""
        first = self.cmd("RETR %d" % n)
        m = re.fullmatch(r"\+OK (\d+) octets", first)
        if not m:
            raise ProtocolError("RETR %d: %r" % (n, first))
        size = int(m.group(1))
        body = self.read_multiline_raw()
        # RFC 1939 §11: the size counts neither the stuffing nor the ".".
        if size != len(body) - 3 - stuffed_lines(body[:-3]):
            raise ProtocolError("RETR %d: %d octets announced, %d sent"
                                % (n, size, len(body) - 3))
        return size, body

    def quit(self):
        self.expect_reply("QUIT", "+OK Bye")
        self.expect_eof()

    def expect_reply(self, command, want):
        got = self.cmd(command)
        if got != want:
            raise ProtocolError("%r: expected %r, got %r"
                                % (command, want, got))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# /proc

def proc_status(pid):
    """/proc/PID/status as a dict of str -> str (stripped)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_ids(pid, key):
    """The integers of a status line such as Uid:, Gid:, Groups:."""
    return [int(x) for x in proc_status(pid)[key].split()]


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ")".
    rest = data[data.rindex(b")") + 2:].split()
    return int(rest[1])


def descendants(pid, include_self=True):
    """pid and all its living descendants, parents before children."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            pp = _ppid(int(entry))
            if pp is not None:
                children.setdefault(pp, []).append(int(entry))
    out = [pid] if include_self else []
    todo = [pid]
    while todo:
        p = todo.pop(0)
        for c in sorted(children.get(p, [])):
            out.append(c)
            todo.append(c)
    return [p for p in out if os.path.exists("/proc/%d" % p)]


def find_process(root_pid, predicate, timeout=5.0):
    """The first process of root_pid's tree for which predicate(pid) holds,
    waiting up to timeout seconds for it to appear."""
    deadline = time.monotonic() + timeout
    while True:
        for p in descendants(root_pid):
            try:
                if predicate(p):
                    return p
            except (FileNotFoundError, ProcessLookupError):
                pass
        if time.monotonic() > deadline:
            raise AssertionError("no matching process under %d: %s"
                                 % (root_pid, tree_report(root_pid)))
        time.sleep(0.02)


def uid_is(uid):
    return lambda p: proc_ids(p, "Uid")[0] == uid


def tree_report(root_pid):
    """One line per process of the tree: pid, Uid, Gid, root, name."""
    lines = []
    for p in descendants(root_pid):
        try:
            st = proc_status(p)
            root = os.readlink("/proc/%d/root" % p)
        except OSError:
            continue
        lines.append("%d %s uid=%s gid=%s root=%s" % (
            p, st.get("Name"), st.get("Uid"), st.get("Gid"), root))
    return "; ".join(lines)


def vm_hwm_kib(pid):
    """Peak resident set size of pid in KiB (VmHWM)."""
    return int(proc_status(pid)["VmHWM"].split()[0])


def kill_tree(pid, sig=signal.SIGKILL):
    """Sends sig to pid and all its descendants (only processes we made)."""
    for p in reversed(descendants(pid)):
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------
# Files

class Maildir:
    """A user's maildir (new/ cur/ tmp/, 0700, owned by uid:gid)."""

    def __init__(self, path, uid, gid, create=True):
        self.path = Path(path)
        self.uid, self.gid = uid, gid
        self.seq = 0
        # Delivery times: increasing, one second apart, in the past.
        self.t0 = 1700000000
        if create:
            for d in (self.path, self.path / "new", self.path / "cur",
                      self.path / "tmp"):
                d.mkdir(mode=0o700, exist_ok=True)
                os.chown(d, uid, gid)
                os.chmod(d, 0o700)

    def add(self, data, sub="new", name=None, when=None, flags="S"):
        """Writes one message; returns its path.  Messages added later get
        later delivery times (name prefix and mtime), so they sort later.
        In cur/ the name gets ":2,FLAGS"."""
        self.seq += 1
        when = self.t0 + self.seq if when is None else when
        data = _b(data)
        if name is None:
            name = "%d.M%06dP%d.testhost,S=%d" % (when, self.seq, 4242,
                                                  len(data))
            if sub == "cur":
                name += ":2," + flags
        path = self.path / sub / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chown(path, self.uid, self.gid)
        os.utime(path, (when, when))
        return path

    def messages(self):
        """Names of regular files in new/ and cur/ (sub/name)."""
        out = []
        for sub in ("new", "cur"):
            for e in sorted(os.listdir(self.path / sub)):
                p = self.path / sub / e
                if stat.S_ISREG(os.lstat(p).st_mode):
                    out.append("%s/%s" % (sub, e))
        return out

    def find(self, unique):
        """Current path of the message whose name starts with unique (the
        server may move new/ -> cur/ and add flags), or None."""
        base = unique.split(":")[0]
        for sub in ("new", "cur"):
            for e in os.listdir(self.path / sub):
                if e.split(":")[0] == base:
                    return self.path / sub / e
        return None

    def contents(self):
        """Sorted list of the bytes of all messages."""
        return sorted((self.path / m).read_bytes() for m in self.messages())


def mkpasswd(password, method="yescrypt"):
    """A crypt(3) hash made by mkpasswd (whois package)."""
    out = subprocess.run(["mkpasswd", "--stdin", "-m", method],
                         input=_b(password), stdout=subprocess.PIPE,
                         check=True)
    return out.stdout.decode().strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """True when 127.0.0.1:port is in LISTEN state (without connecting)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want and parts[3] == "0A":
                return True
    return False


class Hasher:
    """Running sha256 and length, for comparing large messages."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.n = 0

    def update(self, data):
        self.h.update(data)
        self.n += len(data)

    def digest(self):
        return self.h.hexdigest(), self.n


SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                   b"runtime error:", b"WARNING: MemorySanitizer")


def sanitizer_errors(log_bytes):
    """Lines of a log that report a sanitizer error."""
    return [l for l in log_bytes.splitlines()
            if any(m in l for m in SANITIZER_MARKS)]


# ---------------------------------------------------------------------------
# Sizes as RFC 1939 section 11 counts them, and RETR outcomes.

def client_form(stored):
    """Stored message bytes -> the octets a client stores after RETR: the
    wire form with the dot-stuffing undone (CRLF line ends, the final "."
    line not counted).  LIST, STAT and "+OK N octets" give its length."""
    return b"".join(l + CRLF for l in unstuff(wire_form(stored)))


def retr_outcome(client, n, timeout=IO_TIMEOUT):
    """Sends RETR n and reads what comes on the raw socket until the
    terminating ".\\r\\n" line or EOF.  Returns (first line str, the
    octets after it up to the terminator, terminated: bool).  A reply
    that is neither terminated nor closed within timeout fails."""
    first = client.cmd("RETR %d" % n)
    if not first.startswith("+OK"):
        return first, None, False
    deadline = time.monotonic() + timeout
    while True:
        data = client.buf
        if data.startswith(b".\r\n"):
            client.read_exact(3)
            return first, b"", True
        i = data.find(b"\r\n.\r\n")
        if i >= 0:
            body = client.read_exact(i + 5)
            return first, body[:-3], True
        if client.eof:
            return first, client.read_exact(len(data)), False
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError("RETR %d: neither terminated nor closed; "
                                "got %d octets" % (n, len(data)))
        try:
            client._fill(timeout=left)
        except socket.timeout:
            pass
