"""The mbox maildrop end to end (docs/mbox.md): mbox files written by real
Debian delivery programs (procmail, and appends locked with dotlockfile from
liblockfile-bin), served byte-exact, with stable unique ids; deliveries
during a session are neither blocked nor lost; a file changed under the
session makes QUIT delete nothing; refused and missing mailboxes; and the
concurrency test: deliveries in a loop while sessions RETR and DELE, after
which every delivered message is in the mbox or was deleted by a client,
none twice, none cut.

The users have gid 8 (mail) and the spool is 2775 root:mail with mailboxes
0660 user:mail, as on Debian."""

import os
import poplib
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pop3lib import pop_size, wire_form

MAIL_GID = 8
IN_USE = "-ERR [IN-USE] Maildrop is in use by another session"

needs_procmail = pytest.mark.skipif(shutil.which("procmail") is None,
                                    reason="procmail not installed")
needs_dotlockfile = pytest.mark.skipif(
    shutil.which("dotlockfile") is None, reason="liblockfile-bin missing")


class Spool:
    """AREA/spool, 2775 root:mail, with an mbox per user."""

    def __init__(self, area):
        self.path = area.path / "spool"
        self.path.mkdir()
        os.chown(self.path, 0, MAIL_GID)
        os.chmod(self.path, 0o2775)
        self.rc = area.path / "procmailrc"

    def mbox(self, user):
        return self.path / user.name

    def create(self, user, data=b""):
        p = self.mbox(user)
        p.write_bytes(data)
        os.chown(p, user.uid, MAIL_GID)
        os.chmod(p, 0o660)
        return p

    def procmail(self, user, message, sender="sender@example.org"):
        """Delivers with procmail: its own From_ line, >From escaping,
        dotlock (USER.lock) and fcntl locking, as Debian builds it."""
        # LOCKSLEEP: retry a busy dotlock after 1 s, not procmail's 8 s.
        self.rc.write_text("LOCKSLEEP=1\n:0:\n%s\n" % self.mbox(user))
        subprocess.run(["procmail", "-f", sender, "-m", str(self.rc)],
                       input=message, check=True, timeout=60)

    def dotlock_append(self, user, data):
        """An MDA script: dotlockfile -l, append, dotlockfile -u."""
        lock = str(self.mbox(user)) + ".lock"
        subprocess.run(["dotlockfile", "-l", "-p", lock], check=True,
                       timeout=60)
        try:
            with open(self.mbox(user), "ab") as f:
                f.write(data)
        finally:
            subprocess.run(["dotlockfile", "-u", lock], check=True)


@pytest.fixture
def spool(area):
    return Spool(area)


@pytest.fixture
def mbox_user(area):
    """alice, gid mail, no maildir."""
    return area.add_user("alice", "alice-pw", gid=MAIL_GID, maildir=False)


def opts(area):
    return {"maildrop": "mbox:%s/spool/%%u" % area.path, "timeout": "60"}


def stored(message):
    """What a client gets of a message delivered by procmail: "From "
    lines escaped (served as stored).  procmail adds the separating empty
    line only when the message does not already end with one, so a
    trailing empty line of the message itself is taken for the separator
    (mbox cannot tell them apart; docs/mbox.md)."""
    message = re.sub(rb"(?m)^From ", b">From ", message)
    return message[:-1] if message.endswith(b"\n\n") else message


MESSAGES = [
    b"From: a@example.org\nSubject: plain\n\nHello.\n",
    b"From: b@example.org\nSubject: dots\n\n.\n..\n.x\nlast\n",
    b"From: c@example.org\nSubject: crlf\r\n\r\nline one\r\nline two\r\n",
    b"From: d@example.org\nSubject: from line\n\nFrom here on\n>From x\n",
    b"From: e@example.org\nSubject: 8bit\n\n\xe9t\xe9 \x00 bare\rcr\n\n\n",
]


def uidl(c):
    first, lines = c.multi("UIDL")
    assert first == "+OK"
    return [l.split(b" ", 1)[1] for l in lines]


@needs_procmail
def test_procmail_mbox_served_exactly(session, area, spool, mbox_user):
    spool.create(mbox_user)
    for m in MESSAGES:
        spool.procmail(mbox_user, m)
    want = [stored(m) for m in MESSAGES]
    total = sum(pop_size(w) for w in want)
    s = session(login=mbox_user, options=opts(area))
    s.expect_reply("STAT", "+OK %d %d" % (len(want), total))
    first, lines = s.multi("LIST")
    assert [l.decode() for l in lines] == \
        ["%d %d" % (i + 1, pop_size(w)) for i, w in enumerate(want)]
    for i, w in enumerate(want):
        size, raw = s.retr_raw(i + 1)
        assert raw == wire_form(w) + b".\r\n"
        assert size == pop_size(w)
    ids = uidl(s)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(rb"[\x21-\x7e]{1,70}", u) for u in ids)
    s.quit()
    # Stable across sessions; nothing was written into the file.
    before = spool.mbox(mbox_user).read_bytes()
    s = session(login=mbox_user, options=opts(area))
    assert uidl(s) == ids
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.expect_reply("DELE 4", "+OK Message deleted")
    s.quit()
    after = spool.mbox(mbox_user).read_bytes()
    blocks = re.split(rb"(?m)^(?=From )", before)[1:]
    assert after == blocks[0] + blocks[2] + blocks[4]
    st = os.stat(spool.mbox(mbox_user))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == \
        (mbox_user.uid, MAIL_GID, 0o660)
    # Ids of the others did not change with the deletions.
    s = session(login=mbox_user, options=opts(area))
    assert uidl(s) == [ids[0], ids[2], ids[4]]
    s.quit()
    assert sorted(os.listdir(spool.path)) == ["alice"]


@needs_procmail
def test_identical_messages_unique_ids(session, area, spool, mbox_user):
    one = b"From x@example.org Sat Nov 21 08:40:00 2025\nSubject: same\n\n" \
          b"same\n\n"
    spool.create(mbox_user, one * 3)
    s = session(login=mbox_user, options=opts(area))
    ids = uidl(s)
    assert len(set(ids)) == 3
    assert ids[1] == ids[0] + b"-1" and ids[2] == ids[0] + b"-2"
    s.quit()


@needs_dotlockfile
def test_dotlockfile_appends(session, area, spool, mbox_user):
    spool.create(mbox_user)
    a = b"From x@example.org Sat Nov 21 08:40:00 2025\nSubject: 1\n\none\n\n"
    b = b"From y@example.org Sat Nov 21 08:40:01 2025\nSubject: 2\n\ntwo\n\n"
    spool.dotlock_append(mbox_user, a)
    s = session(login=mbox_user, options=opts(area))
    # The session holds no lock: the script appends at once.
    t = time.monotonic()
    spool.dotlock_append(mbox_user, b)
    assert time.monotonic() - t < 3
    s.expect_reply("STAT", "+OK 1 %d" % pop_size(b"Subject: 1\n\none\n"))
    s.expect_reply("DELE 1", "+OK Message deleted")
    s.quit()
    assert spool.mbox(mbox_user).read_bytes() == b
    assert not os.path.exists(str(spool.mbox(mbox_user)) + ".lock")


@needs_procmail
def test_delivery_during_session_survives(session, area, spool, mbox_user):
    spool.create(mbox_user)
    for m in MESSAGES[:3]:
        spool.procmail(mbox_user, m)
    s = session(login=mbox_user, options=opts(area))
    t = time.monotonic()
    spool.procmail(mbox_user, b"Subject: new\n\nnew mail\n")
    assert time.monotonic() - t < 3, "delivery waited for the session"
    for i in (1, 2, 3):
        s.expect_reply("DELE %d" % i, "+OK Message deleted")
    s.quit()
    s = session(login=mbox_user, options=opts(area))
    s.expect_reply("STAT", "+OK 1 %d" %
                   pop_size(b"Subject: new\n\nnew mail\n"))
    size, raw = s.retr_raw(1)
    assert raw == wire_form(b"Subject: new\n\nnew mail\n") + b".\r\n"
    s.quit()


def test_changed_under_session_deletes_nothing(session, area, spool,
                                               mbox_user):
    data = b"From a Sat Nov 21 08:40:00 2025\nSubject: a\n\none\n\n" \
           b"From b Sat Nov 21 08:40:00 2025\nSubject: b\n\ntwo\n\n"
    p = spool.create(mbox_user, data)
    s = session(login=mbox_user, options=opts(area))
    s.expect_reply("DELE 1", "+OK Message deleted")
    changed = data.replace(b"Subject: b", b"Subject: c")
    with open(p, "r+b") as f:           # another program edits message 2
        f.write(changed)
    r = s.cmd("QUIT")
    assert r.startswith("-ERR [SYS/TEMP]"), r
    s.expect_eof()
    assert p.read_bytes() == changed


def test_in_place_flag_rewrites_keep_ids_and_commit(session, area, spool,
                                                     mbox_user):
    """dovecot-lda rewrites X-IMAPbase in the first message at every
    delivery and a MUA rewrites Status, both in place and at the same
    length: no unique-id changes and QUIT still commits (the QUIT check
    compares digests, which leave those fields out)."""
    data = (b"From a Sat Nov 21 08:40:00 2025\n"
            b"X-IMAPbase: 1763714400 0000000002\nStatus: O\nX-UID: 1\n"
            b"Subject: a\n\none\n\n"
            b"From b Sat Nov 21 08:40:01 2025\nStatus: O\nX-UID: 2\n"
            b"X-Keywords: $Junk\nSubject: b\n\ntwo\n\n"
            b"From c Sat Nov 21 08:40:02 2025\nSubject: c\n\nthree\n\n")
    p = spool.create(mbox_user, data)
    s = session(login=mbox_user, options=opts(area))
    ids = uidl(s)
    changed = data.replace(b"X-IMAPbase: 1763714400 0000000002",
                           b"X-IMAPbase: 1763714400 0000000003") \
                  .replace(b"Status: O\nX-UID: 2", b"Status: R\nX-UID: 2") \
                  .replace(b"$Junk", b"$Spam")
    with open(p, "r+b") as f:
        f.write(changed)
    s.expect_reply("DELE 3", "+OK Message deleted")
    s.quit()
    assert p.read_bytes() == changed[:changed.index(b"From c")]
    s = session(login=mbox_user, options=opts(area))
    assert uidl(s) == ids[:2]
    s.quit()
    # Any other field is part of the id.
    p.write_bytes(changed.replace(b"Subject: a", b"Subject: A"))
    s = session(login=mbox_user, options=opts(area))
    new = uidl(s)
    assert new[0] != ids[0] and new[1] == ids[1]
    s.quit()


def test_dovecot_lda_content_length(session, area, spool, mbox_user):
    """dovecot-lda leaves a body line "From what..." unescaped and frames
    with Content-Length: the message is served whole (before, it was two
    messages and the From line was served to nobody).  A wrong
    Content-Length changes nothing."""
    body = b"Hello,\n\nFrom what I can tell, this works.\n\nBye\n"
    m1 = b"Subject: one\nContent-Length: %d\n\n" % len(body) + body
    m2 = b"Subject: two\nContent-Length: 3\n\nx\n\nFrom here\n"
    spool.create(mbox_user,
                 b"From a@example.org Thu Nov 20 10:00:00 2025\n" + m1 +
                 b"\nFrom b@example.org Thu Nov 20 10:00:01 2025\n" + m2 +
                 b"\n")
    s = session(login=mbox_user, options=opts(area))
    want = [m1, b"Subject: two\nContent-Length: 3\n\nx\n", b""]
    s.expect_reply("STAT", "+OK 3 %d" % sum(pop_size(w) for w in want))
    for i, w in enumerate(want, 1):
        size, raw = s.retr_raw(i)
        assert raw == wire_form(w) + b".\r\n"
        assert size == pop_size(w)
    s.quit()


def test_changed_under_session_never_served(session, area, spool,
                                            mbox_user):
    """A mail reader expunges message 1 in place while a client is
    connected; the From_ lines are identical and the sizes equal, so the
    other messages moved exactly onto the old offsets.  RETR and TOP
    must not pass them off as the messages the client listed: the
    connection drops before the final "." (the client stores nothing),
    the log says why, and nothing is committed."""
    frm = b"From MAILER-DAEMON Sat Nov 21 08:40:00 2025\n"
    a, b, c = (frm + b"Subject: %s\n\nbody %s\n\n" % (x * 3, x)
               for x in (b"a", b"b", b"c"))
    p = spool.create(mbox_user, a + b + c)
    s = session(login=mbox_user, options=opts(area))
    ids = uidl(s)
    s.expect_reply("DELE 3", "+OK Message deleted")
    p.write_bytes(b + c)
    r = s.cmd("RETR 1")
    assert r == "+OK %d octets" % pop_size(b"Subject: aaa\n\nbody a\n")
    rest = s.read_until_eof()
    assert not rest.endswith(b"\r\n.\r\n"), rest
    assert wire_form(b"Subject: bbb\n\nbody b\n").startswith(rest)
    s.wait(10)
    assert "message 1 changed since the scan, not served" in s.log()
    assert p.read_bytes() == b + c
    # TOP: the header is checked.
    p.write_bytes(a + b + c)
    s = session(login=mbox_user, options=opts(area))
    assert uidl(s) == ids
    p.write_bytes(b + c)
    s.expect_reply("TOP 2 0", "+OK")
    rest = s.read_until_eof()
    assert not rest.endswith(b"\r\n.\r\n"), rest
    # Message 3 is no longer anywhere near its offset: refused up front.
    p.write_bytes(a + b + c)
    s = session(login=mbox_user, options=opts(area))
    p.write_bytes(a + b)
    s.expect_reply("RETR 3", "-ERR [SYS/TEMP] Message is no longer available")
    s.expect_reply("RETR 1", "+OK %d octets" %
                   pop_size(b"Subject: aaa\n\nbody a\n"))
    assert s.read_multiline_raw() == \
        wire_form(b"Subject: aaa\n\nbody a\n") + b".\r\n"
    s.quit()


def test_second_session_in_use(session, area, spool, mbox_user):
    spool.create(mbox_user, b"From a Sat Nov 21 08:40:00 2025\n\nx\n\n")
    s1 = session(login=mbox_user, options=opts(area))
    s2 = session(options=opts(area))
    s2.expect_reply("USER alice", "+OK User name accepted, password please")
    s2.expect_reply("PASS alice-pw", IN_USE)
    s1.quit()
    s3 = session(login=mbox_user, options=opts(area))
    s3.expect_reply("STAT", "+OK 1 5")
    s3.quit()


def test_missing_mbox_is_empty_and_not_created(session, area, spool,
                                               mbox_user):
    s = session(login=mbox_user, options=opts(area))
    s.expect_reply("STAT", "+OK 0 0")
    s.quit()
    assert os.listdir(spool.path) == []


@pytest.mark.parametrize("kind", ["symlink", "other-owner", "not-mbox",
                                  "fifo"])
def test_refused_mbox(session, area, spool, mbox_user, kind):
    p = spool.mbox(mbox_user)
    if kind == "symlink":
        target = spool.create(mbox_user, b"From a\n\nx\n\n")
        real = spool.path / "real"
        os.rename(target, real)
        os.symlink(real, p)
    elif kind == "other-owner":
        spool.create(mbox_user, b"From a\n\nx\n\n")
        os.chown(p, 5999, MAIL_GID)
    elif kind == "not-mbox":
        spool.create(mbox_user, b"Subject: no From_ line\n\nx\n")
    else:
        os.mkfifo(p)
        os.chown(p, mbox_user.uid, MAIL_GID)
    s = session(options=opts(area))
    s.expect_reply("USER alice", "+OK User name accepted, password please")
    r = s.cmd("PASS alice-pw")
    assert r.startswith("-ERR [SYS/PERM]"), r
    assert "refused" in s.log() or "not an mbox" in s.log()


@needs_procmail
def test_debian_spool_without_group_mail(session, area, spool):
    """A user whose own group is not mail: the spool is not writable for
    it; the commit keeps its recovery record in the home directory."""
    bob = area.add_user("bob", "bob-pw", maildir=False)
    p = spool.create(bob)
    for m in MESSAGES[:3]:
        spool.procmail(bob, m)
    ino = os.stat(p).st_ino
    s = session(login=bob, options=opts(area))
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.quit()
    # liblockfile made the dotlock through its setgid helper.
    assert "cannot create dotlock" not in s.log()
    s = session(login=bob, options=opts(area))
    s.expect_reply("STAT", "+OK 2 %d" % sum(
        pop_size(stored(m)) for m in (MESSAGES[0], MESSAGES[2])))
    s.quit()
    st = os.stat(p)
    assert (st.st_ino, st.st_uid, st.st_gid, st.st_mode & 0o7777) == \
        (ino, bob.uid, MAIL_GID, 0o660)
    assert sorted(os.listdir(spool.path)) == ["bob"]
    assert not [n for n in os.listdir(bob.home) if "pop3d" in n]


def test_spool_without_dotlock_access(session, area, spool, mbox_user):
    """A spool nobody but root may write (not even group mail): no
    dotlock can be made; the documented fallback is the fcntl lock alone,
    and the commit's record goes to the home directory."""
    data = b"".join(b"From a Sat Nov 21 08:40:0%d 2025\nX: %d\n\n%d\n\n"
                    % (i, i, i) for i in range(3))
    spool.create(mbox_user, data)
    os.chmod(spool.path, 0o755)
    os.chown(spool.path, 0, 0)
    s = session(login=mbox_user, options=opts(area))
    s.expect_reply("DELE 2", "+OK Message deleted")
    s.quit()
    assert "using the fcntl lock alone" in s.log()
    blocks = re.split(rb"(?m)^(?=From )", data)[1:]
    assert spool.mbox(mbox_user).read_bytes() == blocks[0] + blocks[2]
    assert sorted(os.listdir(spool.path)) == ["alice"]
    assert not [n for n in os.listdir(mbox_user.home) if "pop3d" in n]


def body_of(n):
    return b"id %06d\n" % n + b"x" * (n % 700) + b"\n" + \
        b".dot line\n" * (n % 3)


def parse_ids(data):
    """Delivered ids found in an mbox, with whether each is complete."""
    found = []
    for block in re.split(rb"(?m)^(?=From )", data)[1:]:
        m = re.search(rb"\nid (\d{6})\n", block)
        assert m, block[:200]
        n = int(m.group(1))
        complete = block.endswith(body_of(n) + b"\n")
        found.append((n, complete))
    return found


@needs_procmail
@pytest.mark.slow
def test_concurrent_deliveries_and_sessions(server, area, spool, mbox_user):
    """procmail delivers 50 messages in a loop while clients (poplib)
    log in, RETR and DELE some, and QUIT, over and over; each session
    lingers so that deliveries land between its login and its QUIT."""
    spool.create(mbox_user)
    srv = server(options=opts(area))
    total = 50
    done = threading.Event()
    errors = []

    def deliver():
        try:
            for n in range(total):
                spool.procmail(mbox_user, b"Subject: %d\nMessage-ID: <%d@t>"
                               b"\n\n" % (n, n) + body_of(n))
                time.sleep(0.01)
        except Exception as e:     # reported below
            errors.append(e)
        finally:
            done.set()

    deleted = []
    rounds = overlaps = temp = 0
    t = threading.Thread(target=deliver)
    t.start()
    try:
        while True:
            last = done.is_set()
            rounds += 1
            p = poplib.POP3("127.0.0.1", srv.port, timeout=60)
            p.user(mbox_user.name)
            p.pass_(mbox_user.password)
            count, _ = p.stat()
            mine = []
            for i in range(1, count + 1):
                if (i + rounds) % 3 == 0:
                    continue            # left on the server this time
                lines = p.retr(i)[1]
                n = int(lines[lines.index(b"") + 1].split()[1])
                p.dele(i)
                mine.append(n)
            time.sleep(0.15)
            try:
                r = p.quit()
                assert r.startswith(b"+OK")
                deleted += mine
            except poplib.error_proto as e:
                assert str(e).startswith("b'-ERR [SYS/TEMP]"), e
                temp += 1
            now = len(parse_ids(spool.mbox(mbox_user).read_bytes()))
            if now > count - len(mine):
                overlaps += 1
            if last:
                break
            time.sleep(0.1)
    finally:
        t.join()
    assert not errors, errors
    found = parse_ids(spool.mbox(mbox_user).read_bytes())
    kept = [n for n, _ in found]
    assert all(c for _, c in found), "a message was cut"
    assert len(kept) == len(set(kept)), "a message is there twice"
    assert len(deleted) == len(set(deleted)), "deleted twice"
    assert not set(kept) & set(deleted)
    assert sorted(kept + deleted) == list(range(total))
    print("concurrency: %d sessions (%d with deliveries during them, %d "
          "[SYS/TEMP]), %d deleted, %d kept" %
          (rounds, overlaps, temp, len(deleted), len(kept)))
    assert overlaps >= 2
