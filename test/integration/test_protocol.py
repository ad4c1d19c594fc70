"""The POP3 dialogue (RFC 1939, RFC 2449, pop3d(8)): greeting, CAPA, login
(USER/PASS and AUTH PLAIN), failures, logs."""

import base64
import re
import statistics
import time

import pytest

CAPA_AUTH = (b"+OK Capability list follows\r\n"
             b"TOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
             b"PIPELINING\r\nSASL PLAIN\r\nIMPLEMENTATION pop3d\r\n.\r\n")
CAPA_TRANS = (b"+OK Capability list follows\r\n"
              b"TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
              b"PIPELINING\r\nIMPLEMENTATION pop3d\r\n.\r\n")
FAILED = "-ERR [AUTH] Authentication failed"
USER_OK = "+OK User name accepted, password please"


def test_greeting_is_first_and_exact(session):
    s = session(greeting=False)
    assert s.readline() == b"+OK POP3 server ready\r\n"
    # Nothing else is sent before the client speaks.
    assert s.is_open(0.3)


def test_greeting_key(session):
    s = session(options={"greeting": "mail.example.org ready"},
                greeting=False)
    s.expect("+OK mail.example.org ready")


def test_quit_in_authorization_state(session):
    s = session()
    s.expect_reply("QUIT", "+OK Bye")
    s.expect_eof()
    assert s.wait() == 0


def test_capa_authorization_state(session):
    s = session()
    s.sendline("CAPA")
    assert s.read_multiline_raw() == CAPA_AUTH


def test_capa_transaction_state(session, alice):
    s = session(login=alice)
    s.sendline("CAPA")
    assert s.read_multiline_raw() == CAPA_TRANS
    s.quit()


@pytest.mark.parametrize("verb", ["capa", "Capa", "cApA"])
def test_verbs_case_insensitive_capa(session, verb):
    s = session()
    s.sendline(verb)
    assert s.read_multiline_raw() == CAPA_AUTH


def test_verbs_case_insensitive_session(session, alice):
    alice.maildir.add(b"Subject: x\n\nbody\n")
    s = session()
    s.expect_reply("user alice", USER_OK)
    s.expect_reply("pAsS alice-pw", "+OK Logged in")
    s.expect_reply("stat", "+OK 1 20")
    s.expect_reply("List 1", "+OK 1 20")
    uidl = s.cmd("UIDL 1")
    assert uidl.startswith("+OK 1 ")
    assert s.cmd("uidl 1") == uidl
    s.sendline("retr 1")
    assert s.readline() == b"+OK 20 octets\r\n"
    assert s.read_multiline_raw() == b"Subject: x\r\n\r\nbody\r\n.\r\n"
    s.expect_reply("noop", "+OK")
    s.expect_reply("rset", "+OK")
    s.expect_reply("qUiT", "+OK Bye")
    s.expect_eof()


def test_bare_lf_command_lines(session, alice):
    alice.maildir.add(b"Subject: x\n\nbody\n")
    s = session()
    s.send(b"CAPA\n")
    assert s.read_multiline_raw() == CAPA_AUTH
    s.send(b"USER alice\n")
    s.expect(USER_OK)
    s.send(b"PASS alice-pw\n")
    s.expect("+OK Logged in")
    s.send(b"STAT\n")
    s.expect("+OK 1 20")
    s.send(b"RETR 1\n")
    s.expect("+OK 20 octets")
    assert s.read_multiline_raw() == b"Subject: x\r\n\r\nbody\r\n.\r\n"
    s.send(b"QUIT\n")
    s.expect("+OK Bye")
    s.expect_eof()


def test_user_pass_login_exact(session, alice):
    s = session()
    s.send(b"USER alice\r\n")
    assert s.readline() == b"+OK User name accepted, password please\r\n"
    s.send(b"PASS alice-pw\r\n")
    assert s.readline() == b"+OK Logged in\r\n"
    s.send(b"QUIT\r\n")
    assert s.read_until_eof() == b"+OK Bye\r\n"
    assert s.wait() == 0


def test_user_without_argument(session):
    s = session()
    s.expect_reply("USER", "-ERR Syntax error")
    s.expect_reply("CAPA", "+OK Capability list follows")
    s.read_multiline()


def test_pass_without_user(session, alice):
    s = session()
    s.expect_reply("PASS alice-pw", "-ERR USER first")
    # Still usable afterwards.
    s.login("alice", "alice-pw")


def test_pass_after_failure_needs_user_again(session, alice):
    # RFC 1939 §7: a failed PASS returns to the
    # start of AUTHORIZATION, so the name is forgotten.
    s = session()
    s.expect_reply("USER alice", USER_OK)
    s.expect_reply("PASS wrong", FAILED)
    s.expect_reply("PASS alice-pw", "-ERR USER first")


def test_pass_may_contain_spaces_and_tabs(session, area):
    pw = "with spaces\tand a tab  and trailing space "
    area.add_user("carol", pw, scheme="yescrypt")
    s = session()
    s.expect_reply("USER carol", USER_OK)
    s.expect_reply("PASS with spaces\tand a tab  and trailing space",
                   FAILED)
    s.expect_reply("USER carol", USER_OK)
    s.expect_reply("PASS " + pw, "+OK Logged in")
    s.quit()


@pytest.mark.parametrize("scheme,prefix", [
    ("PLAIN", None), ("yescrypt", ""), ("sha-512", ""), ("bcrypt", ""),
    ("yescrypt", "{CRYPT}"), ("sha-512", "{SHA512-CRYPT}"),
    ("bcrypt", "{BLF-CRYPT}"),
])
def test_password_schemes(session, area, scheme, prefix):
    from pop3lib import mkpasswd
    pw = "s3cret-%s" % scheme
    if prefix is None:
        u = area.add_user("dave", pw, scheme="PLAIN")
    else:
        u = area.add_user("dave", pw, hash=prefix + mkpasswd(pw, scheme))
    s = session(options={"max-failures": "5"})
    s.expect_reply("USER dave", USER_OK)
    s.expect_reply("PASS " + pw + "x", FAILED)
    s.expect_reply("USER dave", USER_OK)
    s.expect_reply("PASS " + pw[:-1], FAILED)
    s.login(u.name, pw)
    s.quit()


def test_long_password(session, area):
    pw = "p" * 500
    area.add_user("erin", pw, scheme="sha-512")
    s = session()
    s.login("erin", pw)
    s.quit()


def test_login_name_with_domain(session, area):
    u = area.add_user("frank@example.org", "frank-pw")
    u.maildir.add(b"Subject: d\n\n")
    s = session(login=u)
    s.expect_reply("STAT", "+OK 1 14")
    s.quit()


def test_login_name_length_limit(session, area):
    name128 = "n" * 128
    u = area.add_user(name128, "long-pw")
    s = session(login=u)
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()
    s = session()
    s.expect_reply("USER " + "n" * 129, USER_OK)
    s.expect_reply("PASS long-pw", FAILED)


def test_failures_identical(session, area, alice):
    """Unknown user, wrong password, disabled accounts, uid 0 and invalid
    names all get the same reply (DESIGN.md "Limits and why": the same
    reply and time for every failure)."""
    area.add_line("dis1:!:5101:5101::/nonexistent::")
    area.add_line("dis2:*:5102:5102::/nonexistent::")
    area.add_line("dis3::5103:5103::/nonexistent::")
    area.add_line("dis4:{PLAIN}:5104:5104::/nonexistent::")
    area.add_line("rooty:{PLAIN}pw:0:0::/root::")
    area.add_line("rootg:{PLAIN}pw:5105:0::/root::")
    cases = [("alice", "wrong"), ("alice", "alice-pw "),
             ("alice", " alice-pw"), ("nosuchuser", "alice-pw"),
             ("ALICE", "alice-pw"), ("dis1", "!"), ("dis1", "x"),
             ("dis2", "*"), ("dis3", "x"), ("dis4", "x"), ("rooty", "pw"),
             ("alice/../alice", "alice-pw"), ("./alice", "alice-pw")]
    s = session(options={"max-failures": "100"})
    for name, pw in cases:
        s.expect_reply("USER " + name, USER_OK)
        s.expect_reply("PASS " + pw, FAILED)
    s.quit()


def test_gid0_account_refused(session, area):
    # A group-0 virtual user would get root's group;
    # a careful server refuses it like uid 0 (allow-root, pop3d.conf(5)).
    area.add_line("rootg:{PLAIN}pw:5105:0::/root::")
    s = session()
    s.expect_reply("USER rootg", USER_OK)
    s.expect_reply("PASS pw", FAILED)


def test_max_failures_default_closes_after_third(session, alice):
    s = session()
    for i in range(2):
        s.expect_reply("USER alice", USER_OK)
        s.expect_reply("PASS bad%d" % i, FAILED)
    s.expect_reply("USER alice", USER_OK)
    s.sendline("PASS bad3")
    assert s.read_until_eof() == (FAILED + "\r\n").encode()


def test_max_failures_one(session, alice):
    s = session(options={"max-failures": "1"})
    s.expect_reply("USER nosuch", USER_OK)
    s.sendline("PASS x")
    assert s.read_until_eof() == (FAILED + "\r\n").encode()


def test_fail_delay(session, alice):
    s = session(options={"fail-delay": "1"})
    s.expect_reply("USER alice", USER_OK)
    t = time.monotonic()
    s.expect_reply("PASS wrong", FAILED)
    failed = time.monotonic() - t
    assert failed >= 0.9, failed
    s.expect_reply("USER alice", USER_OK)
    t = time.monotonic()
    s.expect_reply("PASS alice-pw", "+OK Logged in")
    ok = time.monotonic() - t
    assert ok < 0.9, ok


def test_unknown_user_costs_like_wrong_password(session, area):
    """A dummy check of the same cost for unknown users (auth/auth.h).  Median times of wrong-password and unknown-user failures
    against a yescrypt hash must be of the same order."""
    area.add_user("yves", "right-pw", scheme="yescrypt")

    def timed(name, n=5):
        s = session(options={"max-failures": "100"})
        out = []
        for _ in range(n):
            s.expect_reply("USER " + name, USER_OK)
            t = time.monotonic()
            s.expect_reply("PASS wrong-pw", FAILED)
            out.append(time.monotonic() - t)
        s.quit()
        return statistics.median(out)

    known = timed("yves")
    unknown = timed("nobody-like-this")
    assert unknown > 0.5 * known, (known, unknown)
    assert unknown < 3 * known + 0.05, (known, unknown)


# ---------------------------------------------------------------------------
# AUTH PLAIN (RFC 5034)

def _plain(authz, user, pw):
    return base64.b64encode(b"%s\0%s\0%s" % (authz, user, pw)).decode()


def test_auth_plain_initial_response(session, alice):
    s = session()
    s.expect_reply("AUTH PLAIN " + _plain(b"", b"alice", b"alice-pw"),
                   "+OK Logged in")
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()


def test_auth_plain_continuation(session, alice):
    s = session()
    s.sendline("AUTH PLAIN")
    assert s.readline() == b"+ \r\n"
    s.expect_reply(_plain(b"", b"alice", b"alice-pw"), "+OK Logged in")
    s.quit()


def test_auth_plain_authzid_same_as_user(session, alice):
    s = session()
    s.expect_reply("AUTH PLAIN " + _plain(b"alice", b"alice", b"alice-pw"),
                   "+OK Logged in")
    s.quit()


def test_auth_plain_failures(session, alice, bob):
    s = session(options={"max-failures": "10"})
    s.expect_reply("AUTH PLAIN " + _plain(b"", b"alice", b"wrong"), FAILED)
    s.expect_reply("AUTH PLAIN " + _plain(b"", b"nosuch", b"x"), FAILED)
    # Logging in as bob with alice's password, or as alice on bob's
    # behalf: no proxy authorisation.
    s.expect_reply("AUTH PLAIN " + _plain(b"bob", b"alice", b"alice-pw"),
                   FAILED)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply("*", "-ERR Authentication cancelled")
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply("!!!not base64", "-ERR Invalid base64")
    s.expect_reply("AUTH PLAIN %%%", "-ERR Invalid base64")
    s.login("alice", "alice-pw")
    s.quit()


@pytest.mark.parametrize("raw", [
    b"\0alice\0alice-pw\0", b"\0alice\0alice\0pw", b"\0alice\0\0",
    b"alice\0alice\0alice-pw\0x"])
def test_auth_plain_nul_in_password(session, alice, raw):
    """A NUL inside the decoded password (RFC 4616 forbids it) is an
    ordinary failure: same reply, the session goes on."""
    s = session()
    s.expect_reply("AUTH PLAIN " + base64.b64encode(raw).decode(), FAILED)
    s.login("alice", "alice-pw")
    s.quit()


def test_plaintext_auth_no(session, server, alice, require_option):
    """plaintext-auth = no: USER/PASS and AUTH PLAIN are neither offered
    nor accepted without TLS (a socketpair is not loopback), but still
    work from 127.0.0.1 (pop3d.conf(5) plaintext-auth: "except from
    loopback")."""
    require_option("plaintext-auth=no")
    s = session(options={"plaintext-auth": "no"})
    s.sendline("CAPA")
    capa = s.read_multiline_raw()
    assert b"\r\nUSER\r\n" not in capa
    assert b"SASL" not in capa
    r = s.cmd("USER alice")
    assert r.startswith("-ERR"), r
    assert not s.cmd("PASS alice-pw").startswith("+OK")
    assert s.cmd("AUTH PLAIN " + _plain(b"", b"alice", b"alice-pw")
                 ).startswith("-ERR")
    srv = server(options={"plaintext-auth": "no"})
    c = srv.connect()
    c.sendline("CAPA")
    assert c.read_multiline_raw() == CAPA_AUTH
    c.login("alice", "alice-pw")
    c.quit()


def test_apop_not_offered_by_default(session):
    s = session(greeting=False)
    greet = s.reply()
    assert greet == "+OK POP3 server ready"
    assert "<" not in greet
    r = s.cmd("APOP alice 0123456789abcdef0123456789abcdef")
    assert r.startswith("-ERR "), r
    assert "alice" not in r


# ---------------------------------------------------------------------------
# Logs

LOG_PREFIX = r"pop3d\[(\d+)\]: "


def _log_msgs(text):
    out = []
    for line in text.splitlines():
        m = re.match(LOG_PREFIX + "(.*)$", line)
        if m:
            out.append(m.group(2))
    return out


def test_log_lines(server, alice, bob):
    alice.maildir.add(b"Subject: a\r\n\r\none\r\n")        # 19 octets
    alice.maildir.add(b"Subject: b\r\n\r\ntwo two\r\n")    # 23 octets
    alice.maildir.add(b"Subject: c\r\n\r\n")               # 14 octets
    srv = server()
    c = srv.connect()
    c.expect_reply("USER bob", USER_OK)
    c.expect_reply("PASS nope", FAILED)
    c.expect_reply("USER ghost", USER_OK)
    c.expect_reply("PASS nope", FAILED)
    c.login("alice", "alice-pw")
    c.retr_raw(1)
    c.retr_raw(2)
    c.expect_reply("DELE 2", "+OK Message deleted")
    c.quit()
    srv.wait_idle()
    msgs = _log_msgs(srv.log())
    assert "connect from 127.0.0.1" in msgs, msgs
    failed = [m for m in msgs if m.startswith("login failed ")]
    assert len(failed) == 2, msgs
    assert re.fullmatch(r"login failed user=bob addr=127\.0\.0\.1 "
                        r"reason=\S.*", failed[0]), failed
    assert re.fullmatch(r"login failed user=ghost addr=127\.0\.0\.1 "
                        r"reason=\S.*", failed[1]), failed
    assert "login ok user=alice addr=127.0.0.1 method=USER" in msgs, msgs
    assert "logout user=alice retr=2/42 dele=1 kept=2/33" in msgs, msgs


def test_log_method_sasl_plain(server, alice):
    srv = server()
    c = srv.connect()
    c.expect_reply("AUTH PLAIN " + _plain(b"", b"alice", b"alice-pw"),
                   "+OK Logged in")
    c.quit()
    srv.wait_idle()
    msgs = _log_msgs(srv.log())
    assert "login ok user=alice addr=127.0.0.1 method=SASL-PLAIN" in msgs, \
        msgs


def test_no_password_in_logs(session, area):
    secret = "Zq9-SECRET-correct"
    wrong = "Zq9-SECRET-wrong"
    area.add_user("gina", secret, scheme="yescrypt")
    s = session()
    s.expect_reply("USER gina", USER_OK)
    s.expect_reply("PASS " + wrong, FAILED)
    s.expect_reply("AUTH PLAIN " + _plain(b"", b"gina", wrong.encode()),
                   FAILED)
    s.login("gina", secret)
    s.quit()
    s.wait()
    log = s.log_bytes()
    for needle in (secret, wrong, _plain(b"", b"gina", wrong.encode())):
        assert needle.encode() not in log
    assert b"Zq9" not in log
