"""Fixtures and helpers for the "mail is never lost on real Debian setups"
tests (test_debian_mbox.py, test_state_dir.py, test_mbox_crash.py).  The
shared fixtures (area, session, server) are in conftest.py.

Debian's spool as the tests build it, in the area (never /var/mail):

  SPOOL        AREA/spool, 2775 root:mail, not sticky (Debian's stock mode)
  SPOOL/USER   0600 USER:mail, as Postfix local creates it
  maildrop     mbox:SPOOL/%u

Mail-only accounts have the home /nonexistent and a group of their own (not
mail), so they can write neither the spool directory nor a home: the only
place pop3d may keep anything is its state-dir (pop3d(8), docs/mbox.md).

  spool         the Spool of the area
  mail_user     a file-backend user "carol" (uid 5101, gid 5101, home
                /nonexistent) with no maildrop yet
  mail_accounts factory of real accounts (useradd -M -d /nonexistent -s
                /usr/sbin/nologin, password set with usermod -p), removed
                at teardown
  dovecot_lda   runs /usr/lib/dovecot/dovecot-lda as a user with a config
                of the test's own (skips when dovecot-core is missing)
"""

import grp
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pop3lib import mkpasswd, proc_ids

# Debian's group mail (base-passwd: gid 8), looked up rather than assumed.
MAIL_GID = grp.getgrnam("mail").gr_gid
IN_USE = "-ERR [IN-USE] Maildrop is in use by another session"
USER_OK = "+OK User name accepted, password please"
LOGGED_IN = "+OK Logged in"
DOVECOT_LDA = "/usr/lib/dovecot/dovecot-lda"

needs_procmail = pytest.mark.skipif(shutil.which("procmail") is None,
                                    reason="procmail not installed")
needs_dotlockfile = pytest.mark.skipif(
    shutil.which("dotlockfile") is None, reason="liblockfile-bin missing")
needs_dovecot = pytest.mark.skipif(not os.access(DOVECOT_LDA, os.X_OK),
                                   reason="dovecot-core not installed")


def from_line(n):
    """A From_ line with a distinct, fixed delivery time."""
    return b"From sender%d@example.org  Sat Nov 21 08:%02d:%02d 2025\n" % (
        n, (n // 60) % 60, n % 60)


def message(n, body=None, extra=b""):
    """Stored message n (header and body, LF line ends, ends in LF)."""
    if body is None:
        body = b"Message number %d.\n" % n
    return (b"From: sender%d@example.org\nSubject: message %d\n"
            b"Message-ID: <%d@test.example>\n" % (n, n, n)) + extra + \
        b"\n" + body


def mbox_of(messages, first=0):
    """An mbox as Postfix local writes it: From_ line, message, empty line."""
    return b"".join(from_line(first + i) + m + b"\n"
                    for i, m in enumerate(messages))


def split_blocks(data):
    """The From_-line blocks of an mbox without Content-Length (each block
    is From_ line, message, separating empty line)."""
    if not data.startswith(b"From "):
        return []
    return re.split(rb"(?:\A|(?<=\n\n))(?=From )", data)[1:]


def split_content_length(data):
    """The blocks of an mbox framed with Content-Length (dovecot-lda):
    list of (block, message) where message is what a client gets (no
    From_ line, no separating empty line).  Asserts the framing holds."""
    out = []
    pos = 0
    while pos < len(data):
        assert data.startswith(b"From ", pos), data[pos:pos + 80]
        eol = data.index(b"\n", pos) + 1
        hend = data.index(b"\n\n", eol) + 2
        m = re.search(rb"(?m)^Content-Length: (\d+)\n", data[eol:hend])
        assert m, data[eol:hend]
        end = hend + int(m.group(1))
        # The separating empty line, then the next From_ line or the end.
        assert data[end:end + 1] == b"\n", data[end - 20:end + 20]
        out.append((data[pos:end + 1], data[eol:end]))
        pos = end + 1
    return out


def split_mixed(data):
    """Messages (what a client gets) of an mbox written by several MDAs:
    a message with a Content-Length header whose framing holds (the octets
    after it are the separating empty line, then a From_ line or the end)
    is framed by it (dovecot-lda); others end at the next From_ line after
    an empty line (procmail, Postfix local)."""
    out = []
    pos = 0
    while pos < len(data):
        assert data.startswith(b"From ", pos), data[pos:pos + 80]
        eol = data.index(b"\n", pos) + 1
        hend = data.find(b"\n\n", eol)
        end = None
        if hend >= 0:
            m = re.search(rb"(?m)^Content-Length: (\d+)\n",
                          data[eol:hend + 1])
            if m:
                e = hend + 2 + int(m.group(1))
                if data[e:e + 1] == b"\n" and (
                        e + 1 == len(data) or
                        data.startswith(b"From ", e + 1)):
                    end = e
        if end is None:
            nxt = data.find(b"\n\nFrom ", eol - 1)
            end = len(data) - 1 if nxt < 0 else nxt + 1
            if not data.endswith(b"\n\n") and nxt < 0:
                end = len(data)
        out.append(data[eol:end])
        pos = end + 1
    return out


class Spool:
    """AREA/spool: 2775 root:mail, not sticky; mailboxes USER:mail."""

    def __init__(self, area):
        self.area = area
        self.path = area.path / "spool"
        self.path.mkdir()
        os.chown(self.path, 0, MAIL_GID)
        os.chmod(self.path, 0o2775)
        self.rc = area.path / "procmailrc"

    def maildrop(self):
        return "mbox:%s/%%u" % self.path

    def options(self, **more):
        o = {"maildrop": self.maildrop(), "timeout": "60"}
        o.update(more)
        return o

    def mbox(self, user):
        return self.path / user.name

    def create(self, user, data=b"", mode=0o600):
        """SPOOL/USER with data, USER:mail, mode (0600 as Postfix local)."""
        p = self.mbox(user)
        p.write_bytes(data)
        os.chown(p, user.uid, MAIL_GID)
        os.chmod(p, mode)
        return p

    def identity(self, user):
        st = os.stat(self.mbox(user))
        return (st.st_ino, st.st_uid, st.st_gid, st.st_mode & 0o7777)

    def others(self, user):
        """Names in the spool directory besides the user's mailbox."""
        return sorted(n for n in os.listdir(self.path) if n != user.name)

    def dotlock_append(self, user, data):
        """Postfix local's method, as a script does it: dotlockfile -l (the
        setgid-mail helper), append, dotlockfile -u.  Run as root here
        because the lock, not the writer's uid, is what is tested."""
        lock = str(self.mbox(user)) + ".lock"
        subprocess.run(["dotlockfile", "-l", "-p", lock], check=True,
                       timeout=60)
        try:
            with open(self.mbox(user), "ab") as f:
                f.write(data)
        finally:
            subprocess.run(["dotlockfile", "-u", lock], check=True,
                           timeout=60)

    def procmail(self, user, data, sender="sender@example.org"):
        """procmail as the user (setuid/setgid as Debian installs it), with
        its dotlock (USER.lock) and fcntl locks."""
        self.rc.write_text("LOCKSLEEP=1\n:0:\n%s\n" % self.mbox(user))
        os.chmod(self.rc, 0o644)
        subprocess.run(["procmail", "-f", sender, "-m", str(self.rc)],
                       input=data, check=True, timeout=60,
                       preexec_fn=as_user(user.uid, user.gid, [MAIL_GID]),
                       env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def as_user(uid, gid, groups=()):
    """preexec_fn for subprocess: become uid/gid with these groups."""
    def become():
        os.setgroups(list(groups))
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    return become


@pytest.fixture
def spool(area):
    return Spool(area)


class MailUser:
    def __init__(self, name, password, uid, gid, home):
        self.name, self.password = name, password
        self.uid, self.gid, self.home = uid, gid, home
        self.maildir = None

    def __repr__(self):
        return "MailUser(%r, uid=%d)" % (self.name, self.uid)


@pytest.fixture
def mail_user(area):
    """File-backend user carol: uid/gid 5101, home /nonexistent, in no
    group that can write the spool."""
    u = MailUser("carol", "carol-pw", 5101, 5101, "/nonexistent")
    area.add_line("carol:{PLAIN}carol-pw:5101:5101::/nonexistent::")
    return u


def random_name(prefix="pdm"):
    return prefix + secrets.token_hex(4)


class MailAccounts:
    """Real accounts: useradd -M -d /nonexistent -s /usr/sbin/nologin -U,
    a crypt hash set with usermod -p."""

    def __init__(self):
        self.names = []

    def add(self, password="mail-pw"):
        name = random_name()
        self.names.append(name)
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s",
                        "/usr/sbin/nologin", "-U", "-c",
                        "pop3d test mail-only account", name], check=True,
                       timeout=30, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        subprocess.run(["usermod", "-p", mkpasswd(password), name],
                       check=True, timeout=30, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
        ent = subprocess.run(["getent", "passwd", name], check=True,
                             stdout=subprocess.PIPE,
                             timeout=30).stdout.decode().split(":")
        return MailUser(name, password, int(ent[2]), int(ent[3]), ent[5])

    def cleanup(self):
        problems = []
        for name in self.names:
            p = subprocess.run(["userdel", "-f", name],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            if p.returncode not in (0, 6):
                problems.append("userdel %s: %s" % (name, p.stdout))
        return problems


@pytest.fixture
def mail_accounts():
    for tool in ("useradd", "usermod", "userdel", "mkpasswd"):
        if shutil.which(tool) is None:
            pytest.skip("%s not installed" % tool)
    accounts = MailAccounts()
    yield accounts
    problems = accounts.cleanup()
    assert not problems, problems


class DovecotLda:
    """dovecot-lda run as the user (uid and own gid; group mail as a
    supplementary group, as dovecot's mail_privileged_group would give it,
    so that it can make its dotlock in the 2775 spool), with a config of
    our own: mbox with the INBOX at SPOOL/%u, indexes in memory, log to
    stderr, no ssl, no auth service."""

    def __init__(self, area, spool):
        self.spool = spool
        self.conf = area.path / "dovecot.conf"
        self.dirs = area.path / "dovecot-mail"
        self.dirs.mkdir(mode=0o755)
        self.conf.write_text(
            "mail_location = mbox:%s/%%u:INBOX=%s/%%u:INDEX=MEMORY\n"
            "log_path = /dev/stderr\n"
            "ssl = no\n" % (self.dirs, spool.path))
        os.chmod(self.conf, 0o644)

    def deliver(self, user, data, sender="sender@example.org"):
        d = self.dirs / user.name
        if not d.exists():
            d.mkdir(mode=0o700)
            os.chown(d, user.uid, user.gid)
        p = subprocess.run(
            [DOVECOT_LDA, "-c", str(self.conf), "-f", sender],
            input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=60, preexec_fn=as_user(user.uid, user.gid, [MAIL_GID]),
            env={"USER": user.name, "HOME": "/nonexistent",
                 "PATH": "/usr/bin:/bin"})
        assert p.returncode == 0, p.stderr.decode(errors="replace")


@pytest.fixture
def dovecot_lda(area, spool):
    if not os.access(DOVECOT_LDA, os.X_OK):
        pytest.skip("dovecot-core not installed (dovecot-lda)")
    return DovecotLda(area, spool)


# ---------------------------------------------------------------------------
# The state dir

def state_files(area, uid):
    """Names in STATE/UID (empty when it does not exist)."""
    try:
        return sorted(os.listdir(area.state / str(uid)))
    except FileNotFoundError:
        return []


def journals(area, uid):
    return [n for n in state_files(area, uid) if "journal" in n]


def wait_until(pred, timeout, step=0.001):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(step)


def kill_group(pid, sig=signal.SIGKILL):
    """Signals the process group pid leads (sessions start their own)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def uid_of(pid):
    return proc_ids(pid, "Uid")[0]
