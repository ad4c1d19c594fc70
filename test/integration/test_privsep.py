"""Issue 4: the privilege flow seen from /proc (DESIGN.md "Who runs what",
"Privilege flow").

Before login the process that parses the client's bytes has no uid 0 and
no euid 0 (nor gid 0), no_new_privs, and is chrooted to the empty privsep
dir; after login the session runs with the user's ids in all four fields;
no process can dump core; passwords of any content up to the stated limit
cross the boundary intact; pipelined bytes cross it once."""

import os
import pwd
import stat
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt            # Python 3.11; a hash of any octets, even LF

import pytest

# sysusers, pam_service: fixtures, found by pytest in this module.
from authfixtures import (FAILED, LOGGED_IN, PAM_UNIX_STACK, USER_OK,
                          log_msgs, pam_service, plain_ir, sysusers)
from pop3lib import descendants, proc_ids, proc_status

PRIVSEP_DIR = "/run/pop3d/empty"


def _ppid(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2:].split()[1])


def _core_limit(pid):
    """(soft, hard) of "Max core file size" in /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                f = line[len("Max core file size"):].split()
                return f[0], f[1]
    raise AssertionError("no core line in /proc/%d/limits" % pid)


def _no_core(pid):
    assert _core_limit(pid) == ("0", "0"), _core_limit(pid)
    # Not dumpable: the kernel then makes /proc/PID/* root's, whatever
    # the process's uid (proc(5), PR_SET_DUMPABLE).
    assert os.stat("/proc/%d/status" % pid).st_uid == 0


def _preauth_account(name="pop3d"):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return pwd.getpwnam("nobody")


def _assert_preauth(s, privsep_dir=PRIVSEP_DIR, account=None):
    pid = s.preauth_process()
    st = proc_status(pid)
    acct = account or _preauth_account()
    assert _ppid(pid) == s.pid, "pre-auth is not pop3d's child"
    uids, gids = proc_ids(pid, "Uid"), proc_ids(pid, "Gid")
    assert 0 not in uids and 0 not in gids, (uids, gids)
    assert uids == [acct.pw_uid] * 4, st["Uid"]
    assert gids == [acct.pw_gid] * 4, st["Gid"]
    assert proc_ids(pid, "Groups") == [acct.pw_gid], st["Groups"]
    assert st["NoNewPrivs"] == "1"
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert os.readlink("/proc/%d/root" % pid) == privsep_dir
    assert os.readlink("/proc/%d/cwd" % pid) == privsep_dir
    _no_core(pid)
    # The root parent is the only other process, and does not parse: it
    # reads only from its socketpair with the child.
    assert descendants(s.pid) == [s.pid, pid]
    return pid


def test_preauth_at_greeting(session, alice):
    s = session()
    _assert_preauth(s)
    _no_core(s.pid)
    s.login("alice", "alice-pw")
    s.quit()


def test_preauth_after_failures_and_mid_auth(session, alice):
    """Still unprivileged after failed logins and while a SASL exchange
    waits for its continuation line."""
    s = session(options={"max-failures": "10"})
    s.expect_reply("USER alice", USER_OK)
    s.expect_reply("PASS wrong", FAILED)
    first = _assert_preauth(s)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    assert _assert_preauth(s) == first
    s.expect_reply(plain_ir("", "alice", "alice-pw"), LOGGED_IN)
    s.quit()


def test_privsep_dir_option(session, area, alice):
    d = area.path / "chroot" / "empty"
    s = session(options={"privsep-dir": str(d)})
    _assert_preauth(s, privsep_dir=str(d))
    st = os.lstat(d)
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755
    assert os.listdir(d) == []
    s.login("alice", "alice-pw")
    s.quit()


def test_privsep_dir_writable_refused(session, area):
    d = area.path / "badchroot"
    d.mkdir(mode=0o777)
    os.chmod(d, 0o777)
    s = session(options={"privsep-dir": str(d)}, greeting=False)
    # No greeting from a process that could not confine itself.
    assert not s.readline().startswith(b"+OK")
    s.wait()
    assert "must be a root-owned directory" in s.log(), s.log()


def test_privsep_user_fallback_to_nobody(session, alice):
    s = session(options={"privsep-user": "pt4-no-such-account"})
    nobody = pwd.getpwnam("nobody")
    _assert_preauth(s, account=nobody)
    assert ("privsep-user pt4-no-such-account does not exist, using nobody"
            in log_msgs(s.log())), s.log()
    s.login("alice", "alice-pw")
    s.quit()


def test_privsep_user_root_refused(session, alice):
    """privsep-user = root must not give a root pre-auth process: no
    greeting, no dialogue."""
    s = session(options={"privsep-user": "root"}, greeting=False)
    assert s.read_until_eof() == \
        b"-ERR [SYS/PERM] Server configuration error\r\n"
    assert s.wait() != 0
    assert "pre-auth process: no unprivileged account" in s.log()


def _assert_session_ids(s, uid, gid, groups):
    pid = s.process_of_uid(uid)
    st = proc_status(pid)
    assert proc_ids(pid, "Uid") == [uid] * 4, st["Uid"]
    assert proc_ids(pid, "Gid") == [gid] * 4, st["Gid"]
    assert sorted(proc_ids(pid, "Groups")) == sorted(groups), st["Groups"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    _no_core(pid)
    return pid


def test_session_ids_virtual_user(session, area):
    u = area.add_user("vic", "vic-pw", uid=5401, gid=5402)
    s = session(login=u)
    s.expect_reply("STAT", "+OK 0 0")
    pid = _assert_session_ids(s, 5401, 5402, [5402])
    # Nothing of the tree is root any more, nor the pre-auth account.
    for p in descendants(s.pid):
        assert 0 not in proc_ids(p, "Uid"), (p, proc_status(p)["Uid"])
    assert pid == s.pid
    s.quit()


def test_session_ids_system_user(session, sysusers):
    u = sysusers.add("sys-pw")
    s = session(options={"auth": "unix"}, login=u)
    s.expect_reply("STAT", "+OK 0 0")
    _assert_session_ids(s, u.uid, u.gid, [u.gid])
    s.quit()


def test_session_ids_pam_user(session, sysusers, pam_service):
    """PAM: a root parent waits to close the PAM session; the connection
    is served by the user's process."""
    svc = pam_service(PAM_UNIX_STACK)
    u = sysusers.add("pam-pw")
    s = session(options={"auth": "pam", "pam-service": svc}, login=u)
    s.expect_reply("STAT", "+OK 0 0")
    pid = _assert_session_ids(s, u.uid, u.gid, [u.gid])
    assert _ppid(pid) == s.pid
    _no_core(s.pid)
    s.quit()


def test_pam_root_parent_does_not_hold_the_connection(session, sysusers,
                                                      pam_service):
    """After login only the user's process has the client connection
    open; the root parent kept for pam_close_session needs none of it."""
    svc = pam_service(PAM_UNIX_STACK)
    u = sysusers.add("pam-pw")
    s = session(options={"auth": "pam", "pam-service": svc}, login=u)
    s.expect_reply("STAT", "+OK 0 0")
    s.process_of_uid(u.uid)
    holders = s.holders_of_connection()
    assert holders and all(proc_ids(p, "Uid") == [u.uid] * 4
                           for p in holders), \
        [(p, proc_status(p)["Uid"]) for p in holders]
    s.quit()


# ---------------------------------------------------------------------------
# Passwords across the boundary (DESIGN.md "Privilege flow": no delimiters)

def _sha512(pw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return crypt.crypt(pw, crypt.mksalt(crypt.METHOD_SHA512))


def _hash(pw):
    """sha512crypt when libxcrypt takes the password (up to 511 octets,
    CRYPT_MAX_PASSPHRASE_SIZE - 1), else {PLAIN}."""
    h = _sha512(pw)
    if h is None or h.startswith("*"):
        return "{PLAIN}" + pw
    return h


@pytest.mark.parametrize("length", [500, 511, 512])
def test_long_password(session, area, length):
    """Up to 512 octets (auth.h AUTH_SECRET_MAX) cross the boundary."""
    pw = ("Lp%d-" % length + "x" * length)[:length]
    h = _hash(pw)
    assert h.startswith("$6$") == (length < 512)
    area.add_user("lena", pw, hash=h)
    s = session(options={"max-failures": "10"})
    s.expect_reply("USER lena", USER_OK)
    s.expect_reply("PASS " + pw[:-1], FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", "lena", pw), LOGGED_IN)
    s.quit()
    s = session()
    s.login("lena", pw)
    s.quit()


@pytest.mark.parametrize("length", [513, 600])
def test_password_over_limit_refused(session, area, length):
    """Over 512 octets: refused with the ordinary reply, even when the
    stored secret is exactly that password, and even when its first 512
    octets are some user's password (no truncation)."""
    pw = "y" * length
    area.add_user("otto", pw, hash="{PLAIN}" + pw)
    area.add_user("trunc", pw[:512], hash="{PLAIN}" + pw[:512])
    s = session(options={"max-failures": "10"})
    for name in ("otto", "trunc"):
        s.expect_reply("USER " + name, USER_OK)
        s.expect_reply("PASS " + pw, FAILED)
        s.expect_reply("AUTH PLAIN " + plain_ir("", name, pw), FAILED)
    s.login("trunc", pw[:512])
    s.quit()


def test_tab_and_newline_in_password(session, area):
    """A TAB (USER/PASS and PLAIN) or a newline (PLAIN only) in a password
    is one more octet of it, nothing else."""
    pw_tab = "tab\there\t"
    pw_nl = "line\none\r\nmore"
    area.add_user("tina", pw_tab, hash=_sha512(pw_tab))
    area.add_user("nell", pw_nl, hash=_sha512(pw_nl))
    area.add_user("line", "line", hash=_sha512("line"))
    s = session(options={"max-failures": "10"})
    s.expect_reply("USER tina", USER_OK)
    s.expect_reply("PASS tab here ", FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", "nell", "line"), FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", "line", pw_nl), FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", "nell", pw_nl), LOGGED_IN)
    s.quit()
    s = session()
    s.login("tina", pw_tab)
    s.quit()
    s = session()
    s.expect_reply("AUTH PLAIN " + plain_ir("", "tina", pw_tab), LOGGED_IN)
    s.quit()


# ---------------------------------------------------------------------------
# Pipelining across the boundary (DESIGN.md "Privilege flow": handoff_msg)

def test_pipelined_user_pass_stat_quit(session, alice):
    alice.maildir.add(b"Subject: x\r\n\r\n")
    s = session(greeting=False)
    s.send(b"USER alice\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n")
    assert s.read_until_eof() == (b"+OK POP3 server ready\r\n"
                                  + USER_OK.encode() + b"\r\n"
                                  b"+OK Logged in\r\n+OK 1 14\r\n+OK Bye\r\n")
    assert s.wait() == 0
    assert s.log().count("login ok user=alice") == 1


def test_pipelined_auth_plain_stat_quit(session, alice):
    alice.maildir.add(b"Subject: x\r\n\r\n")
    s = session()
    s.send("AUTH PLAIN %s\r\nSTAT\r\nQUIT\r\n"
           % plain_ir("", "alice", "alice-pw"))
    assert s.read_until_eof() == b"+OK Logged in\r\n+OK 1 14\r\n+OK Bye\r\n"


def test_pipelined_plain_continuation(session, alice):
    s = session()
    s.send("AUTH PLAIN\r\n%s\r\nSTAT\r\nQUIT\r\n"
           % plain_ir("", "alice", "alice-pw"))
    assert s.read_until_eof() == b"+ \r\n+OK Logged in\r\n+OK 0 0\r\n" \
        b"+OK Bye\r\n"


def test_pipelined_many_after_login(session, alice):
    """Far more than fits in one read after the PASS: every command is
    answered once, in order."""
    alice.maildir.add(b"Subject: x\r\n\r\n")
    n = 400
    s = session()
    s.send(b"USER alice\r\nPASS alice-pw\r\n" + b"NOOP\r\nSTAT\r\n" * n
           + b"QUIT\r\n")
    want = (USER_OK.encode() + b"\r\n+OK Logged in\r\n"
            + b"+OK\r\n+OK 1 14\r\n" * n + b"+OK Bye\r\n")
    assert s.read_until_eof() == want


@pytest.mark.parametrize("backend", ["unix", "pam"])
def test_pipelined_login_system_user(session, sysusers, pam_service,
                                     backend):
    u = sysusers.add("pipe-pw")
    u.maildir.add(b"Subject: x\r\n\r\n")
    opts = {"auth": backend}
    if backend == "pam":
        opts["pam-service"] = pam_service(PAM_UNIX_STACK)
    s = session(options=opts)
    s.send("USER %s\r\nPASS wrong\r\nUSER %s\r\nPASS pipe-pw\r\nSTAT\r\n"
           "QUIT\r\n" % (u.name, u.name))
    assert s.read_until_eof() == (USER_OK + "\r\n" + FAILED + "\r\n"
                                  + USER_OK + "\r\n+OK Logged in\r\n"
                                  "+OK 1 14\r\n+OK Bye\r\n").encode()
