"""Maildir end to end: exact octets of STAT/LIST/RETR/TOP/UIDL for awkward
messages, deletion only at QUIT (and the Maildir++ maildirsize line it
appends), UIDL stability, skipped entries,
[IN-USE] locking, vanished messages, refused maildrops."""

import os
import re
import signal
import stat

import pytest

from pop3lib import pop_size, wire_form

# (id, stored bytes).  Each must come back byte-exact in wire form.
MESSAGES = [
    ("lf", b"From: a@example.org\nSubject: lf\n\nline one\nline two\n"),
    ("crlf", b"From: a@example.org\r\nSubject: crlf\r\n\r\n"
             b"line one\r\nline two\r\n"),
    ("dots", b"Subject: dots\n\n.\n..\n.x\n...\n. \nend\n"),
    ("lone-dot-last", b"Subject: lone dot\n\nbody\n.\n"),
    ("dots-crlf", b"Subject: dots crlf\r\n\r\n.\r\n..\r\n.x\r\n"),
    ("no-final-newline", b"Subject: no newline\n\nlast line"),
    ("no-final-newline-dot", b"Subject: nfn dot\n\n."),
    ("no-final-newline-crlf", b"Subject: nfn crlf\r\n\r\nlast\r\nline"),
    ("8bit", b"Subject: 8bit \xe9\xff\n\n" + bytes(range(0x80, 0x100)) +
             b"\n\xc3\xa9t\xc3\xa9\n"),
    ("nul", b"Subject: nul\n\na\x00b\n\x00\n\x00.\n\x00"),
    ("bare-cr", b"Subject: cr\n\na\rb\n\r\nc\rd\r\ne\r"),
    ("cr-only-lines", b"Subject: crs\n\n\r\r\nx\r\r\r\n.\r\n"),
    ("mixed-endings", b"Subject: mixed\r\n\nA\r\nB\nC\r\n\n"),
    ("header-only", b"Subject: header only\nX-A: b\n"),
    ("header-only-nfn", b"Subject: header only\nX-A: b"),
    ("dot-header", b".Subject: dot first\n\n.body\n"),
    ("blank-lines", b"\n\n\n"),
    ("x-uidl-header", b"X-UIDL: x-uidl-value-42\nSubject: x-uidl\n\nbody\n"),
    ("long-line", b"Subject: long\n\n" + b"y" * 5000 + b"\n"),
]
IDS = [m[0] for m in MESSAGES]


def _stat_of(msgs):
    return "+OK %d %d" % (len(msgs), sum(pop_size(m) for m in msgs))


@pytest.mark.parametrize("data", [m[1] for m in MESSAGES], ids=IDS)
def test_retr_exact(session, alice, data):
    alice.maildir.add(b"Subject: first\n\nfirst\n")
    alice.maildir.add(data)
    wire = wire_form(data)
    size = pop_size(data)
    s = session(login=alice)
    s.expect_reply("LIST 2", "+OK 2 %d" % size)
    s.sendline("RETR 2")
    raw = s.read_exact(len(b"+OK %d octets\r\n" % size) + len(wire) + 3)
    assert raw == b"+OK %d octets\r\n" % size + wire + b".\r\n"
    # RFC 1939 §11: LIST's size is what RETR sent before the final "."
    # line, less the byte-stuffing: what the client stores.
    if b"\r" not in data.replace(b"\r\n", b""):
        assert b"\r\r\n" not in raw
    # The next reply is not disturbed by anything in the message.
    s.expect_reply("NOOP", "+OK")
    s.quit()


@pytest.mark.parametrize("data", [m[1] for m in MESSAGES], ids=IDS)
@pytest.mark.parametrize("k", [0, 1, 2, 1000])
def test_top_exact(session, alice, data, k):
    alice.maildir.add(data)
    s = session(login=alice)
    s.sendline("TOP 1 %d" % k)
    s.expect("+OK")
    assert s.read_multiline_raw() == wire_form(data, k) + b".\r\n"
    s.expect_reply("NOOP", "+OK")
    s.quit()


def test_top_examples():
    """The reference wire_form itself, on a hand-checked example."""
    m = b"A: 1\nB: 2\n\nl1\n.l2\nl3"
    assert wire_form(m, 0) == b"A: 1\r\nB: 2\r\n\r\n"
    assert wire_form(m, 2) == b"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n"
    assert wire_form(m, 9) == wire_form(m) == \
        b"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n"
    assert wire_form(b"a\r\nb") == b"a\r\nb\r\n"
    assert wire_form(b"a\rb\r") == b"a\rb\r\r\n"


def test_all_messages_stat_list_uidl(session, alice):
    datas = [m[1] for m in MESSAGES]
    for d in datas:
        alice.maildir.add(d)
    s = session(login=alice)
    s.expect_reply("STAT", _stat_of(datas))
    total = sum(pop_size(d) for d in datas)
    s.sendline("LIST")
    want = ["+OK %d messages (%d octets)" % (len(datas), total)]
    want += ["%d %d" % (i, pop_size(d))
             for i, d in enumerate(datas, 1)]
    assert s.read_multiline_raw() == "".join(
        l + "\r\n" for l in want + ["."]).encode()
    for i, d in enumerate(datas, 1):
        s.expect_reply("LIST %d" % i, "+OK %d %d" % (i, pop_size(d)))
    s.sendline("UIDL")
    s.expect("+OK")
    lines = s.read_multiline()
    assert [l.split(b" ")[0] for l in lines] == \
        [b"%d" % i for i in range(1, len(datas) + 1)]
    uids = [l.split(b" ", 1)[1] for l in lines]
    for u in uids:
        assert re.fullmatch(rb"[\x21-\x7e]{1,70}", u), u
    assert len(set(uids)) == len(uids)
    assert b"x-uidl-value-42" not in uids   # not the X-UIDL header
    for i, u in enumerate(uids, 1):
        s.expect_reply("UIDL %d" % i, "+OK %d %s" % (i, u.decode()))
    # Every RETR agrees with LIST; pipelined in one write.
    s.send("".join("RETR %d\r\n" % i for i in range(1, len(datas) + 1)))
    for i, d in enumerate(datas, 1):
        w = wire_form(d)
        s.expect("+OK %d octets" % pop_size(d))
        assert s.read_exact(len(w) + 3) == w + b".\r\n"
    s.quit()


def test_file_grown_after_list_is_not_served(session, alice):
    """A message file that grew after its size was given (LIST, or the
    +OK of RETR) is not sent whole under the old size: the client gets at
    most the announced octets and no final ".", then the connection
    closes; a file that shrank likewise."""
    m = b"Subject: grow\n\n.dot\nbody\n"
    path = alice.maildir.add(m)
    alice.maildir.add(b"Subject: two\n\ntwo\n")
    s = session(login=alice)
    s.expect_reply("LIST 1", "+OK 1 %d" % pop_size(m))
    with open(path, "ab") as f:
        f.write(b"x" * 100000 + b"\n")
    s.expect_reply("RETR 1", "+OK %d octets" % pop_size(m))
    rest = s.read_until_eof()
    assert not rest.endswith(b"\r\n.\r\n")
    assert len(rest) <= len(wire_form(m))
    s.wait(10)
    assert "changed since its size was given, not served" in s.log()
    # Shrunk after LIST.
    path.write_bytes(m)
    s = session(login=alice)
    s.expect_reply("LIST 1", "+OK 1 %d" % pop_size(m))
    path.write_bytes(m[:-3])
    s.expect_reply("RETR 1", "+OK %d octets" % pop_size(m))
    rest = s.read_until_eof()
    assert not rest.endswith(b"\r\n.\r\n")


def test_empty_message(session, alice):
    # RFC 1939 is silent: a zero-length file is a message with no lines.
    alice.maildir.add(b"")
    s = session(login=alice)
    s.expect_reply("STAT", "+OK 1 0")
    s.expect_reply("LIST 1", "+OK 1 0")
    s.sendline("RETR 1")
    assert s.read_exact(len(b"+OK 0 octets\r\n.\r\n")) == \
        b"+OK 0 octets\r\n.\r\n"
    s.sendline("TOP 1 5")
    assert s.read_exact(8) == b"+OK\r\n.\r\n"
    s.quit()


def test_empty_maildrop(session, alice):
    s = session(login=alice)
    s.expect_reply("STAT", "+OK 0 0")
    s.sendline("LIST")
    assert s.read_multiline_raw() == b"+OK 0 messages (0 octets)\r\n.\r\n"
    s.sendline("UIDL")
    assert s.read_multiline_raw() == b"+OK\r\n.\r\n"
    s.expect_reply("RETR 1", "-ERR No such message")
    s.expect_reply("LIST 1", "-ERR No such message")
    s.expect_reply("DELE 1", "-ERR No such message")
    s.expect_reply("UIDL 1", "-ERR No such message")
    s.expect_reply("TOP 1 0", "-ERR No such message")
    s.quit()


def test_stored_mail_never_modified(session, alice):
    datas = [m[1] for m in MESSAGES[:6]]
    for d in datas:
        alice.maildir.add(d)
    before = alice.maildir.contents()
    s = session(login=alice)
    for i in range(1, 7):
        s.retr_raw(i)
        s.sendline("TOP %d 1" % i)
        s.expect("+OK")
        s.read_multiline()
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.expect_reply("RSET", "+OK")
    s.quit()
    assert alice.maildir.contents() == before
    s = session(login=alice)
    s.expect_reply("STAT", _stat_of(datas))
    s.quit()


# ---------------------------------------------------------------------------
# Order and entries

def test_order_by_delivery_time(session, alice):
    md = alice.maildir
    t0 = 1700000000
    # Created out of order; delivery time (name prefix and mtime) decides.
    for k, sub in [(3, "new"), (1, "cur"), (5, "new"), (0, "new"),
                   (4, "cur"), (2, "new")]:
        md.add(b"Subject: m%d\n\n%d\n" % (k, k), sub=sub, when=t0 + 100 * k)
    s = session(login=alice)
    s.expect_reply("STAT", "+OK 6 %d" % (6 * pop_size(b"Subject: m0\n\n0\n")))
    for i in range(1, 7):
        size, raw = s.retr_raw(i)
        assert raw == wire_form(b"Subject: m%d\n\n%d\n" % (i - 1, i - 1)) \
            + b".\r\n", i
    s.quit()


def test_skips_non_messages(session, alice, area):
    md = alice.maildir
    real1 = b"Subject: real 1\n\none\n"
    real2 = b"Subject: real 2\n\ntwo\n"
    md.add(real1)
    md.add(b"Subject: in tmp\n\nnot yet delivered\n", sub="tmp")
    md.add(b"Subject: dot file\n\nhidden\n", name=".hidden")
    md.add(b"Subject: dot file cur\n\nhidden\n", sub="cur",
           name=".1700000005.x:2,S")
    secret = alice.home / "secret"
    secret.write_bytes(b"Subject: via symlink\n\nsecret\n")
    os.chown(secret, alice.uid, alice.gid)
    os.symlink(secret, md.path / "new" / "1700000006.symlink")
    os.symlink("/etc/shadow", md.path / "cur" / "1700000007.shadow:2,S")
    os.symlink("/nonexistent", md.path / "new" / "1700000008.dangling")
    fifo = md.path / "new" / "1700000009.fifo"
    os.mkfifo(fifo, 0o600)
    os.chown(fifo, alice.uid, alice.gid)
    sub = md.path / "cur" / "1700000010.dir:2,S"
    sub.mkdir(0o700)
    (sub / "inner").write_bytes(b"Subject: inner\n\n")
    os.chown(sub, alice.uid, alice.gid)
    dev = md.path / "new" / "1700000011.dev"
    os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    sock = md.path / "new" / "1700000012.sock"
    import socket as _socket
    u = _socket.socket(_socket.AF_UNIX)
    u.bind(str(sock))
    md.add(real2)
    s = session(login=alice)
    s.expect_reply("STAT", _stat_of([real1, real2]))
    size, raw = s.retr_raw(1)
    assert raw == wire_form(real1) + b".\r\n"
    size, raw = s.retr_raw(2)
    assert raw == wire_form(real2) + b".\r\n"
    s.expect_reply("RETR 3", "-ERR No such message")
    s.quit()
    u.close()
    # Nothing was touched.
    assert os.path.islink(md.path / "new" / "1700000006.symlink")
    assert secret.read_bytes() == b"Subject: via symlink\n\nsecret\n"


# ---------------------------------------------------------------------------
# UIDL

def _uidl(s):
    s.sendline("UIDL")
    s.expect("+OK")
    out = {}
    for line in s.read_multiline():
        n, uid = line.split(b" ")
        assert re.fullmatch(rb"[\x21-\x7e]{1,70}", uid), uid
        out[int(n)] = uid
    return out


def test_uidl_stable_across_sessions_and_deletions(session, alice):
    md = alice.maildir
    for i in range(4):
        md.add(b"Subject: %d\n\nbody %d\n" % (i, i))
    s = session(login=alice)
    first = _uidl(s)
    assert len(set(first.values())) == 4
    s.retr_raw(1)                       # may move new/ -> cur/
    s.retr_raw(3)
    s.quit()
    s = session(login=alice)
    assert _uidl(s) == first
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.quit()
    s = session(login=alice)
    assert _uidl(s) == {1: first[1], 2: first[3], 3: first[4]}
    for n, uid in ((1, first[1]), (2, first[3]), (3, first[4])):
        s.expect_reply("UIDL %d" % n, "+OK %d %s" % (n, uid.decode()))
    s.quit()
    md.add(b"Subject: 2\n\nbody 1\n")     # same bytes as the deleted one
    s = session(login=alice)
    now = _uidl(s)
    assert list(now.values())[:3] == [first[1], first[3], first[4]]
    assert now[4] not in first.values()
    s.quit()


def test_uidl_unique_for_identical_messages(session, alice):
    md = alice.maildir
    same = b"X-UIDL: same-id\nSubject: twin\n\nbody\n"
    for _ in range(3):
        md.add(same)
    md.add(same, sub="cur")
    s = session(login=alice)
    uids = _uidl(s)
    assert len(set(uids.values())) == 4
    assert b"same-id" not in uids.values()
    s.quit()


def test_uidl_from_odd_file_names(session, alice):
    md = alice.maildir
    names = ["1700000001." + "L" * 200,
             "1700000002.with space",
             "1700000003.tab\there",
             os.fsdecode(b"1700000004.8bit\xe9\xff"),
             "1700000005.x\x01y",
             "1700000006.colon:2,S",
             "1700000007.percent%s%n"]
    for n in names:
        md.add(b"Subject: odd\n\n" + n.encode("utf-8", "surrogateescape")
               + b"\n", name=n)
    s = session(login=alice)
    first = _uidl(s)
    assert len(first) == len(names)
    assert len(set(first.values())) == len(names)
    s.quit()
    s = session(login=alice)
    assert _uidl(s) == first
    s.quit()


# ---------------------------------------------------------------------------
# Deletion happens only at QUIT

def _three(alice):
    md = alice.maildir
    return [md.add(b"Subject: %d\n\nbody %d\n" % (i, i)).name
            for i in range(3)]


def test_dele_quit_removes(session, alice):
    names = _three(alice)
    s = session(login=alice)
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.expect_reply("STAT", "+OK 2 %d" % (2 * pop_size(b"Subject: 0\n\nbody 0\n")))
    s.sendline("QUIT")
    # RFC 1939 §6: the reply comes after the UPDATE state did its work.
    s.expect("+OK Bye")
    assert alice.maildir.find(names[1]) is None
    assert alice.maildir.find(names[0]) is not None
    assert alice.maildir.find(names[2]) is not None
    s.expect_eof()
    assert s.wait() == 0


def test_dele_all_quit(session, alice):
    names = _three(alice)
    s = session(login=alice)
    for i in (1, 2, 3):
        s.expect_reply("DELE %d" % i, "+OK Message deleted")
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()
    assert alice.maildir.messages() == []
    assert all(alice.maildir.find(n) is None for n in names)
    assert os.path.isdir(alice.maildir.path / "new")


@pytest.mark.parametrize("how", ["close", "shutdown", "sigkill", "sigterm",
                                 "sighup"])
def test_dele_without_quit_keeps(session, alice, how):
    names = _three(alice)
    s = session(login=alice)
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.expect_reply("DELE 3", "+OK Message deleted")
    if how == "close":
        s.close()
    elif how == "shutdown":
        s.sock.shutdown(2)
    else:
        sig = {"sigkill": signal.SIGKILL, "sigterm": signal.SIGTERM,
               "sighup": signal.SIGHUP}[how]
        s.kill_all(sig)
    s.wait(10)
    for n in names:
        assert alice.maildir.find(n) is not None, n
    s2 = session(login=alice)
    s2.expect_reply("STAT", "+OK 3 %d" % (3 * pop_size(b"Subject: 0\n\nbody 0\n")))
    s2.quit()


def test_rset_undoes_dele(session, alice):
    names = _three(alice)
    s = session(login=alice)
    one = pop_size(b"Subject: 0\n\nbody 0\n")
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.expect_reply("STAT", "+OK 1 %d" % one)
    s.expect_reply("RSET", "+OK")
    s.expect_reply("STAT", "+OK 3 %d" % (3 * one))
    s.expect_reply("LIST 1", "+OK 1 %d" % one)
    s.retr_raw(2)
    s.expect_reply("DELE 3", "+OK Message deleted")
    s.quit()
    assert alice.maildir.find(names[0]) is not None
    assert alice.maildir.find(names[1]) is not None
    assert alice.maildir.find(names[2]) is None


def test_deleted_message_is_gone_from_view(session, alice):
    _three(alice)
    s = session(login=alice)
    one = pop_size(b"Subject: 0\n\nbody 0\n")
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.expect_reply("DELE 2", "-ERR Message is deleted")
    for line in ("RETR 2", "LIST 2", "UIDL 2", "TOP 2 0"):
        s.expect_reply(line, "-ERR Message is deleted")
    s.sendline("LIST")
    assert s.read_multiline_raw() == (
        b"+OK 2 messages (%d octets)\r\n1 %d\r\n3 %d\r\n.\r\n"
        % (2 * one, one, one))
    uids = _uidl(s)
    assert sorted(uids) == [1, 3]
    s.expect_reply("STAT", "+OK 2 %d" % (2 * one))
    s.quit()


def test_mail_delivered_during_session_survives(session, alice):
    names = _three(alice)
    s = session(login=alice)
    for i in (1, 2, 3):
        s.expect_reply("DELE %d" % i, "+OK Message deleted")
    late_new = alice.maildir.add(b"Subject: late\n\nnew\n").name
    late_cur = alice.maildir.add(b"Subject: late cur\n\n", sub="cur").name
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()
    assert all(alice.maildir.find(n) is None for n in names)
    assert alice.maildir.find(late_new) is not None
    assert alice.maildir.find(late_cur) is not None
    s = session(login=alice)
    s.expect_reply("STAT", _stat_of([b"Subject: late\n\nnew\n",
                                     b"Subject: late cur\n\n"]))
    s.quit()


# ---------------------------------------------------------------------------
# Vanishing messages

def test_message_removed_under_session(session, alice):
    names = _three(alice)
    s = session(login=alice)
    s.sendline("LIST")
    s.read_multiline()
    os.unlink(alice.maildir.find(names[1]))
    s.expect_reply("RETR 2", "-ERR [SYS/TEMP] Message is no longer available")
    s.expect_reply("TOP 2 0", "-ERR [SYS/TEMP] Message is no longer available")
    size, raw = s.retr_raw(3)
    assert raw == wire_form(b"Subject: 2\n\nbody 2\n") + b".\r\n"
    s.expect_reply("NOOP", "+OK")
    # RFC 1939 is silent: deleting what is already gone is not a failure.
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.quit()
    assert alice.maildir.find(names[0]) is not None
    assert alice.maildir.find(names[2]) is not None


def test_message_moved_to_cur_by_another_client(session, alice):
    """Another mail reader marks the message seen (new/X -> cur/X:2,S)
    during the session: the message or a clean -ERR, never garbage."""
    names = _three(alice)
    s = session(login=alice)
    s.expect_reply("LIST 2", "+OK 2 %d" % pop_size(b"Subject: 1\n\nbody 1\n"))
    p = alice.maildir.find(names[1])
    os.rename(p, alice.maildir.path / "cur" / (p.name.split(":")[0] + ":2,S"))
    r = s.cmd("RETR 2")
    if r.startswith("+OK"):
        w = wire_form(b"Subject: 1\n\nbody 1\n")
        assert r == "+OK %d octets" % pop_size(b"Subject: 1\n\nbody 1\n")
        assert s.read_exact(len(w) + 3) == w + b".\r\n"
    else:
        assert r == "-ERR [SYS/TEMP] Message is no longer available"
    s.expect_reply("NOOP", "+OK")
    s.quit()


# ---------------------------------------------------------------------------
# Locking

IN_USE = "-ERR [IN-USE] Maildrop is in use by another session"


def test_in_use(session, alice, bob):
    alice.maildir.add(b"Subject: x\n\n")
    a = session(login=alice)
    b = session()
    b.expect_reply("USER alice", "+OK User name accepted, password please")
    b.sendline("PASS alice-pw")
    assert b.read_until_eof() == (IN_USE + "\r\n").encode()
    # Another user is not affected, and the first session goes on.
    c = session(login=bob)
    c.quit()
    a.expect_reply("STAT", "+OK 1 14")
    a.expect_reply("DELE 1", "+OK Message deleted")
    a.quit()
    assert alice.maildir.messages() == []


def test_no_stale_lock_after_kill9(session, alice):
    alice.maildir.add(b"Subject: x\n\n")
    a = session(login=alice)
    a.expect_reply("STAT", "+OK 1 14")
    a.kill_all(signal.SIGKILL)
    a.wait()
    b = session(login=alice)
    b.expect_reply("STAT", "+OK 1 14")
    b.quit()


def test_lock_released_after_quit_and_drop(session, alice):
    a = session(login=alice)
    a.quit()
    b = session(login=alice)
    b.close()
    b.wait()
    c = session(login=alice)
    c.quit()


# ---------------------------------------------------------------------------
# Maildrops that must be refused

CANNOT = ("-ERR [SYS/TEMP] Cannot open maildrop",
          "-ERR [SYS/PERM] Cannot open maildrop")


def _login_reply(session, user):
    s = session()
    s.expect_reply("USER " + user.name,
                   "+OK User name accepted, password please")
    s.sendline("PASS " + user.password)
    rest = s.read_until_eof()
    return s, rest


def test_missing_maildir_not_created(session, area):
    # RFC 3206 allows "-ERR [SYS/...] Cannot open maildrop"; treating a
    # maildir that does not exist yet as empty (as for mbox) is the other
    # sound choice.  Either way nothing is created (DESIGN.md "What is
    # never trusted": pop3d never creates the maildrop).
    area.add_user("hank", "hank-pw", maildir=False)
    before = area.snapshot()
    s = session()
    s.expect_reply("USER hank", "+OK User name accepted, password please")
    r = s.cmd("PASS hank-pw")
    if r == "+OK Logged in":
        s.expect_reply("STAT", "+OK 0 0")
        s.expect_reply("DELE 1", "-ERR No such message")
        s.quit()
    else:
        assert r in CANNOT, r
        s.expect_eof()
    assert not os.path.lexists(area.mail / "hank")
    assert area.snapshot() == before


def test_symlinked_maildir_refused(session, area):
    u = area.add_user("ivan", "ivan-pw", maildir=False)
    from pop3lib import Maildir
    real = Maildir(u.home / "Maildir", u.uid, u.gid)
    real.add(b"Subject: x\n\n")
    os.symlink(real.path, area.mail / "ivan")
    s, rest = _login_reply(session, u)
    assert rest == b"-ERR [SYS/PERM] Cannot open maildrop\r\n"


def test_maildir_of_another_owner_refused(session, area, bob):
    u = area.add_user("judy", "judy-pw", maildir=False)
    from pop3lib import Maildir
    md = Maildir(area.mail / "judy", bob.uid, bob.gid)
    for d in ("", "new", "cur", "tmp"):
        os.chmod(md.path / d, 0o777)
    md.add(b"Subject: x\n\n")
    os.chmod(md.path / md.messages()[0], 0o666)
    s, rest = _login_reply(session, u)
    assert rest == b"-ERR [SYS/PERM] Cannot open maildrop\r\n"
    assert len(md.messages()) == 1


def test_failed_commit_reported(session, alice):
    """QUIT whose deletions cannot be carried out says so (RFC 1939 §6)."""
    names = _three(alice)
    s = session(login=alice)
    s.expect_reply("DELE 1", "+OK Message deleted")
    for sub in ("new", "cur"):
        os.chmod(alice.maildir.path / sub, 0o500)
    try:
        s.sendline("QUIT")
        assert s.read_until_eof() == \
            b"-ERR [SYS/TEMP] Deleted messages were not removed\r\n"
    finally:
        for sub in ("new", "cur"):
            os.chmod(alice.maildir.path / sub, 0o700)
    assert all(alice.maildir.find(n) for n in names)


def test_client_closes_during_retr(session, alice):
    """A client that goes away in the middle of a large RETR: pop3d ends
    (no SIGPIPE report, no commit)."""
    alice.maildir.add(b"Subject: big\n\n" + b"x" * 75 + b"\n" * 1)
    big = alice.maildir.add(b"Subject: big\n\n" +
                            (b"y" * 75 + b"\n") * 200000).name
    first = alice.maildir.messages()[0].split("/")[1]
    s = session(login=alice)
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.expect_reply("RETR 2", "+OK %d octets"
                   % pop_size(b"Subject: big\n\n" +
                                   (b"y" * 75 + b"\n") * 200000))
    s.read_exact(100000)
    s.close()
    s.wait(10)
    assert alice.maildir.find(first) is not None
    assert alice.maildir.find(big) is not None


def test_uidl_survives_flag_changes(session, alice):
    """Another reader marking mail seen or answered (renaming new/X to
    cur/X:2,S, then to X:2,RS) does not change UIDLs."""
    names = _three(alice)
    s = session(login=alice)
    first = _uidl(s)
    s.quit()
    for n in names[:2]:
        p = alice.maildir.find(n)
        base = p.name.split(":")[0]
        os.rename(p, alice.maildir.path / "cur" / (base + ":2,S"))
    s = session(login=alice)
    assert _uidl(s) == first
    s.quit()
    p = alice.maildir.find(names[0])
    os.rename(p, p.parent / (p.name.split(":")[0] + ":2,RS"))
    s = session(login=alice)
    assert _uidl(s) == first
    s.quit()
