"""The privilege flow (DESIGN.md "Who runs what"): the pre-auth
dialogue runs unprivileged in an empty chroot; after login only the
user's uid/gid serve the connection; hostile login names create nothing."""

import glob
import os
import pwd
import stat

import pytest

from pop3lib import descendants, proc_ids, proc_status

USER_OK = "+OK User name accepted, password please"
FAILED = "-ERR [AUTH] Authentication failed"
PRIVSEP_DIR = "/run/pop3d/empty"


def _privsep_account():
    for name in ("pop3d", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    pytest.skip("neither pop3d nor nobody exists")


def _fd_targets(pid):
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append((int(fd), os.readlink("/proc/%d/fd/%s" % (pid, fd))))
        except OSError:
            pass
    return out


def test_preauth_process_unprivileged_chrooted(session, area):
    acct = _privsep_account()
    s = session()
    pid = s.preauth_process()
    st = proc_status(pid)
    assert proc_ids(pid, "Uid") == [acct.pw_uid] * 4, st["Uid"]
    assert proc_ids(pid, "Gid") == [acct.pw_gid] * 4, st["Gid"]
    assert 0 not in proc_ids(pid, "Groups"), st["Groups"]
    assert proc_ids(pid, "Groups") in ([], [acct.pw_gid]), st["Groups"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]
    assert os.readlink("/proc/%d/root" % pid) == PRIVSEP_DIR
    assert os.readlink("/proc/%d/cwd" % pid) == PRIVSEP_DIR
    # It holds nothing but the connection and its channel to root: no
    # users file, no maildir, no log file of ours.
    for fd, target in _fd_targets(pid):
        if target.endswith(".log"):
            continue        # -d: stderr is the test's log
        assert not target.startswith(str(area.path)), (fd, target)
        assert not target.startswith("/etc/"), (fd, target)
    # The chroot is empty, root's, and nobody else may write to it.
    d = os.stat(PRIVSEP_DIR)
    assert d.st_uid == 0 and not d.st_mode & 0o022, oct(d.st_mode)
    assert os.listdir(PRIVSEP_DIR) == []
    s.quit()


def test_privsep_user_option(session):
    s = session(options={"privsep-user": "nobody"})
    pid = s.preauth_process()
    nobody = pwd.getpwnam("nobody")
    assert proc_ids(pid, "Uid") == [nobody.pw_uid] * 4


def test_session_runs_as_user(session, alice):
    s = session(login=alice)
    s.expect_reply("STAT", "+OK 0 0")
    pid = s.process_of_uid(alice.uid)
    st = proc_status(pid)
    assert proc_ids(pid, "Uid") == [alice.uid] * 4, st["Uid"]
    assert proc_ids(pid, "Gid") == [alice.gid] * 4, st["Gid"]
    assert proc_ids(pid, "Groups") in ([], [alice.gid]), st["Groups"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, st
    assert pid == s.pid or pid in descendants(s.pid)
    # Whoever still holds the connection is the user, never root nor the
    # pre-auth account.
    holders = s.holders_of_connection()
    assert holders, "nobody holds the connection?"
    for p in holders:
        assert proc_ids(p, "Uid") == [alice.uid] * 4, (p, proc_status(p))
    # The pre-auth process is gone.
    acct = _privsep_account()
    for p in descendants(s.pid):
        assert proc_ids(p, "Uid")[0] != acct.pw_uid, p
    s.quit()


def test_no_extra_descriptors_reach_the_session(session, alice, area):
    """A descriptor inherited from the parent is not
    usable by the pre-auth child nor by the user's session."""
    secret = area.path / "inherited-secret"
    secret.write_bytes(b"root only\n")
    os.chmod(secret, 0o600)
    fd = os.open(secret, os.O_RDONLY)
    try:
        s = session(pass_fds=(fd,), greeting=False)
    finally:
        os.close(fd)
    s.expect("+OK POP3 server ready")
    pre = s.preauth_process()
    assert all(t != str(secret) for _, t in _fd_targets(pre))
    s.login("alice", "alice-pw")
    pid = s.process_of_uid(alice.uid)
    assert all(t != str(secret) for _, t in _fd_targets(pid)), \
        _fd_targets(pid)
    s.quit()


def test_closed_stderr(session, alice, area):
    """Started with fd 2 closed (and no -d): logs must not land in a file
    that happens to get descriptor 2."""
    alice.maildir.add(b"Subject: x\n\nbody\n")
    before = {p: open(p, "rb").read() for p in
              [area.users_file] + [alice.maildir.path / m
                                   for m in alice.maildir.messages()]}
    args = []
    for k, v in area.options().items():
        args += ["-o", "%s=%s" % (k, v)]
    s = session(args=args, preexec_fn=lambda: os.close(2))
    s.expect_reply("USER alice", USER_OK)
    s.expect_reply("PASS wrong", FAILED)
    s.login("alice", "alice-pw")
    s.retr_raw(1)
    s.quit()
    for p, data in before.items():
        assert open(p, "rb").read() == data, p


def test_hostile_environment(session, alice):
    env = {"PATH": "/nonexistent", "IFS": "x", "TZ": "../../etc/shadow",
           "LD_LIBRARY_PATH": "/nonexistent", "HOME": "/nonexistent",
           "MALLOC_CHECK_": "3", "LANG": "xx_XX.BOGUS", "LC_ALL": "tr_TR"}
    s = session(env=env, login=alice)
    s.expect_reply("stat", "+OK 0 0")
    s.quit()


def test_privsep_dir_state_after_session(session):
    s = session()
    s.quit()
    st = os.lstat(PRIVSEP_DIR)
    assert stat.S_ISDIR(st.st_mode)
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755
    assert os.listdir(PRIVSEP_DIR) == []


# ---------------------------------------------------------------------------
# Login names (DESIGN.md "What is never trusted": name_valid())

BAD_NAMES = [
    b"../ZZMARK", b"ZZMARK/../alice", b"/etc/ZZMARK", b"..", b".",
    b".ZZMARK", b"-ZZMARK", b"-o", b"-f", b"ZZMARK\x01", b"ZZMARK\x1b[1m",
    b"ZZMARK\rX", b"ZZMARK\x7f", b"ZZMARK\xff", b"ZZMARK\xc3\xa9",
    b"Z" * 129, b"ZZMARK%u", b"ZZMARK%s%n", b"ZZMARK;id", b"$(id)ZZMARK",
    b"`id`ZZMARK", b"ZZMARK|id", b"ZZMARK*", b"ZZMARK?", b"~ZZMARK",
    b"ZZMARK\\x", b"ZZMARK:x", b"ZZMARK@", b"@ZZMARK", b"a@b@ZZMARK",
    b"ZZ..MARK", b"ZZMARK@..", b"ZZMARK@-x", b"ZZMARK/", b"ZZMARK\t",
    b"alice/", b"alice\x00",
]


def test_bad_login_names_refused(session, area, alice):
    names = BAD_NAMES
    before = area.snapshot()
    tmp_before = set(glob.glob("/tmp/*")) | set(glob.glob("/var/tmp/*"))
    s = session(options={"max-failures": "100"})
    for name in names:
        s.send(b"USER " + name + b"\r\n")
        r = s.reply()
        if b"\x00" in name:
            assert r == "-ERR Invalid characters in command", (name, r)
            continue
        if name.endswith(b"\t"):
            assert r in (USER_OK, "-ERR Syntax error"), (name, r)
            if r != USER_OK:
                continue
        assert r == USER_OK, (name, r)
        s.send(b"PASS alice-pw\r\n")
        assert s.reply() == FAILED, name
        s.expect_reply("CAPA", "+OK Capability list follows")
        s.read_multiline()
    s.login("alice", "alice-pw")
    s.quit()
    s.wait()
    assert area.snapshot() == before
    created = (set(glob.glob("/tmp/*")) | set(glob.glob("/var/tmp/*"))) \
        - tmp_before
    assert not [p for p in created if "ZZMARK" in p], created
    # Logged names cannot forge or split log lines.
    for line in s.log_bytes().split(b"\n"):
        assert not any(b < 0x20 and b != 9 or b >= 0x7f for b in line), line


BAD_FILE_NAMES = ["-x", ".hidden", "a;id", "$(id)", "~root", "alice/",
                  "x..y", "Z" * 129, "a b"]


@pytest.mark.parametrize("name", BAD_FILE_NAMES)
def test_users_file_line_with_bad_name(session, area, alice, name):
    """A users-file line whose name breaks the name rules never logs in,
    and (DESIGN.md: "a malformed users line never authenticates") does not
    stop the other users from logging in."""
    area.add_line("%s:{PLAIN}pw:5300:5300::/nonexistent::" % name)
    s = session()
    if " " not in name:
        s.expect_reply("USER " + name, USER_OK)
        s.expect_reply("PASS pw", FAILED)
    s.login("alice", "alice-pw")
    s.quit()
