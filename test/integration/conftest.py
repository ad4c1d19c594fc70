"""Fixtures shared by pop3d's integration tests.

The binary under test is $POP3D (default: build/pop3d under the repository
root).  Everything runs the real binary on real sockets:

  area        a fresh directory (under $TMPDIR, else /var/tmp; never /tmp)
              holding the users file, the maildirs and the logs; see Area.
  alice, bob  users added to the area with maildirs (see Area.add_user).
  session     factory: pop3d on one end of a socketpair, as inetd would run
              it; returns a Session (a pop3lib.Client plus the process).
  server      factory: systemd-socket-activate --inetd -a on a free
              loopback port, one pop3d per connection; returns a Server.
  pop3d_bin   path of the binary.

Tests that need root (all that use area, session or server) are skipped
when not run as root.  At teardown every session and server is stopped,
and a sanitizer report in its log, or a process left behind by a session
that has ended, fails the test.

Set POP3D_KEEP=1 to keep the areas for inspection.
"""

import os
import signal
import shutil
import stat
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pop3lib import (Client, Maildir, descendants, find_process, kill_tree,
                     listening, free_port, mkpasswd, proc_ids,
                     sanitizer_errors, uid_is)

REPO = Path(__file__).resolve().parents[2]
ROOT_FIXTURES = {"area", "session", "server", "alice", "bob"}


def is_root():
    return os.geteuid() == 0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "root: needs root (skipped when not root)")
    config.addinivalue_line(
        "markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config, items):
    if is_root():
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if ROOT_FIXTURES & set(getattr(item, "fixturenames", ())) or \
                item.get_closest_marker("root"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pop3d_bin():
    """Absolute path of the pop3d binary under test ($POP3D)."""
    path = Path(os.environ.get("POP3D", REPO / "build" / "pop3d"))
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if not os.access(path, os.X_OK):
        pytest.fail("pop3d binary not found: %s (set POP3D)" % path)
    return path


@pytest.fixture
def require_option(pop3d_bin, area):
    """require_option("key=value"): skips the test when pop3d -t says the
    key is "not supported yet" (features of later issues), so the test
    starts to run by itself once the feature lands."""
    def check(opt):
        argv = area.argv(pop3d_bin, debug=False) + ["-t", "-o", opt]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
        if b"not supported yet" in p.stdout:
            pytest.skip("%s: not supported yet" % opt)
    return check


@pytest.fixture(scope="session")
def pop3d_version():
    """The project version from meson.build (what -V must print)."""
    for line in (REPO / "meson.build").read_text().splitlines():
        line = line.strip()
        if line.startswith("version"):
            return line.split("'")[1]
    pytest.fail("no version in meson.build")


def _area_base():
    base = os.environ.get("TMPDIR", "")
    if not base or os.path.realpath(base) == "/tmp":
        base = "/var/tmp"
    return base


# ---------------------------------------------------------------------------
# The area: users file, maildirs, logs.

class User:
    """A virtual user: name, password, uid, gid, home, maildir (a
    pop3lib.Maildir or None)."""

    def __init__(self, name, password, uid, gid, home, maildir, line):
        self.name, self.password = name, password
        self.uid, self.gid, self.home = uid, gid, home
        self.maildir = maildir
        self.line = line

    def __repr__(self):
        return "User(%r, uid=%d)" % (self.name, self.uid)


class Area:
    """A test's directory:

      users      the virtual users file (rewritten by add_user)
      mail/NAME  maildirs (maildrop=maildir:AREA/mail/%u), 0700, user-owned
      home/NAME  home directories
      *.log      stderr of each pop3d started
    """

    def __init__(self, path):
        self.path = Path(path)
        os.chmod(self.path, 0o755)
        self.users_file = self.path / "users"
        self.mail = self.path / "mail"
        self.homes = self.path / "home"
        # pop3d's state-dir (made by pop3d itself, as root, at login).
        self.state = self.path / "state"
        for d in (self.mail, self.homes):
            d.mkdir(mode=0o755)
        self.users = {}
        self.extra_lines = []
        self.next_uid = 5001
        self.nlogs = 0
        self.write_users()

    def add_user(self, name, password="pw", scheme="PLAIN", uid=None,
                 gid=None, maildir=True, extra="", hash=None):
        """Adds `name` to the users file and returns a User.

        scheme: "PLAIN" ({PLAIN}password), a mkpasswd method ("yescrypt",
        "sha-512") for a real crypt hash, or "CRYPT" ({CRYPT} + yescrypt).
        hash: the password field verbatim (overrides scheme).
        uid/gid default to the next free number from 5001.
        maildir: create AREA/mail/NAME as a maildir owned by the user.
        """
        if uid is None:
            uid = self.next_uid
            self.next_uid += 1
        gid = uid if gid is None else gid
        if hash is None:
            if scheme == "PLAIN":
                hash = "{PLAIN}" + password
            elif scheme == "CRYPT":
                hash = "{CRYPT}" + mkpasswd(password)
            else:
                hash = mkpasswd(password, scheme)
        home = self.homes / name
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, uid, gid)
        md = Maildir(self.mail / name, uid, gid) if maildir else None
        line = "%s:%s:%d:%d::%s::%s" % (name, hash, uid, gid, home, extra)
        user = User(name, password, uid, gid, home, md, line)
        self.users[name] = user
        self.write_users()
        return user

    def add_line(self, line):
        """Adds a raw line to the users file."""
        self.extra_lines.append(line)
        self.write_users()

    def write_users(self):
        lines = [u.line for u in self.users.values()] + self.extra_lines
        data = "".join(l + "\n" for l in lines).encode("latin-1")
        tmp = self.users_file.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.users_file)

    def options(self):
        """The -o options every test starts from."""
        return {
            "auth": "file",
            "auth-file": str(self.users_file),
            "maildrop": "maildir:%s/%%u" % self.mail,
            "fail-delay": "0",
            "state-dir": str(self.state),
        }

    def argv(self, pop3d_bin, options=None, debug=True):
        """pop3d [-d] -o KEY=VALUE... with area.options() updated by
        options (a value of None removes a key)."""
        opts = self.options()
        opts.update(options or {})
        argv = [str(pop3d_bin)] + (["-d"] if debug else [])
        for k, v in opts.items():
            if v is not None:
                argv += ["-o", "%s=%s" % (k, v)]
        return argv

    def new_log(self, prefix):
        self.nlogs += 1
        return self.path / ("%s-%d.log" % (prefix, self.nlogs))

    def snapshot(self):
        """Every path under the area with owner, mode and size, but for the
        state directory: compare two snapshots to see that nothing was
        created or changed."""
        out = set()
        for dirpath, dirnames, filenames in os.walk(self.path):
            # pop3d's own state directory (state-dir) is not the area's.
            if Path(dirpath) == self.path and "state" in dirnames:
                dirnames.remove("state")
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if p.endswith(".log"):
                    continue
                st = os.lstat(p)
                size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
                out.add((os.path.relpath(p, self.path), st.st_uid,
                         st.st_mode, size))
        return out


@pytest.fixture
def area(request):
    """A fresh Area for this test (removed afterwards unless POP3D_KEEP)."""
    path = tempfile.mkdtemp(prefix="pop3d-it-", dir=_area_base())
    # Users' processes must be able to reach their maildirs below it.
    p = Path(path).parent
    while p != p.parent:
        if not os.stat(p).st_mode & 0o001:
            pytest.fail("%s is not searchable by others; set TMPDIR" % p)
        p = p.parent
    a = Area(path)
    yield a
    if os.environ.get("POP3D_KEEP"):
        print("area kept:", path)
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def scratch():
    """A fresh empty directory (under $TMPDIR, else /var/tmp) for tests
    that need files but not root."""
    path = tempfile.mkdtemp(prefix="pop3d-it-", dir=_area_base())
    yield Path(path)
    if not os.environ.get("POP3D_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def alice(area):
    """User alice, password "alice-pw" ({PLAIN}), uid/gid 5001, maildir."""
    return area.add_user("alice", "alice-pw")


@pytest.fixture
def bob(area, alice):
    """User bob, password "bob-pw" ({PLAIN}), uid/gid 5002, maildir."""
    return area.add_user("bob", "bob-pw")


# ---------------------------------------------------------------------------
# Processes

def _pgrp(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[2])


def _group_members(pgid):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and _pgrp(int(e)) == pgid:
            out.append(int(e))
    return out


class Session(Client):
    """pop3d serving one session on a socketpair (stdin = stdout = the
    server's end).  It is a Client on our end, plus:

      proc, pid       the pop3d process (a process group of its own)
      log() / log_bytes()   what it wrote to stderr so far
      wait(timeout)   its exit status
      process_of_uid(uid)   the process of its tree running as uid
      kill_all(sig)   signal its whole tree
    """

    def __init__(self, argv, log_path, env=None, pass_fds=(),
                 preexec_fn=None):
        ours, theirs = socket.socketpair()
        self.log_path = log_path
        self._log_file = open(log_path, "w+b")
        self.argv = argv
        # The server's end, as /proc/PID/fd shows it: "socket:[INODE]".
        self.server_socket = "socket:[%d]" % os.fstat(theirs.fileno()).st_ino
        self.proc = subprocess.Popen(
            argv, stdin=theirs, stdout=theirs, stderr=self._log_file,
            env=env, close_fds=True, pass_fds=pass_fds,
            preexec_fn=preexec_fn, start_new_session=True)
        theirs.close()
        self.pid = self.proc.pid
        Client.__init__(self, ours)

    def log_bytes(self):
        return Path(self.log_path).read_bytes()

    def log(self):
        return self.log_bytes().decode("latin-1")

    def log_lines(self):
        return self.log().splitlines()

    def wait(self, timeout=10):
        return self.proc.wait(timeout)

    def process_of_uid(self, uid, timeout=5.0):
        return find_process(self.pid, uid_is(uid), timeout)

    def preauth_process(self, timeout=5.0):
        """The process of the tree that is not root (the pre-auth child)."""
        return find_process(self.pid,
                            lambda p: proc_ids(p, "Uid")[0] != 0, timeout)

    def kill_all(self, sig=signal.SIGKILL):
        kill_tree(self.pid, sig)

    def holders_of_connection(self):
        """Processes of the tree that have the client connection open."""
        out = []
        for p in descendants(self.pid):
            try:
                fds = os.listdir("/proc/%d/fd" % p)
                links = [os.readlink("/proc/%d/fd/%s" % (p, fd))
                         for fd in fds]
            except OSError:
                continue
            if self.server_socket in links:
                out.append(p)
        return out

    def finish(self):
        """Teardown: close, reap, look for strays and sanitizer reports.
        Returns a list of problems (empty when all is well)."""
        problems = []
        self.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            problems.append("pop3d did not exit 10 s after the client "
                            "closed")
            kill_tree(self.pid)
            self.proc.wait(5)
        deadline = time.monotonic() + 3
        strays = _group_members(self.pid)
        while strays and time.monotonic() < deadline:
            time.sleep(0.05)
            strays = _group_members(self.pid)
        if strays:
            problems.append("processes left behind: %s" % strays)
            for p in strays:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log_file.close()
        bad = sanitizer_errors(self.log_bytes())
        if bad:
            problems.append("sanitizer: %r" % bad[:5])
        return problems


@pytest.fixture
def session(pop3d_bin, area):
    """Factory: session(options=None, args=None, login=None, greeting=True,
    env=None, pass_fds=(), preexec_fn=None) -> Session.

    options: dict of -o keys over area.options() (None removes a key).
    args: the whole argument list instead (no defaults, no -d).
    greeting: read and check "+OK POP3 server ready" first.
    login: a User to log in with USER/PASS (expects "+OK Logged in").
    env, pass_fds, preexec_fn: as for subprocess.Popen (env defaults to
    ours).
    """
    started = []

    def start(options=None, args=None, login=None, greeting=True, env=None,
              pass_fds=(), preexec_fn=None):
        if args is not None:
            argv = [str(pop3d_bin)] + list(args)
        else:
            argv = area.argv(pop3d_bin, options)
        s = Session(argv, area.new_log("session"), env=env,
                    pass_fds=pass_fds, preexec_fn=preexec_fn)
        started.append(s)
        if greeting or login:
            s.greeting()
        if login:
            s.login(login.name, login.password)
        return s

    yield start
    problems = []
    for s in started:
        problems += s.finish()
    if problems:
        pytest.fail("; ".join(problems))


class Server:
    """systemd-socket-activate --inetd -a on 127.0.0.1:port: one pop3d per
    connection.  connect() returns a Client; log() is the stderr of all
    its pop3d processes."""

    def __init__(self, argv, log_path):
        self.port = free_port()
        self.log_path = log_path
        self._log_file = open(log_path, "w+b")
        env = {k: v for k, v in os.environ.items()}
        ssa = ["systemd-socket-activate", "--inetd", "-a",
               "-l", "127.0.0.1:%d" % self.port]
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in env:
                ssa += ["-E", "%s=%s" % (k, env[k])]
        self.proc = subprocess.Popen(
            ssa + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._log_file, env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.clients = []
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("systemd-socket-activate failed: %s"
                                   % self.log())
            time.sleep(0.01)

    def connect(self, greeting=True, login=None, timeout=None):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        c = Client(sock) if timeout is None else Client(sock, timeout)
        self.clients.append(c)
        if greeting or login:
            c.greeting()
        if login:
            c.login(login.name, login.password)
        return c

    def url(self, user=None, path=""):
        auth = "%s:%s@" % (user.name, user.password) if user else ""
        return "pop3://%s127.0.0.1:%d/%s" % (auth, self.port, path)

    def log(self):
        return Path(self.log_path).read_bytes().decode("latin-1")

    def pop3d_pids(self):
        return descendants(self.pid, include_self=False)

    def process_of_uid(self, uid, timeout=5.0):
        return find_process(self.pid, uid_is(uid), timeout)

    def wait_idle(self, timeout=10):
        """Waits until no pop3d runs (all connections ended)."""
        deadline = time.monotonic() + timeout
        while self.pop3d_pids():
            if time.monotonic() > deadline:
                raise AssertionError("pop3d still running: %s"
                                     % self.pop3d_pids())
            time.sleep(0.02)

    def finish(self):
        problems = []
        for c in self.clients:
            c.close()
        try:
            self.wait_idle(10)
        except AssertionError as e:
            problems.append(str(e))
        kids = self.pop3d_pids()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for p in kids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log_file.close()
        bad = sanitizer_errors(Path(self.log_path).read_bytes())
        if bad:
            problems.append("sanitizer: %r" % bad[:5])
        return problems


@pytest.fixture
def server(pop3d_bin, area):
    """Factory: server(options=None, args=None) -> Server listening on a
    free loopback port; options/args as for `session`."""
    started = []

    def start(options=None, args=None):
        if args is not None:
            argv = [str(pop3d_bin)] + list(args)
        else:
            argv = area.argv(pop3d_bin, options)
        s = Server(argv, area.new_log("server"))
        started.append(s)
        return s

    yield start
    problems = []
    for s in started:
        problems += s.finish()
    if problems:
        pytest.fail("; ".join(problems))
