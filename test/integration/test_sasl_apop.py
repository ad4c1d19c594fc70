"""Issue 4: AUTH (RFC 5034) with PLAIN (RFC 4616) and CRAM-MD5 (RFC 2195),
APOP (RFC 1939 §7), and what CAPA and the greeting advertise for them."""

import base64
import poplib
import re
import subprocess

import pytest

from authfixtures import (CAPA_FIRST, FAILED, LOGGED_IN, apop_digest,
                          cram_response, failed_reasons,
                          log_msgs, plain_ir)

CANCELLED = "-ERR Authentication cancelled"
BASE64 = "-ERR Invalid base64"
MECH = "-ERR Unsupported authentication mechanism"
TOO_LONG = "-ERR Line too long"
CONFIG_ERR = "-ERR [SYS/PERM] Server configuration error"
GREETING = "+OK POP3 server ready"
SASL_BOTH = {"sasl": "PLAIN CRAM-MD5"}
STAMP_RE = re.compile(r"\+OK POP3 server ready (<[!-;=?-~]+@[!-;=?-~]+>)")
# <NONCE.K@host>: root's per-session nonce (pid.random.time), a counter.
CHALLENGE_RE = re.compile(rb"<\d+\.\d+\.\d+\.\d+@[!-;=?-~]+>")


def capa_lines(s):
    s.expect_reply("CAPA", CAPA_FIRST)
    return [l.decode() for l in s.read_multiline()]


def capa_auth(sasl_line):
    out = ["TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
           "PIPELINING"]
    if sasl_line:
        out.append(sasl_line)
    return out + ["IMPLEMENTATION pop3d"]


# ---------------------------------------------------------------------------
# CAPA's SASL line

def test_capa_sasl_default_plain(session, alice):
    s = session()
    assert capa_lines(s) == capa_auth("SASL PLAIN")


def test_capa_sasl_plain_explicit(session, alice):
    s = session(options={"sasl": "PLAIN"})
    assert capa_lines(s) == capa_auth("SASL PLAIN")


def test_capa_sasl_plain_cram(session, alice):
    s = session(options=SASL_BOTH)
    assert capa_lines(s) == capa_auth("SASL PLAIN CRAM-MD5")
    s.login("alice", "alice-pw")
    # TRANSACTION: no USER, no SASL.
    assert "SASL PLAIN CRAM-MD5" not in capa_lines(s)
    s.quit()


def test_capa_sasl_cram_only(session, alice):
    s = session(options={"sasl": "CRAM-MD5"})
    assert capa_lines(s) == capa_auth("SASL CRAM-MD5")
    s.expect_reply("AUTH PLAIN " + plain_ir("", "alice", "alice-pw"), MECH)
    s.login("alice", "alice-pw")
    s.quit()


def test_cram_without_plain_secrets_is_a_config_problem(session, area,
                                                        pop3d_bin):
    area.add_user("yuri", "yuri-pw", scheme="yescrypt")
    p = subprocess.run(area.argv(pop3d_bin, SASL_BOTH, debug=False) + ["-t"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=10)
    assert p.returncode == 1, p.stdout
    assert b"CRAM-MD5" in p.stdout, p.stdout
    s = session(options=SASL_BOTH, greeting=False)
    s.expect(CONFIG_ERR)
    s.expect_eof()


# ---------------------------------------------------------------------------
# AUTH PLAIN

def test_plain_initial_response(session, alice):
    alice.maildir.add(b"Subject: x\r\n\r\n")
    s = session()
    s.expect_reply("AUTH PLAIN " + plain_ir("", "alice", "alice-pw"),
                   LOGGED_IN)
    s.expect_reply("STAT", "+OK 1 14")
    s.quit()


def test_plain_continuation(session, alice):
    s = session()
    s.sendline("AUTH PLAIN")
    assert s.readline() == b"+ \r\n"
    s.expect_reply(plain_ir("", "alice", "alice-pw"), LOGGED_IN)
    s.quit()


def test_plain_mechanism_name_case_insensitive(session, alice):
    s = session()
    s.expect_reply("auth plain " + plain_ir("", "alice", "alice-pw"),
                   LOGGED_IN)
    s.quit()


@pytest.mark.parametrize("authzid", ["", "alice"])
def test_plain_authzid_empty_or_same(session, alice, authzid):
    s = session()
    s.expect_reply("AUTH PLAIN " + plain_ir(authzid, "alice", "alice-pw"),
                   LOGGED_IN)
    s.quit()


def test_plain_authzid_other_user_fails(session, alice, bob):
    s = session(options={"max-failures": "10"})
    # alice's password, asking to act as bob, and bob's the other way.
    s.expect_reply("AUTH PLAIN " + plain_ir("bob", "alice", "alice-pw"),
                   FAILED)
    s.expect_reply("AUTH PLAIN " + plain_ir("alice", "bob", "bob-pw"),
                   FAILED)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply(plain_ir("bob", "alice", "alice-pw"), FAILED)
    s.login("alice", "alice-pw")
    s.quit()


def test_plain_failures(session, alice):
    s = session(options={"max-failures": "20"})
    bad = [plain_ir("", "alice", "wrong"),
           plain_ir("", "nosuch", "alice-pw"),
           plain_ir("", "", "alice-pw"),
           plain_ir("", "alice", ""),
           base64.b64encode(b"alice\0alice-pw").decode(),      # one NUL
           base64.b64encode(b"alicealice-pw").decode(),        # none
           "="]                                                # empty
    for ir in bad:
        s.expect_reply("AUTH PLAIN " + ir, FAILED)
    s.login("alice", "alice-pw")
    s.quit()
    s.wait()
    assert len(failed_reasons(s.log())) == len(bad)


def test_plain_password_with_nul_is_an_ordinary_failure(session, alice):
    """RFC 4616 §2: passwd is 1*SAFE, no NUL.  A fourth NUL must give the
    ordinary failure, not end the session: the pre-auth side must not
    hand the root side a message it will take for an attack."""
    s = session(options={"max-failures": "10"})
    ir = base64.b64encode(b"\0alice\0alice-pw\0junk").decode()
    s.expect_reply("AUTH PLAIN " + ir, FAILED)
    s.login("alice", "alice-pw")
    s.quit()
    s.wait()
    assert "malformed message" not in s.log(), s.log()


def test_plain_cancel(session, alice):
    """`*` cancels; cancelling is not a failed login (max-failures 3)."""
    s = session()
    for _ in range(4):
        s.sendline("AUTH PLAIN")
        s.expect("+ ")
        s.expect_reply("*", CANCELLED)
    s.login("alice", "alice-pw")
    s.quit()
    s.wait()
    assert failed_reasons(s.log()) == []


def test_plain_bad_base64(session, alice):
    s = session()
    s.expect_reply("AUTH PLAIN %%%", BASE64)
    s.expect_reply("AUTH PLAIN AGFsaWNl!", BASE64)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply("not base64 at all", BASE64)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.expect_reply("", BASE64)
    s.login("alice", "alice-pw")
    s.quit()


def test_plain_overlong(session, alice):
    """AUTH lines may be 1024 octets with CRLF; longer: -ERR Line too long
    (the initial response and the continuation line alike)."""
    s = session(options={"max-failures": "10"})
    # 1021 octets: "AAA" * 252, no NUL in it: an ordinary failure.
    s.send(b"AUTH PLAIN " + b"QUFB" * 252 + b"\r\n")
    s.expect(FAILED)
    s.send(b"AUTH PLAIN " + b"A" * 1012 + b"\r\n")       # 1025 octets
    s.expect(TOO_LONG)
    s.sendline("AUTH PLAIN")
    s.expect("+ ")
    s.send(b"A" * 1023 + b"\r\n")                        # 1025 octets
    s.expect(TOO_LONG)
    s.send(b"B" * 5000 + b"\r\n")
    s.expect(TOO_LONG)
    s.login("alice", "alice-pw")
    s.quit()


def test_auth_unknown_mechanism(session, alice):
    s = session(options={"max-failures": "10"})
    s.expect_reply("AUTH FOO", MECH)
    s.expect_reply("AUTH FOO AAAA", MECH)
    # Not configured: CRAM-MD5 is unsupported here too.
    s.expect_reply("AUTH CRAM-MD5", MECH)
    s.expect_reply("AUTH LOGIN", MECH)
    s.login("alice", "alice-pw")
    s.quit()


# ---------------------------------------------------------------------------
# CRAM-MD5

def _cram_challenge(s):
    s.sendline("AUTH CRAM-MD5")
    line = s.reply()
    assert line.startswith("+ "), line
    b64 = line[2:]
    raw = base64.b64decode(b64, validate=True)
    assert CHALLENGE_RE.fullmatch(raw), raw
    return b64


def test_cram_md5_login(server, alice):
    alice.maildir.add(b"Subject: x\r\n\r\n")
    srv = server(options=SASL_BOTH)
    c = srv.connect()
    ch = _cram_challenge(c)
    c.expect_reply(cram_response(ch, "alice", "alice-pw"), LOGGED_IN)
    c.expect_reply("STAT", "+OK 1 14")
    c.quit()
    srv.wait_idle()
    assert "login ok user=alice addr=127.0.0.1 method=SASL-CRAM-MD5" in \
        log_msgs(srv.log())


def test_cram_md5_uppercase_hex_accepted(session, alice):
    s = session(options=SASL_BOTH)
    ch = _cram_challenge(s)
    user, digest = base64.b64decode(cram_response(ch, "alice",
                                                  "alice-pw")).split(b" ")
    s.expect_reply(base64.b64encode(user + b" " + digest.upper()).decode(),
                   LOGGED_IN)
    s.quit()


def test_cram_md5_failures(session, area, alice):
    area.add_user("yuri", "yuri-pw", scheme="yescrypt")
    s = session(options=dict(SASL_BOTH, **{"max-failures": "20"}))
    challenges = set()
    cases = [("alice", "wrong-pw"), ("nosuch", "alice-pw"),
             ("yuri", "yuri-pw"), ("ALICE", "alice-pw")]
    for user, pw in cases:
        ch = _cram_challenge(s)
        challenges.add(ch)
        s.expect_reply(cram_response(ch, user, pw), FAILED)
    # Digest of another challenge (a replay) fails.
    old = _cram_challenge(s)
    challenges.add(old)
    s.expect_reply("*", CANCELLED)
    ch = _cram_challenge(s)
    assert ch != old
    challenges.add(ch)
    s.expect_reply(cram_response(old, "alice", "alice-pw"), FAILED)
    # Malformed responses: no space, empty, a digest of the wrong length.
    for resp in (b"alice", b"", b"alice " + b"0" * 31, b"alice " + b"0" * 33):
        _cram_challenge(s)
        s.expect_reply(base64.b64encode(resp).decode() or "=", FAILED)
    ch = _cram_challenge(s)
    s.expect_reply("*", CANCELLED)
    ch = _cram_challenge(s)
    s.expect_reply("%%%", BASE64)
    assert len(challenges) == len(cases) + 2, challenges
    ch = _cram_challenge(s)
    s.expect_reply(cram_response(ch, "alice", "alice-pw"), LOGGED_IN)
    s.quit()
    s.wait()
    reasons = failed_reasons(s.log())
    assert ("yuri", "local", "no plaintext secret") in reasons, reasons


def test_cram_md5_with_initial_response_refused(session, alice):
    s = session(options=SASL_BOTH)
    r = s.cmd("AUTH CRAM-MD5 " + base64.b64encode(b"alice x").decode())
    assert r.startswith("-ERR "), r
    s.login("alice", "alice-pw")
    s.quit()


# ---------------------------------------------------------------------------
# APOP

def _stamp(s):
    g = s.reply()
    m = STAMP_RE.fullmatch(g)
    assert m, g
    return m.group(1)


def test_apop_login(server, alice):
    alice.maildir.add(b"Subject: x\r\n\r\n")
    srv = server(options={"apop": "yes"})
    c = srv.connect(greeting=False)
    stamp = _stamp(c)
    c.expect_reply("APOP alice " + apop_digest(stamp, "alice-pw"), LOGGED_IN)
    c.expect_reply("STAT", "+OK 1 14")
    c.quit()
    srv.wait_idle()
    assert "login ok user=alice addr=127.0.0.1 method=APOP" in \
        log_msgs(srv.log())


def test_apop_stamps_unique(session, alice):
    stamps = set()
    for _ in range(3):
        s = session(options={"apop": "yes"}, greeting=False)
        stamps.add(_stamp(s))
        s.quit()
    assert len(stamps) == 3, stamps


def test_apop_failures(session, area, alice):
    area.add_user("yuri", "yuri-pw", scheme="yescrypt")
    old = session(options={"apop": "yes"}, greeting=False)
    old_stamp = _stamp(old)
    old.quit()
    s = session(options={"apop": "yes", "max-failures": "20"},
                greeting=False)
    stamp = _stamp(s)
    cases = ["alice " + apop_digest(stamp, "wrong-pw"),
             "alice " + apop_digest(old_stamp, "alice-pw"),      # replay
             "nosuch " + apop_digest(stamp, "alice-pw"),
             "yuri " + apop_digest(stamp, "yuri-pw"),
             "alice " + apop_digest(stamp, "alice-pw")[:31],
             "alice " + apop_digest(stamp, "alice-pw") + "0",
             "alice zz" + apop_digest(stamp, "alice-pw")[2:]]
    for args in cases:
        s.expect_reply("APOP " + args, FAILED)
    s.expect_reply("APOP alice", "-ERR Syntax error")
    s.expect_reply("APOP " + "alice " + apop_digest(stamp, "alice-pw"),
                   LOGGED_IN)
    s.quit()
    s.wait()
    reasons = failed_reasons(s.log())
    assert len(reasons) == len(cases), reasons
    assert ("yuri", "local", "no plaintext secret") in reasons, reasons


def test_apop_off(session, alice):
    s = session(greeting=False)
    s.expect(GREETING)
    stamp = "<1.2.3@host>"
    s.expect_reply("APOP alice " + apop_digest(stamp, "alice-pw"),
                   "-ERR Unknown command")
    s.login("alice", "alice-pw")
    s.quit()
    s2 = session(options={"apop": "no"}, greeting=False)
    s2.expect(GREETING)
    s2.expect_reply("APOP alice " + "0" * 32, "-ERR Unknown command")


def test_apop_without_plain_secret_is_a_config_problem(session, area,
                                                       pop3d_bin):
    area.add_user("yuri", "yuri-pw", scheme="yescrypt")
    p = subprocess.run(area.argv(pop3d_bin, {"apop": "yes"}, debug=False)
                       + ["-t"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=10)
    assert p.returncode == 1, p.stdout
    assert b"apop" in p.stdout, p.stdout
    s = session(options={"apop": "yes"}, greeting=False)
    s.expect(CONFIG_ERR)
    s.expect_eof()


def test_apop_with_plain_secret_config_ok(area, alice, pop3d_bin):
    p = subprocess.run(area.argv(pop3d_bin, {"apop": "yes"}, debug=False)
                       + ["-t"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=10)
    assert p.returncode == 0, p.stdout


def test_apop_poplib(server, alice):
    """Python's poplib as a real APOP client."""
    alice.maildir.add(b"Subject: p\r\n\r\nhello\r\n")
    srv = server(options={"apop": "yes"})
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    assert STAMP_RE.fullmatch(p.getwelcome().decode())
    assert p.apop("alice", "alice-pw") == b"+OK Logged in"
    assert p.stat() == (1, 21)
    resp, lines, octets = p.retr(1)
    assert lines == [b"Subject: p", b"", b"hello"]
    assert p.quit() == b"+OK Bye"
    p2 = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    with pytest.raises(poplib.error_proto) as e:
        p2.apop("alice", "wrong-pw")
    assert e.value.args[0] == FAILED.encode()
    p2.quit()
