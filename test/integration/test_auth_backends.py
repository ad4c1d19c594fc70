"""Issue 4: logins through the unix, pam and file backends with real
accounts (useradd + chpasswd -e, /etc/pam.d service files, users file
entries of every scheme), and the refusals each backend must make with
the one ordinary reply (DESIGN.md "Limits and why"; pop3d.conf(5)
"Authentication")."""

import os
import re
import subprocess

import pytest

# sysusers, pam_service: fixtures, found by pytest in this module.
from authfixtures import (FAILED, LOGGED_IN, PAM_UNIX_STACK, USER_OK,
                          failed_reasons, log_msgs, pam_service, plain_ir,
                          run, sysusers, wait_for)
from pop3lib import mkpasswd, proc_ids, proc_status

# The log's reason for a uid-0 account ("uid 0 refused", "uid 0 or gid 0
# refused"): a regular expression.
UID0_REASON = r"uid 0\b.*refused"
MSG = b"Subject: t\r\n\r\nbody\r\n"                 # 20 octets


def unix_opts(**more):
    o = {"auth": "unix"}
    o.update(more)
    return o


def pam_opts(service, **more):
    o = {"auth": "pam", "pam-service": service}
    o.update(more)
    return o


def _login_and_check(s, u, method="USER"):
    """Logs in (USER/PASS or AUTH PLAIN), checks STAT and the session
    process's credentials, quits."""
    if method == "USER":
        s.expect_reply("USER " + u.name, USER_OK)
        s.expect_reply("PASS " + u.password, LOGGED_IN)
    else:
        s.expect_reply("AUTH PLAIN " + plain_ir("", u.name, u.password),
                       LOGGED_IN)
    s.expect_reply("STAT", "+OK 1 20")
    pid = s.process_of_uid(u.uid)
    assert proc_ids(pid, "Uid") == [u.uid] * 4
    assert proc_ids(pid, "Gid") == [u.gid] * 4
    s.quit()
    assert s.wait() == 0
    want = "login ok user=%s addr=local method=%s" % (
        u.name, "USER" if method == "USER" else "SASL-PLAIN")
    assert want in log_msgs(s.log()), s.log()


# ---------------------------------------------------------------------------
# auth = unix

@pytest.mark.parametrize("method,prefix", [("yescrypt", "$y$"),
                                           ("sha512crypt", "$6$")])
@pytest.mark.parametrize("login", ["USER", "PLAIN"])
def test_unix_login(session, sysusers, method, prefix, login):
    u = sysusers.add("Unix-pw " + method, method)
    assert u.shadow()[1].startswith(prefix)
    u.maildir.add(MSG)
    s = session(options=unix_opts())
    _login_and_check(s, u, login)


def test_unix_supplementary_groups(session, sysusers):
    """A system user gets its groups (initgroups), not root's."""
    g1, gid1 = sysusers.add_group()
    g2, gid2 = sysusers.add_group()
    u = sysusers.add("groups-pw", groups=(g1, g2))
    u.maildir.add(MSG)
    s = session(options=unix_opts())
    s.login(u.name, u.password)
    pid = s.process_of_uid(u.uid)
    assert sorted(proc_ids(pid, "Groups")) == sorted([u.gid, gid1, gid2])
    st = proc_status(pid)
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    s.quit()


def test_unix_refusals(session, sysusers):
    """Locked, expired (account and password), wrong password, unknown
    user: one reply; the log tells them apart."""
    ok = sysusers.add("right-pw")
    locked = sysusers.add("right-pw")
    run(["usermod", "-L", locked.name])
    assert locked.shadow()[1].startswith("!")
    expired = sysusers.add("right-pw")
    run(["chage", "-E", "2000-01-01", expired.name])
    mustchange = sysusers.add("right-pw")
    run(["chage", "-d", "0", mustchange.name])
    pwold = sysusers.add("right-pw")
    run(["chage", "-d", "2000-01-01", "-M", "30", pwold.name])
    nopw = sysusers.add("x", method=None)      # useradd's "!" only
    cases = [(ok.name, "wrong-pw", "bad password"),
             (ok.name, "right-pw ", "bad password"),
             (locked.name, "right-pw", "locked"),
             (expired.name, "right-pw", "expired"),
             (mustchange.name, "right-pw", "expired"),
             (pwold.name, "right-pw", "expired"),
             (nopw.name, "x", "locked"),
             (nopw.name, "!", "locked"),
             ("pt4nosuchuser", "right-pw", "unknown user")]
    s = session(options=unix_opts(**{"max-failures": "20"}))
    for name, pw, _ in cases:
        s.expect_reply("USER " + name, USER_OK)
        s.expect_reply("PASS " + pw, FAILED)
    s.login(ok.name, "right-pw")
    s.quit()
    s.wait()
    got = failed_reasons(s.log())
    assert len(got) == len(cases), got
    for (name, _, reason), (gname, addr, greason) in zip(cases, got):
        assert gname == name and addr == "local"
        if reason is not None:
            assert greason == reason, (name, got)


def test_unix_account_expired_by_chage_E0(session, sysusers):
    """`chage -E 0` (shadow field 8 = 0, "expired on 1 January 1970") is
    the usual way to expire an account; pam_unix refuses it
    (test_pam_refusals), so must auth = unix."""
    u = sysusers.add("right-pw")
    u.maildir.add(MSG)
    run(["chage", "-E", "0", u.name])
    assert u.shadow()[7] == "0"
    s = session(options=unix_opts())
    s.expect_reply("USER " + u.name, USER_OK)
    s.expect_reply("PASS right-pw", FAILED)
    s.quit()
    s.wait()
    assert [g[2] for g in failed_reasons(s.log())] == ["expired"], s.log()


def test_unix_root_refused(session, sysusers):
    """uid 0 never logs in (allow-root = no).  root's own password is not
    touched: root with any password gets the ordinary reply, and a second
    uid-0 account with a known password is refused after a correct
    password, with the same reply."""
    toor = sysusers.add("toor-pw", uid0=True, maildir=False)
    assert toor.uid == 0
    s = session(options=unix_opts(**{"max-failures": "10"}))
    s.expect_reply("USER root", USER_OK)
    s.expect_reply("PASS not-roots-password", FAILED)
    s.expect_reply("USER " + toor.name, USER_OK)
    s.expect_reply("PASS toor-pw", FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", toor.name, "toor-pw"),
                   FAILED)
    s.quit()
    s.wait()
    got = failed_reasons(s.log())
    assert [g[0] for g in got] == ["root", toor.name, toor.name], got
    assert re.fullmatch(UID0_REASON, got[1][2]), got
    assert re.fullmatch(UID0_REASON, got[2][2]), got
    # No process of the tree ever served the maildrop as root: no
    # "login ok" at all.
    assert not [m for m in log_msgs(s.log()) if m.startswith("login ok")]


def test_unix_file_chain(session, sysusers, area):
    """auth = file unix: a user the file does not know is asked of unix;
    a file user's wrong password is final (not retried against unix)."""
    u = sysusers.add("sys-pw")
    u.maildir.add(MSG)
    # The same name in the file, with another password.
    area.add_user(u.name, "file-pw", uid=u.uid, gid=u.gid, maildir=False)
    other = sysusers.add("other-pw")
    other.maildir.add(MSG)
    s = session(options={"auth": "file,unix", "max-failures": "10"})
    s.expect_reply("USER " + u.name, USER_OK)
    s.expect_reply("PASS sys-pw", FAILED)
    s.login(other.name, "other-pw")
    s.expect_reply("STAT", "+OK 1 20")
    s.quit()
    s2 = session(options={"auth": "file,unix"})
    s2.login(u.name, "file-pw")
    s2.quit()


# ---------------------------------------------------------------------------
# auth = pam

@pytest.mark.parametrize("login", ["USER", "PLAIN"])
def test_pam_login(session, sysusers, pam_service, login):
    svc = pam_service(PAM_UNIX_STACK)
    u = sysusers.add("Pam-pw")
    u.maildir.add(MSG)
    s = session(options=pam_opts(svc))
    _login_and_check(s, u, login)


def test_pam_refusals(session, sysusers, pam_service):
    svc = pam_service(PAM_UNIX_STACK)
    ok = sysusers.add("right-pw")
    locked = sysusers.add("right-pw")
    run(["usermod", "-L", locked.name])
    expired = sysusers.add("right-pw")
    run(["chage", "-E", "0", expired.name])
    toor = sysusers.add("toor-pw", uid0=True, maildir=False)
    cases = [(ok.name, "wrong-pw", "bad password"),
             (locked.name, "right-pw", "bad password"),
             (expired.name, "right-pw", "expired"),
             (toor.name, "toor-pw", UID0_REASON),
             ("root", "not-roots-password", "bad password"),
             ("pt4nosuchuser", "right-pw", "unknown user")]
    s = session(options=pam_opts(svc, **{"max-failures": "20"}))
    for name, pw, _ in cases:
        s.expect_reply("USER " + name, USER_OK)
        s.expect_reply("PASS " + pw, FAILED)
    s.login(ok.name, "right-pw")
    s.quit()
    s.wait()
    got = failed_reasons(s.log())
    assert [g[0] for g in got] == [c[0] for c in cases], got
    for (name, _, reason), g in zip(cases, got):
        assert re.fullmatch(reason, g[2]), (name, got)


def test_pam_deny_refuses_correct_password(session, sysusers, pam_service):
    deny = pam_service("auth required pam_deny.so\n"
                       "account required pam_permit.so\n"
                       "session required pam_permit.so\n")
    u = sysusers.add("right-pw")
    s = session(options=pam_opts(deny))
    s.expect_reply("USER " + u.name, USER_OK)
    s.expect_reply("PASS right-pw", FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", u.name, "right-pw"), FAILED)
    s.quit()


def test_pam_acct_mgmt_is_asked(session, sysusers, pam_service):
    """pam_authenticate succeeding is not enough: the account check must
    pass too (pop3d.conf(5) "Authentication")."""
    svc = pam_service("auth required pam_unix.so\n"
                      "account required pam_deny.so\n"
                      "session required pam_permit.so\n")
    u = sysusers.add("right-pw")
    s = session(options=pam_opts(svc))
    s.expect_reply("USER " + u.name, USER_OK)
    s.expect_reply("PASS right-pw", FAILED)
    s.quit()
    s.wait()
    assert len(failed_reasons(s.log(), u.name)) == 1


def _pam_exec_script(area, name):
    out = area.path / (name + ".out")
    script = area.path / (name + ".sh")
    script.write_text("#!/bin/sh\n"
                      "printf '%%s rhost=%%s user=%%s\\n' \"$PAM_TYPE\" "
                      "\"$PAM_RHOST\" \"$PAM_USER\" >> %s\n" % out)
    os.chmod(script, 0o755)
    return script, out


def test_pam_rhost_and_session(server, area, sysusers, pam_service):
    """PAM_RHOST is the client's address (pop3d.conf(5)); the PAM session
    is opened at login and closed by root when the session ends."""
    script, out = _pam_exec_script(area, "pamexec")
    svc = pam_service("auth optional pam_exec.so quiet %s\n"
                      "auth required pam_unix.so\n"
                      "account required pam_unix.so\n"
                      "session optional pam_exec.so quiet %s\n"
                      "session required pam_permit.so\n" % (script, script))
    u = sysusers.add("rhost-pw")
    u.maildir.add(MSG)
    srv = server(options=pam_opts(svc))
    c = srv.connect()
    c.login(u.name, u.password)
    c.expect_reply("STAT", "+OK 1 20")
    c.quit()
    srv.wait_idle()
    assert wait_for(lambda: out.exists() and
                    out.read_text().count("\n") >= 3), \
        out.read_text() if out.exists() else "no pam_exec output"
    assert out.read_text().splitlines() == [
        "auth rhost=127.0.0.1 user=%s" % u.name,
        "open_session rhost=127.0.0.1 user=%s" % u.name,
        "close_session rhost=127.0.0.1 user=%s" % u.name]
    assert "login ok user=%s addr=127.0.0.1 method=USER" % u.name in \
        log_msgs(srv.log())


@pytest.mark.parametrize("backend", ["unix", "pam", "pam-nullok"])
def test_empty_password_account_refused(session, sysusers, pam_service,
                                        backend):
    """`passwd -d` leaves an empty hash: no login, not even with an empty
    password through AUTH PLAIN, and not even under a `nullok` PAM stack
    (pop3d passes PAM_DISALLOW_NULL_AUTHTOK)."""
    u = sysusers.add("x")
    u.maildir.add(MSG)
    run(["passwd", "-d", u.name])
    assert u.shadow()[1] == ""
    if backend == "unix":
        opts = unix_opts()
    else:
        nullok = " nullok" if backend == "pam-nullok" else ""
        opts = pam_opts(pam_service(
            "auth required pam_unix.so%s\n"
            "account required pam_unix.so\n"
            "session required pam_permit.so\n" % nullok))
    opts["max-failures"] = "10"
    s = session(options=opts)
    s.expect_reply("AUTH PLAIN " + plain_ir("", u.name, ""), FAILED)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply(plain_ir(u.name, u.name, ""), FAILED)
    s.expect_reply("USER " + u.name, USER_OK)
    s.expect_reply("PASS x", FAILED)
    s.quit()


def test_pam_service_missing_is_a_config_problem(pop3d_bin, area):
    p = subprocess.run([str(pop3d_bin), "-t", "-o", "auth=pam", "-o",
                        "pam-service=pop3d-test-does-not-exist"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    assert p.returncode == 1, p.stdout
    assert b"/etc/pam.d/pop3d-test-does-not-exist" in p.stdout, p.stdout


# ---------------------------------------------------------------------------
# auth = file

SCHEMES = [
    ("PLAIN", lambda pw: "{PLAIN}" + pw),
    ("yescrypt", lambda pw: mkpasswd(pw, "yescrypt")),
    ("CRYPT-yescrypt", lambda pw: "{CRYPT}" + mkpasswd(pw, "yescrypt")),
    ("sha512crypt", lambda pw: mkpasswd(pw, "sha512crypt")),
    ("SHA512-CRYPT", lambda pw: "{SHA512-CRYPT}" + mkpasswd(pw,
                                                            "sha512crypt")),
    ("bcrypt", lambda pw: mkpasswd(pw, "bcrypt")),
    ("BLF-CRYPT", lambda pw: "{BLF-CRYPT}" + mkpasswd(pw, "bcrypt")),
]


@pytest.mark.parametrize("scheme,make", SCHEMES, ids=[s[0] for s in SCHEMES])
def test_file_schemes(session, area, scheme, make):
    pw = "File pw " + scheme
    h = make(pw)
    if scheme in ("bcrypt", "BLF-CRYPT"):
        assert "$2b$" in h
    u = area.add_user("fu", pw, hash=h)
    u.maildir.add(MSG)
    s = session(options={"max-failures": "10"})
    s.expect_reply("USER fu", USER_OK)
    s.expect_reply("PASS " + pw + "x", FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("", "fu", pw[:-1]), FAILED)
    _login_and_check(s, u, "USER")
    s = session()
    _login_and_check(s, u, "PLAIN")
