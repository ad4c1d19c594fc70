"""Limits and resources: line lengths, a 1 MiB line, pipelining (also
across the privilege boundary), idle and write timeouts, streaming a
50 MiB message in bounded memory, no Nagle stalls."""

import subprocess
import time

import pytest

from pop3lib import Hasher, pop_size, vm_hwm_kib, wire_form

USER_OK = "+OK User name accepted, password please"
FAILED = "-ERR [AUTH] Authentication failed"
TOO_LONG = "-ERR Line too long"
CAPA_FIRST = "+OK Capability list follows"


def _capa_ok(s):
    s.expect_reply("CAPA", CAPA_FIRST)
    s.read_multiline()


# ---------------------------------------------------------------------------
# Line lengths (RFC 2449 §4: 255 octets including CRLF)

def test_line_255_ok_256_too_long(session):
    s = session()
    s.send(b"USER " + b"a" * 248 + b"\r\n")          # 255 octets
    s.expect(USER_OK)
    s.send(b"USER " + b"a" * 249 + b"\r\n")          # 256 octets
    s.expect(TOO_LONG)
    _capa_ok(s)


def test_300_octet_command_then_next_works(session, alice):
    s = session(login=alice)
    s.send(b"NOOP " + b"x" * 293 + b"\r\n")
    s.expect(TOO_LONG)
    s.expect_reply("NOOP", "+OK")
    # The discarded rest of the line was not taken as a command.
    s.send(b"STAT " + b"y" * 250 + b"RSET\r\n")
    s.expect(TOO_LONG)
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()


def test_pass_line_1024_limit(session, alice):
    s = session(options={"max-failures": "10"})
    s.expect_reply("USER alice", USER_OK)
    s.send(b"PASS " + b"p" * 1017 + b"\r\n")         # 1024 octets
    s.expect(FAILED)
    s.expect_reply("USER alice", USER_OK)
    s.send(b"PASS " + b"p" * 1018 + b"\r\n")         # 1025 octets
    s.expect(TOO_LONG)
    s.login("alice", "alice-pw")
    s.quit()


def test_auth_line_1024_limit(session, alice):
    s = session(options={"max-failures": "10"})
    s.send(b"AUTH PLAIN " + b"A" * 1012 + b"\r\n")    # 1025 octets
    s.expect(TOO_LONG)
    _capa_ok(s)
    s.login("alice", "alice-pw")
    s.quit()


@pytest.mark.parametrize("verb", [b"USER ", b"PASS ", b"APOP ",
                                  b"AUTH PLAIN ", b"AUTH ", b"XYZZY "])
def test_argument_lengths(session, alice, verb):
    """Arguments of 0..65,536 octets: one reply line each,
    the session goes on (and no sanitizer report: see conftest)."""
    s = session(options={"max-failures": "100"})
    for n in (0, 1, 127, 128, 129, 250, 251, 252, 500, 511, 512, 513,
              1000, 1013, 1014, 1015, 1016, 1017, 1018, 1019, 2048, 4096,
              65536):
        if verb == b"PASS ":
            s.expect_reply("USER alice", USER_OK)
        s.send(verb + b"z" * n + b"\r\n")
        r = s.reply()
        assert r.startswith(("-ERR ", "+OK ", "+ ")) or r in ("+OK",
                                                             "+"), r
        if r.startswith("+ ") or r == "+":
            s.expect_reply("*", "-ERR Authentication cancelled")
        if r == USER_OK and verb != b"USER ":
            raise AssertionError(r)
        _capa_ok(s)
    s.login("alice", "alice-pw")
    s.quit()


# ---------------------------------------------------------------------------
# A 1 MiB line without LF (DESIGN.md "Limits and why")

MIB = 1 << 20


def _huge_line(s, proc_pid, head, then):
    """Sends head + 1 MiB without LF, samples the peak RSS of proc_pid,
    ends the line, and checks one -ERR and then the (command, reply)
    pairs of `then`."""
    s.send(head + b"A" * MIB)
    time.sleep(0.2)
    hwm = vm_hwm_kib(proc_pid)
    s.send(b"\r\n")
    s.expect(TOO_LONG)
    for cmd, reply in then:
        s.expect_reply(cmd, reply)
    assert s.is_open(0.1)
    return hwm


def test_huge_line_before_login(session, alice, record_property):
    s = session()
    pid = s.preauth_process()
    hwm = _huge_line(s, pid, b"USER ", [("USER alice", USER_OK)])
    record_property("preauth_vmhwm_kib", hwm)
    assert hwm < 16 * 1024, hwm
    hwm = _huge_line(s, pid, b"PASS ", [("USER alice", USER_OK),
                                        ("PASS alice-pw", "+OK Logged in")])
    assert hwm < 16 * 1024, hwm
    s.quit()


def test_huge_line_after_login(session, alice, record_property):
    s = session(login=alice)
    pid = s.process_of_uid(alice.uid)
    hwm = _huge_line(s, pid, b"", [("NOOP", "+OK")])
    record_property("session_vmhwm_kib", hwm)
    assert hwm < 16 * 1024, hwm
    hwm = _huge_line(s, pid, b"RETR 1 ", [("STAT", "+OK 0 0")])
    assert hwm < 16 * 1024, hwm
    s.quit()


def test_many_commands_in_one_write(session, alice):
    """5,000 commands in one write are all answered, in order."""
    s = session(login=alice)
    n = 5000
    s.send(b"NOOP\r\n" * n)
    for _ in range(n):
        s.expect("+OK")
    s.quit()


# ---------------------------------------------------------------------------
# Pipelining (RFC 2449 PIPELINING)

def test_pipelining_100_commands(session, alice):
    m1 = b"Subject: one\n\n1\n"
    m2 = b"Subject: two\n\n.2\n"
    alice.maildir.add(m1)
    alice.maildir.add(m2)
    s = session(login=alice)
    uid2 = s.cmd("UIDL 2")
    cmds, want = [], []
    for i in range(20):
        cmds += ["NOOP", "STAT", "LIST 1", "UIDL 2", "LIST 2"]
        want += ["+OK", "+OK 2 %d" % (pop_size(m1) + pop_size(m2)),
                 "+OK 1 %d" % pop_size(m1), uid2,
                 "+OK 2 %d" % pop_size(m2)]
    s.send("".join(c + "\r\n" for c in cmds))
    got = [s.reply() for _ in cmds]
    assert got == want
    assert s.is_open(0.1)
    s.quit()


def test_pipelining_multiline(session, alice):
    m1 = b"Subject: one\n\n.\n..\n"
    alice.maildir.add(m1)
    s = session(login=alice)
    w = wire_form(m1)
    n = pop_size(m1)
    block = (b"+OK 1 messages (%d octets)\r\n1 %d\r\n.\r\n" % (n, n)
             + b"+OK %d octets\r\n" % n + w + b".\r\n"
             + b"+OK\r\n" + wire_form(m1, 0) + b".\r\n"
             + b"+OK\r\n")
    s.send(b"LIST\r\nRETR 1\r\nTOP 1 0\r\nNOOP\r\n" * 50)
    assert s.read_exact(len(block) * 50) == block * 50
    s.quit()


def _login_pipeline(session, alice, before_greeting):
    m1 = b"Subject: one\n\nbody\n"
    name = alice.maildir.add(m1).name
    w = wire_form(m1)
    s = session(greeting=False)
    if not before_greeting:
        s.expect("+OK POP3 server ready")
    s.send(b"CAPA\r\nUSER alice\r\nPASS alice-pw\r\nSTAT\r\nLIST\r\n"
           b"RETR 1\r\nDELE 1\r\nDELE 1\r\nQUIT\r\n")
    want = b"" if not before_greeting else b"+OK POP3 server ready\r\n"
    from test_protocol import CAPA_AUTH
    want += (CAPA_AUTH + b"+OK User name accepted, password please\r\n"
             b"+OK Logged in\r\n" + b"+OK 1 %d\r\n" % len(w)
             + b"+OK 1 messages (%d octets)\r\n1 %d\r\n.\r\n" % (len(w),
                                                                len(w))
             + b"+OK %d octets\r\n" % len(w) + w + b".\r\n"
             + b"+OK Message deleted\r\n-ERR Message is deleted\r\n"
             + b"+OK Bye\r\n")
    assert s.read_until_eof() == want
    assert s.wait() == 0
    assert alice.maildir.find(name) is None
    assert s.log().count("login ok user=alice") == 1


def test_pipelined_login_after_greeting(session, alice):
    _login_pipeline(session, alice, before_greeting=False)


def test_pipelined_login_before_greeting(session, alice):
    _login_pipeline(session, alice, before_greeting=True)


def test_pipelined_failure_then_login(session, alice):
    alice.maildir.add(b"Subject: x\n\n")
    s = session()
    s.send(b"USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS alice-pw\r\n"
           b"STAT\r\nQUIT\r\n")
    assert s.read_until_eof() == (
        b"+OK User name accepted, password please\r\n"
        b"-ERR [AUTH] Authentication failed\r\n"
        b"+OK User name accepted, password please\r\n"
        b"+OK Logged in\r\n+OK 1 14\r\n+OK Bye\r\n")


def test_pipelined_auth_plain(session, alice):
    import base64
    ir = base64.b64encode(b"\0alice\0alice-pw")
    s = session()
    s.send(b"AUTH PLAIN " + ir + b"\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
    assert s.read_until_eof() == b"+OK Logged in\r\n+OK 0 0\r\n+OK\r\n" \
        b"+OK Bye\r\n"


def test_commands_split_into_single_bytes(session, alice):
    alice.maildir.add(b"Subject: x\n\n")
    s = session()
    data = b"USER alice\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n"
    for i in range(len(data)):
        s.send(data[i:i + 1])
        time.sleep(0.002)
    assert s.read_until_eof() == (
        b"+OK User name accepted, password please\r\n"
        b"+OK Logged in\r\n+OK 1 14\r\n+OK Bye\r\n")


# ---------------------------------------------------------------------------
# Timeouts

INACTIVE = b"-ERR Disconnected for inactivity\r\n"


def test_idle_timeout_before_login(session):
    t = time.monotonic()
    s = session(options={"timeout": "2"})
    assert s.read_until_eof(timeout=10) == INACTIVE
    took = time.monotonic() - t
    assert 1.5 <= took < 5, took


def test_idle_timeout_after_login(session, alice):
    s = session(options={"timeout": "2"}, login=alice)
    t = time.monotonic()
    assert s.read_until_eof(timeout=10) == INACTIVE
    took = time.monotonic() - t
    assert 1.5 <= took < 5, took


def test_idle_timeout_partial_line(session, alice):
    """Bytes without a line end do not keep the session alive forever
    (a slow-drip client): the timeout still ends it."""
    s = session(options={"timeout": "2"}, login=alice)
    t = time.monotonic()
    s.send(b"NO")
    assert s.read_until_eof(timeout=10) == INACTIVE
    assert time.monotonic() - t < 5


def test_activity_resets_idle_timer(session, alice):
    s = session(options={"timeout": "2"}, login=alice)
    for _ in range(4):
        time.sleep(1)
        s.expect_reply("NOOP", "+OK")
    s.quit()


def test_client_that_stops_reading_is_dropped(session, alice):
    """A RETR that is never read ends after the timeout,
    without buffering the message."""
    alice.maildir.add(b"Subject: big\n\n" + (b"x" * 76 + b"\n") * (8 * MIB // 77))
    s = session(options={"timeout": "2"}, login=alice)
    pid = s.process_of_uid(alice.uid)
    s.sendline("RETR 1")
    t = time.monotonic()
    time.sleep(1)
    hwm = vm_hwm_kib(pid)
    try:
        s.proc.wait(12)
    except subprocess.TimeoutExpired:
        raise AssertionError("session still running 12 s after it "
                             "stopped being read")
    assert time.monotonic() - t < 12
    assert hwm < 16 * 1024, hwm


# ---------------------------------------------------------------------------
# Streaming a large message

def test_retr_50_mib_streamed(session, alice, record_property):
    line = b"%s0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
    lines = [line % (b"." if i % 997 == 0 else b"-") for i in range(800000)]
    data = b"Subject: large\nX-Test: 50 MiB\n\n" + b"".join(lines)
    assert len(data) > 50 * MIB
    del lines
    alice.maildir.add(data)
    want = wire_form(data)
    want_hash = Hasher()
    want_hash.update(want)
    wire_len = len(want)
    size = pop_size(data)
    assert size == wire_len - 803         # RFC 1939 §11: stuffing not counted
    del want, data
    s = session(login=alice)
    pid = s.process_of_uid(alice.uid)
    s.expect_reply("LIST 1", "+OK 1 %d" % size)
    t = time.monotonic()
    s.expect_reply("RETR 1", "+OK %d octets" % size)
    got = Hasher()
    s.stream(wire_len, got.update)
    s.expect(".")
    took = time.monotonic() - t
    hwm = vm_hwm_kib(pid)
    record_property("retr_50mib_vmhwm_kib", hwm)
    record_property("retr_50mib_seconds", round(took, 3))
    print("50 MiB RETR: %.2f s, session VmHWM %d KiB" % (took, hwm))
    assert got.digest() == want_hash.digest()
    assert hwm < 32 * 1024, hwm
    s.expect_reply("NOOP", "+OK")
    s.quit()


def test_many_messages(session, alice, record_property):
    md = alice.maildir
    n = 3000
    msg = b"Subject: m\n\nbody\n"
    for i in range(n):
        md.add(msg)
    t = time.monotonic()
    s = session(login=alice)
    s.sendline("UIDL")
    s.expect("+OK")
    uids = s.read_multiline()
    took = time.monotonic() - t
    assert len(uids) == n
    pid = s.process_of_uid(alice.uid)
    hwm = vm_hwm_kib(pid)
    record_property("uidl_3000_seconds", round(took, 3))
    record_property("uidl_3000_vmhwm_kib", hwm)
    assert hwm < 16 * 1024, hwm
    assert took < 5, took
    s.expect_reply("STAT", "+OK %d %d" % (n, n * pop_size(msg)))
    s.quit()


# ---------------------------------------------------------------------------
# Nagle + delayed ACK (session/io.c)

def test_no_nagle_stall_over_tcp(server, alice):
    for i in range(5):
        alice.maildir.add(b"Subject: %d\n\n" % i + b"line\n" * (i * 300))
    srv = server()
    c = srv.connect(login=alice)
    t = time.monotonic()
    for k in range(60):
        i = k % 5 + 1
        c.retr_raw(i)
        if k % 3 == 0:
            c.sendline("LIST")
            c.read_multiline_raw()
    took = time.monotonic() - t
    c.quit()
    # 60 RETRs and 20 LISTs: milliseconds normally; a 40 ms stall on
    # each would take seconds.
    assert took < 1.0, took
