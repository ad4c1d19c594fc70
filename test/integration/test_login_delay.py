"""Issue 4: max-failures and the `login failed` log lines (no password in
any log), LOGIN-DELAY (RFC 2449 §6.5, §8.1.2) and EXPIRE (§6.7)."""

import base64
import os
import time

import pytest

# sysusers, pam_service: fixtures, found by pytest in this module.
from authfixtures import (CAPA_FIRST, FAILED, LOGGED_IN, USER_OK,
                          apop_digest, failed_reasons, log_msgs, plain_ir,
                          sysusers)

DELAYED = "-ERR [LOGIN-DELAY] Minimum time between logins not reached"


def capa_lines(c):
    c.expect_reply("CAPA", CAPA_FIRST)
    return [l.decode() for l in c.read_multiline()]


# ---------------------------------------------------------------------------
# max-failures and the log

SECRETS = ["Pw-Zq81-right", "Pw-Zq81-wrong1", "Pw-Zq81-wrong2",
           "Pw-Zq81-wrong3"]


def test_max_failures_closes_after_third(server, area):
    """Three failures of three kinds: the session closes right after the
    third reply; the log has one `login failed` line each, with user,
    address and reason, and no password anywhere."""
    area.add_user("mia", SECRETS[0], scheme="yescrypt")
    srv = server(options={"sasl": "PLAIN"})
    c = srv.connect()
    c.expect_reply("USER mia", USER_OK)
    c.expect_reply("PASS " + SECRETS[1], FAILED)
    c.expect_reply("AUTH PLAIN " + plain_ir("", "mia", SECRETS[2]), FAILED)
    c.expect_reply("USER pt4ghost", USER_OK)
    c.sendline("PASS " + SECRETS[3])
    t = time.monotonic()
    assert c.read_until_eof(timeout=5) == (FAILED + "\r\n").encode()
    assert time.monotonic() - t < 1.0
    srv.wait_idle()
    log = srv.log()
    assert failed_reasons(log) == [
        ("mia", "127.0.0.1", "bad password"),
        ("mia", "127.0.0.1", "bad password"),
        ("pt4ghost", "127.0.0.1", "unknown user")], log
    for m in log_msgs(log):
        if m.startswith("login failed"):
            assert m.startswith("login failed user="), m
    for secret in SECRETS[1:]:
        assert secret not in log, log
        assert secret.encode().hex() not in log
    assert plain_ir("", "mia", SECRETS[2]) not in log
    assert "Zq81" not in log, log


def test_max_failures_counts_only_failed_logins(session, alice):
    """max-failures=2: a cancelled AUTH, bad base64, an unknown mechanism
    and `PASS` without USER are not failed logins."""
    s = session(options={"max-failures": "2"})
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply("*", "-ERR Authentication cancelled")
    s.expect_reply("AUTH PLAIN %%%%", "-ERR Invalid base64")
    s.expect_reply("AUTH FOO", "-ERR Unsupported authentication mechanism")
    s.expect_reply("PASS x", "-ERR USER first")
    s.expect_reply("USER alice", USER_OK)
    s.expect_reply("PASS wrong", FAILED)
    s.expect_reply("USER alice", USER_OK)
    s.sendline("PASS wrong-again")
    assert s.read_until_eof() == (FAILED + "\r\n").encode()
    assert s.wait() == 0


def test_max_failures_five(session, area, alice):
    s = session(options={"max-failures": "5", "apop": "yes"},
                greeting=False)
    stamp = s.reply().split(" ")[-1]
    for i in range(4):
        s.expect_reply("APOP alice " + apop_digest(stamp, "no%d" % i),
                       FAILED)
    s.sendline("APOP alice " + apop_digest(stamp, "no"))
    assert s.read_until_eof() == (FAILED + "\r\n").encode()
    s.wait()
    assert len(failed_reasons(s.log())) == 5
    for i in range(4):
        assert apop_digest(stamp, "no%d" % i) not in s.log()


def test_no_password_in_logs_after_login(session, area):
    """Nor does a successful login log its password, by any method."""
    pw = "Pw-Zq82-only-mine"
    area.add_user("ola", pw)
    for how in ("USER", "PLAIN", "CONT"):
        s = session()
        if how == "USER":
            s.login("ola", pw)
        elif how == "PLAIN":
            s.expect_reply("AUTH PLAIN " + plain_ir("ola", "ola", pw),
                           LOGGED_IN)
        else:
            s.sendline("AUTH PLAIN")
            s.expect("+ ")
            s.expect_reply(plain_ir("", "ola", pw), LOGGED_IN)
        s.quit()
        s.wait()
        assert "Zq82" not in s.log(), s.log()
        assert base64.b64encode(pw.encode())[:12].decode() not in s.log()


# ---------------------------------------------------------------------------
# LOGIN-DELAY

def _capa_auth(extra):
    return (["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
             "PIPELINING", "SASL PLAIN"] + extra + ["IMPLEMENTATION pop3d"])


def _capa_trans(extra):
    return (["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
            + extra + ["IMPLEMENTATION pop3d"])


def test_login_delay_capa(session, alice):
    s = session(options={"login-delay": "60"})
    assert capa_lines(s) == _capa_auth(["LOGIN-DELAY 60"])
    s.login("alice", "alice-pw")
    assert capa_lines(s) == _capa_trans(["LOGIN-DELAY 60"])
    s.quit()


def test_login_delay_absent_by_default(session, alice):
    s = session()
    assert capa_lines(s) == _capa_auth([])


def _record(area, user):
    """The LOGIN-DELAY record: STATE/UID/NAME.login (pop3d.conf(5))."""
    return area.state / str(user.uid) / (user.name + ".login")


def test_login_delay_enforced(session, area, alice, bob):
    opts = {"login-delay": "60", "max-failures": "10"}
    alice.maildir.add(b"Subject: x\r\n\r\n")
    s = session(options=opts, login=alice)
    s.expect_reply("STAT", "+OK 1 14")
    s.quit()
    rec = _record(area, alice)
    st = os.lstat(rec)
    assert st.st_uid == alice.uid
    # A wrong password still gets the [AUTH] reply; the right one the
    # [LOGIN-DELAY] reply, and the session ends.
    s = session(options=opts)
    s.expect_reply("USER alice", USER_OK)
    s.expect_reply("PASS wrong", FAILED)
    s.expect_reply("USER alice", USER_OK)
    s.sendline("PASS alice-pw")
    assert s.read_until_eof() == (DELAYED + "\r\n").encode()
    s.wait()
    assert "login refused user=alice reason=login-delay" in \
        log_msgs(s.log()), s.log()
    s = session(options=opts)
    s.sendline("AUTH PLAIN " + plain_ir("", "alice", "alice-pw"))
    assert s.read_until_eof() == (DELAYED + "\r\n").encode()
    # A refused login does not restart the clock.
    assert os.lstat(rec).st_mtime == st.st_mtime
    # Another user is not affected.
    s = session(options=opts, login=bob)
    s.quit()
    # Once the delay has passed, alice logs in again; the record file is
    # no message.
    old = time.time() - 61
    os.utime(rec, (old, old), follow_symlinks=False)
    s = session(options=opts, login=alice)
    s.expect_reply("STAT", "+OK 1 14")
    s.quit()
    assert os.lstat(rec).st_mtime > old + 30


def test_login_delay_not_yet_passed(session, area, alice):
    opts = {"login-delay": "60"}
    s = session(options=opts, login=alice)
    s.quit()
    rec = _record(area, alice)
    t = time.time() - 50
    os.utime(rec, (t, t), follow_symlinks=False)
    s = session(options=opts)
    s.expect_reply("USER alice", USER_OK)
    s.sendline("PASS alice-pw")
    assert s.read_until_eof() == (DELAYED + "\r\n").encode()


def test_login_delay_system_user(session, sysusers):
    u = sysusers.add("delay-pw")
    opts = {"auth": "unix", "login-delay": "60"}
    s = session(options=opts, login=u)
    s.quit()
    s = session(options=opts)
    s.expect_reply("USER " + u.name, USER_OK)
    s.sendline("PASS delay-pw")
    assert s.read_until_eof() == (DELAYED + "\r\n").encode()


# ---------------------------------------------------------------------------
# EXPIRE

@pytest.mark.parametrize("value,line", [("never", "EXPIRE NEVER"),
                                        ("30", "EXPIRE 30")])
def test_expire_capa(session, alice, value, line):
    s = session(options={"expire": value})
    assert capa_lines(s) == _capa_auth([line])
    s.login("alice", "alice-pw")
    assert capa_lines(s) == _capa_trans([line])
    s.quit()


def test_expire_and_login_delay_together(session, alice):
    s = session(options={"expire": "never", "login-delay": "900"})
    assert capa_lines(s) == _capa_auth(["LOGIN-DELAY 900", "EXPIRE NEVER"])
