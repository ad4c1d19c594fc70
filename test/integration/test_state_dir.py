"""pop3d's state dir (`state-dir`, pop3d(8), pop3d.conf(5), docs/mbox.md):
root makes STATE (0711 root) and STATE/UID (0700, owned by the uid) before
the privilege drop and refuses symlinks, wrong owners and wrong modes with
-ERR [SYS/TEMP] and a log line; everything pop3d keeps about a maildrop
lives there (session lock, recovery records, LOGIN-DELAY record), nothing
in the spool directory, a maildir or a home.  The session lock holds
across network namespaces and against another uid squatting the old
abstract socket name.  LOGIN-DELAY is restarted only by logins that were
served.

Every area passes -o state-dir=AREA/state (conftest.Area.options)."""

import ctypes
import os
import stat
import subprocess
import sys
import time

import pytest

from debianfixtures import (IN_USE, LOGGED_IN, MAIL_GID, USER_OK, mail_user,
                            mbox_of, message, spool, state_files)

DELAYED = "-ERR [LOGIN-DELAY] Minimum time between logins not reached"
OTHER_UID = 5999
CLONE_NEWNET = 0x40000000


def new_netns():
    """preexec_fn: the child gets a network namespace of its own."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")


def netns(pid):
    return os.readlink("/proc/%d/ns/net" % pid)


def owner_mode(path):
    st = os.lstat(path)
    return (st.st_uid, stat.S_IFMT(st.st_mode), st.st_mode & 0o7777)


def mbox_setup(area, spool, mail_user):
    spool.create(mail_user, mbox_of([message(1), message(2)]))
    return mail_user, spool.options()


def maildir_setup(area, spool, mail_user):
    u = area.add_user("alice", "alice-pw")
    u.maildir.add(message(1))
    u.maildir.add(message(2))
    return u, {"timeout": "60"}


SETUPS = {"mbox": mbox_setup, "maildir": maildir_setup}


def mbox_group_mail_setup(area, spool, mail_user):
    """A user in group mail (0660 mailbox, spool writable): a place of its
    own for the LOGIN-DELAY record exists outside the state dir, so a
    record written at the wrong moment shows."""
    u = area.add_user("dora", "dora-pw", gid=MAIL_GID, maildir=False)
    spool.create(u, mbox_of([message(1), message(2)]), mode=0o660)
    return u, spool.options()


DELAY_SETUPS = {"mbox": mbox_group_mail_setup, "maildir": maildir_setup}


# ---------------------------------------------------------------------------
# Creation and checks

@pytest.mark.parametrize("kind", SETUPS)
def test_state_dir_made_at_login(session, area, spool, mail_user, kind):
    user, opts = SETUPS[kind](area, spool, mail_user)
    assert not area.state.exists()
    s = session(login=user, options=opts)
    assert owner_mode(area.state) == (0, stat.S_IFDIR, 0o711)
    assert owner_mode(area.state / str(user.uid)) == \
        (user.uid, stat.S_IFDIR, 0o700)
    s.expect_reply("STAT", "+OK 2 %d" % (2 * len(
        message(1).replace(b"\n", b"\r\n"))))
    s.quit()


def _make(path, uid, mode):
    path.mkdir()
    os.chown(path, uid, 0)
    os.chmod(path, mode)


BAD = {
    # STATE itself
    "state-symlink": lambda a, u: (_make(a.path / "elsewhere", 0, 0o711),
                                   os.symlink(a.path / "elsewhere",
                                              a.state)),
    "state-owner": lambda a, u: _make(a.state, OTHER_UID, 0o711),
    "state-mode-0777": lambda a, u: _make(a.state, 0, 0o777),
    # STATE/UID
    "uid-symlink": lambda a, u: (_make(a.state, 0, 0o711),
                                 _make(a.path / "elsewhere", u.uid, 0o700),
                                 os.symlink(a.path / "elsewhere",
                                            a.state / str(u.uid))),
    "uid-owner": lambda a, u: (_make(a.state, 0, 0o711),
                               _make(a.state / str(u.uid), OTHER_UID,
                                     0o700)),
    "uid-mode-0755": lambda a, u: (_make(a.state, 0, 0o711),
                                   _make(a.state / str(u.uid), u.uid,
                                         0o755)),
}


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("kind", SETUPS)
def test_bad_state_dir_refused(session, area, spool, mail_user, kind, case):
    user, opts = SETUPS[kind](area, spool, mail_user)
    BAD[case](area, user)
    before = area.snapshot()
    s = session(options=opts)
    s.expect_reply("USER %s" % user.name, USER_OK)
    r = s.cmd("PASS %s" % user.password)
    assert r.startswith("-ERR [SYS/TEMP] "), r
    s.expect_eof()
    s.wait()
    bad = area.state if case.startswith("state") else \
        area.state / str(user.uid)
    assert str(bad) in s.log(), s.log()
    # Nothing was made or changed: not the state dir, not the maildrop.
    assert area.snapshot() == before


# ---------------------------------------------------------------------------
# Nothing of pop3d's outside the state dir

def test_nothing_in_spool_or_home_mbox(session, area, spool):
    """A user who could write both the spool (group mail) and its home:
    pop3d still keeps its record and LOGIN-DELAY file in the state dir."""
    u = area.add_user("dora", "dora-pw", gid=MAIL_GID, maildir=False)
    p = spool.create(u, mbox_of([message(1), message(2), message(3)]),
                     mode=0o660)
    opts = spool.options(**{"login-delay": "1"})
    s = session(login=u, options=opts)
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.quit()
    assert spool.others(u) == []
    assert os.listdir(u.home) == []
    assert state_files(area, u.uid) != []
    assert p.read_bytes() == mbox_of([message(2), message(3)], first=1)


def test_nothing_in_maildir_or_home(session, area, alice):
    alice.maildir.add(message(1))
    alice.maildir.add(message(2))
    s = session(login=alice, options={"login-delay": "1"})
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.quit()
    assert sorted(os.listdir(alice.maildir.path)) == ["cur", "new", "tmp"]
    assert os.listdir(alice.maildir.path / "tmp") == []
    assert os.listdir(alice.home) == []
    assert state_files(area, alice.uid) != []


# ---------------------------------------------------------------------------
# The session lock

@pytest.mark.parametrize("kind", SETUPS)
def test_second_session_in_another_netns(session, area, spool, mail_user,
                                         kind):
    """The second pop3d runs in a network namespace of its own (as with
    systemd's PrivateNetwork=yes); the session is fed over a socketpair,
    so the client does not care."""
    user, opts = SETUPS[kind](area, spool, mail_user)
    s1 = session(login=user, options=opts)
    s2 = session(options=opts, preexec_fn=new_netns)
    assert netns(s2.pid) != netns(os.getpid())
    s2.expect_reply("USER %s" % user.name, USER_OK)
    s2.expect_reply("PASS %s" % user.password, IN_USE)
    s2.expect_eof()
    s1.expect_reply("DELE 1", "+OK Message deleted")
    s1.quit()
    s3 = session(login=user, options=opts, preexec_fn=new_netns)
    s3.expect_reply("STAT", "+OK 1 %d" % len(
        message(2).replace(b"\n", b"\r\n")))
    s3.quit()


SQUATTER = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + sys.argv[1].encode())
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.close()
"""


@pytest.fixture
def squatter():
    started = []

    def start(name, uid=OTHER_UID):
        def drop():
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        p = subprocess.Popen([sys.executable, "-c", SQUATTER, name],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             preexec_fn=drop, cwd="/")
        started.append(p)
        assert p.stdout.readline() == b"ready\n"
        return p

    yield start
    for p in started:
        p.kill()
        p.wait(5)


def test_squatted_abstract_lock_name(session, area, spool, mail_user,
                                     squatter):
    """Another uid binds the abstract name pop3d 0.x used for the lock
    (pop3d-mbox-DEV-INO, in hex) before any session: pop3d must not go on
    without a lock.  Either it is unaffected (the first session is served,
    the second gets [IN-USE]) or it fails closed ([SYS/TEMP]): never two
    sessions of one maildrop at once."""
    p = spool.create(mail_user, mbox_of([message(1), message(2)]))
    st = os.stat(p)
    squatter("pop3d-mbox-%x-%x" % (st.st_dev, st.st_ino))
    opts = spool.options()
    s1 = session(options=opts)
    s1.expect_reply("USER carol", USER_OK)
    r1 = s1.cmd("PASS carol-pw")
    assert r1 == LOGGED_IN or r1.startswith("-ERR [SYS/TEMP] "), r1
    s2 = session(options=opts)
    s2.expect_reply("USER carol", USER_OK)
    r2 = s2.cmd("PASS carol-pw")
    if r1 == LOGGED_IN:
        assert r2 == IN_USE
        s1.quit()
    else:
        assert r2 == IN_USE or r2.startswith("-ERR [SYS/TEMP] "), r2


def test_squatted_state_files_of_other_uid(session, area, spool, mail_user):
    """Another uid made STATE before pop3d (so it could plant lock files
    in it): refused, never served without the lock."""
    spool.create(mail_user, mbox_of([message(1)]))
    _make(area.state, OTHER_UID, 0o755)
    uid_dir = area.state / str(mail_user.uid)
    _make(uid_dir, OTHER_UID, 0o777)
    s = session(options=spool.options())
    s.expect_reply("USER carol", USER_OK)
    r = s.cmd("PASS carol-pw")
    assert r.startswith("-ERR [SYS/TEMP] "), r


# ---------------------------------------------------------------------------
# LOGIN-DELAY

def test_login_delay_record_in_state_dir(session, area, spool, mail_user):
    spool.create(mail_user, mbox_of([message(1)]))
    opts = spool.options(**{"login-delay": "60"})
    s = session(login=mail_user, options=opts)
    s.quit()
    assert [n for n in state_files(area, mail_user.uid) if "carol" in n]
    assert spool.others(mail_user) == []
    s = session(options=opts)
    s.expect_reply("USER carol", USER_OK)
    s.expect_reply("PASS carol-pw", DELAYED)


@pytest.mark.parametrize("kind", DELAY_SETUPS)
def test_in_use_does_not_restart_delay(session, area, spool, mail_user,
                                       kind):
    user, opts = DELAY_SETUPS[kind](area, spool, mail_user)
    opts = dict(opts, **{"login-delay": "2"})
    s1 = session(login=user, options=opts)
    time.sleep(2.3)
    s2 = session(options=opts)
    s2.expect_reply("USER %s" % user.name, USER_OK)
    s2.expect_reply("PASS %s" % user.password, IN_USE)
    s1.quit()
    # The refused login was not a login: the delay counts from s1's.
    s3 = session(login=user, options=opts)
    s3.quit()


@pytest.mark.parametrize("kind", DELAY_SETUPS)
def test_failed_open_does_not_restart_delay(session, area, spool, mail_user,
                                            kind):
    """The maildrop cannot be opened once (the mbox, or the maildir's
    new/, belongs to another uid); the next login after that is served."""
    user, opts = DELAY_SETUPS[kind](area, spool, mail_user)
    opts = dict(opts, **{"login-delay": "2"})
    drop = spool.mbox(user) if kind == "mbox" else \
        user.maildir.path / "new"
    s1 = session(login=user, options=opts)
    s1.quit()
    time.sleep(2.3)
    os.chown(drop, OTHER_UID, os.stat(drop).st_gid)
    s2 = session(options=opts)
    s2.expect_reply("USER %s" % user.name, USER_OK)
    r = s2.cmd("PASS %s" % user.password)
    assert r.startswith("-ERR [SYS/"), r
    os.chown(drop, user.uid, os.stat(drop).st_gid)
    s3 = session(login=user, options=opts)
    s3.quit()


# ---------------------------------------------------------------------------
# Rootless: pop3d started as the mail user keeps its state in a directory
# of that user's.

def test_rootless_state_dir(session, area):
    """Started as uid 5001 (no chroot, no switch), pop3d serves only that
    user's mail and keeps STATE/5001 in a state-dir the user owns; a
    second session gets [IN-USE] and nothing is written elsewhere."""
    u = area.add_user("alice", "alice-pw")
    u.maildir.add(message(1))
    rstate = area.path / "rstate"
    rstate.mkdir(mode=0o700)
    os.chown(rstate, u.uid, u.gid)
    os.chmod(area.users_file, 0o644)

    def become():
        os.setgroups([])
        os.setgid(u.gid)
        os.setuid(u.uid)

    opts = {"state-dir": str(rstate), "timeout": "60"}
    s = session(login=u, options=opts, preexec_fn=become)
    assert s.cmd("STAT") == "+OK 1 %d" % len(message(1).replace(
        b"\n", b"\r\n"))
    t = session(options=opts, preexec_fn=become)
    t.expect_reply("USER alice", USER_OK)
    t.expect_reply("PASS alice-pw", IN_USE)
    s.quit()
    assert owner_mode(rstate / str(u.uid)) == (u.uid, stat.S_IFDIR, 0o700)
    assert [p.name for p in (rstate / str(u.uid)).iterdir()
            if p.name.endswith(".lock")]
