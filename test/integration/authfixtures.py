"""Fixtures and helpers for the issue-4 tests (system users, PAM, SASL,
APOP, privilege separation, timing).  Owned by the auth tests; the shared
fixtures (area, session, server) are in conftest.py.

  sysusers    factory of real system accounts (useradd/chpasswd), removed
              with their groups at teardown, whatever the test did.
  pam_service factory of /etc/pam.d/ service files, removed at teardown.

Names are random (pt4 + hex) so that parallel runs never collide.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pop3lib import Maildir, mkpasswd

USER_OK = "+OK User name accepted, password please"
LOGGED_IN = "+OK Logged in"
FAILED = "-ERR [AUTH] Authentication failed"
CAPA_FIRST = "+OK Capability list follows"
PAM_DIR = Path("/etc/pam.d")

LOG_PREFIX = re.compile(r"pop3d\[(\d+)\]: (.*)$")


def log_msgs(text):
    """The messages of pop3d's stderr log, without the pop3d[PID] prefix."""
    out = []
    for line in text.splitlines():
        m = LOG_PREFIX.search(line)
        if m:
            out.append(m.group(2))
    return out


def failed_reasons(text, user=None):
    """(user, addr, reason) of every `login failed` line."""
    out = []
    for m in log_msgs(text):
        f = re.fullmatch(r"login failed user=(\S*) addr=(\S+) reason=(.+)",
                         m)
        if f and (user is None or f.group(1) == user):
            out.append(f.groups())
    return out


def plain_ir(authzid, authcid, password):
    """RFC 4616 message, base64 (str)."""
    raw = b"%s\0%s\0%s" % (_b(authzid), _b(authcid), _b(password))
    return base64.b64encode(raw).decode()


def cram_response(challenge_b64, user, secret):
    """RFC 2195: base64("user hex(HMAC-MD5(secret, challenge)))")."""
    challenge = base64.b64decode(challenge_b64, validate=True)
    digest = hmac.new(_b(secret), challenge, hashlib.md5).hexdigest()
    return base64.b64encode(_b(user) + b" " + digest.encode()).decode()


def apop_digest(stamp, secret):
    """RFC 1939 §7: hex MD5(timestamp || secret)."""
    return hashlib.md5(_b(stamp) + _b(secret)).hexdigest()


def _b(x):
    return x.encode("latin-1") if isinstance(x, str) else bytes(x)


def random_name(prefix="pt4"):
    return prefix + secrets.token_hex(4)


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30, **kw)


# ---------------------------------------------------------------------------
# System accounts

class SysUser:
    """A system account made by useradd: name, password, uid, gid, home,
    maildir (AREA/mail/NAME owned by it)."""

    def __init__(self, name, password, uid, gid, home, maildir):
        self.name, self.password = name, password
        self.uid, self.gid, self.home = uid, gid, home
        self.maildir = maildir

    def __repr__(self):
        return "SysUser(%r, uid=%d)" % (self.name, self.uid)

    def shadow(self):
        """Its /etc/shadow line, split into fields."""
        for line in Path("/etc/shadow").read_text().splitlines():
            f = line.split(":")
            if f[0] == self.name:
                return f
        raise AssertionError("%s not in /etc/shadow" % self.name)


class SysUsers:
    def __init__(self, area):
        self.area = area
        self.users = []
        self.groups = []

    def add_group(self):
        name = random_name("pt4g")
        self.groups.append(name)
        run(["groupadd", name])
        return name, int(run(["getent", "group", name]).stdout.decode()
                         .split(":")[2])

    def add(self, password, method="yescrypt", groups=(), uid0=False,
            maildir=True):
        """useradd -M with a home under the area; the password is set by
        chpasswd -e from a mkpasswd hash of `method` (None: no password,
        the account stays locked with "!")."""
        name = random_name()
        home = self.area.homes / name
        argv = ["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin",
                "-c", "pop3d test account"]
        if uid0:
            # A second uid-0 account: root's own password stays untouched.
            argv += ["-o", "-u", "0", "-g", "0", "-N"]
        else:
            argv += ["-U"]
        if groups:
            argv += ["-G", ",".join(groups)]
        self.users.append(name)
        run(argv + [name])
        if method is not None:
            h = mkpasswd(password, method)
            subprocess.run(["chpasswd", "-e"], input=("%s:%s\n" % (name, h))
                           .encode(), check=True, timeout=30,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ent = run(["getent", "passwd", name]).stdout.decode().split(":")
        uid, gid = int(ent[2]), int(ent[3])
        if not uid0:
            home.mkdir(mode=0o700, exist_ok=True)
            os.chown(home, uid, gid)
        md = Maildir(self.area.mail / name, uid, gid) if maildir else None
        return SysUser(name, password, uid, gid, home, md)

    def cleanup(self):
        problems = []
        for name in self.users:
            # -f: even if a process of the test still runs as the user.
            p = subprocess.run(["userdel", "-f", name],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            if p.returncode not in (0, 6):
                problems.append("userdel %s: %s" % (name, p.stdout))
        for name in self.groups:
            subprocess.run(["groupdel", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        return problems


@pytest.fixture
def sysusers(area):
    """Factory of system accounts: sysusers.add(password, method=...)."""
    for tool in ("useradd", "chpasswd", "mkpasswd"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed" % tool)
    su = SysUsers(area)
    yield su
    problems = su.cleanup()
    assert not problems, problems


# ---------------------------------------------------------------------------
# PAM service files

class PamServices:
    def __init__(self):
        self.files = []

    def add(self, text):
        """Writes /etc/pam.d/pop3d-test-XXXX with `text`; returns its name."""
        name = random_name("pop3d-test-")
        path = PAM_DIR / name
        self.files.append(path)
        path.write_text(text)
        os.chmod(path, 0o644)
        return name

    def cleanup(self):
        for p in self.files:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


PAM_UNIX_STACK = ("auth required pam_unix.so\n"
                  "account required pam_unix.so\n"
                  "session required pam_permit.so\n")


@pytest.fixture
def pam_service():
    """Factory: pam_service(text) -> service name of a new /etc/pam.d file."""
    if not PAM_DIR.is_dir():
        pytest.skip("no /etc/pam.d")
    ps = PamServices()
    yield ps.add
    ps.cleanup()


def wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
