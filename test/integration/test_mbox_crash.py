"""Never serve wrong bytes, never lose mail when a session dies
(docs/mbox.md "Commit", pop3d(8) -R):

- a message whose bytes changed on disk after LIST (an mbox rewritten in
  place by a MUA, bytes overwritten, a maildir file that grew) is served
  with its original bytes or the connection is dropped before the final
  "." line: never a properly terminated message with other content;
- kill -9 of the session in the middle of a QUIT that rewrites a big mbox:
  the watcher finishes the commit without any new login; after SIGKILL of
  the whole process group, `pop3d -R` finishes it; a record made stale by
  a MUA's expunge and new deliveries is refused and the mbox left as is;
- SIGTERM during a long commit leaves no SPOOL/USER.lock and an intact
  mbox.

Timing: the kill is timed by the recovery record (a name with "journal")
appearing in STATE/UID, then the start of the in-place copy (the first
octets of the mbox change: the deleted first message is overwritten)."""

import hashlib
import os
import signal
import subprocess
import time

import pytest

from debianfixtures import (LOGGED_IN, MAIL_GID, USER_OK, from_line,
                            journals, kill_group, mail_user, mbox_of,
                            message, needs_dotlockfile, spool, split_blocks,
                            state_files, wait_until)
from pop3lib import kill_tree, retr_outcome, wire_form

THREE = [message(1), message(2, b"The second message, to be changed.\n"),
         message(3, b"The third message.\n")]


def no_wrong_bytes(first, body, terminated, original, n):
    """Either the message is refused before +OK (nothing to store), or it
    is the original bytes, or the connection drops before the final ".".
    """
    if first.startswith("-ERR [SYS/TEMP]"):
        return
    assert first.startswith("+OK"), first
    if terminated:
        assert body == wire_form(original), \
            "RETR %d: a terminated message with other bytes" % n


# ---------------------------------------------------------------------------
# Bytes changed under a connected session

def test_mbox_bytes_overwritten_in_place(session, area, spool, mail_user):
    """Another program overwrites message 2's header in place (same
    length): it is no longer the message its UIDL names.  (A same-length
    change of a body alone leaves the message the one the scan found,
    docs/mbox.md "Serving", and is served as it is now.)"""
    p = spool.create(mail_user, mbox_of(THREE))
    s = session(login=mail_user, options=spool.options())
    s.multi("LIST")
    s.multi("UIDL")
    data = p.read_bytes()
    changed = data.replace(b"Subject: message 2", b"Subject: MESSAGE 2")
    assert len(changed) == len(data) and changed != data
    with open(p, "r+b") as f:
        f.write(changed)
    first, body, terminated = retr_outcome(s, 2)
    no_wrong_bytes(first, body, terminated, THREE[1], 2)


@pytest.mark.parametrize("n", [2, 3])
def test_mbox_mua_expunge_in_place(session, area, spool, mail_user, n):
    """A MUA removes message 1 and rewrites the file in place (same
    inode, shorter): messages 2 and 3 are no longer where LIST saw them."""
    p = spool.create(mail_user, mbox_of(THREE))
    ino = os.stat(p).st_ino
    s = session(login=mail_user, options=spool.options())
    s.multi("LIST")
    s.multi("UIDL")
    blocks = split_blocks(p.read_bytes())
    with open(p, "r+b") as f:
        f.write(blocks[1] + blocks[2])
        f.truncate()
    assert os.stat(p).st_ino == ino
    first, body, terminated = retr_outcome(s, n)
    no_wrong_bytes(first, body, terminated, THREE[n - 1], n)


def test_maildir_message_grows_after_list(session, area, alice):
    m = message(1)
    path = alice.maildir.add(m)
    s = session(login=alice)
    s.expect_reply("LIST 1", "+OK 1 %d" % len(wire_form(m)))
    with open(path, "ab") as f:
        f.write(b"Appended after LIST by another program.\n")
    first, body, terminated = retr_outcome(s, 1)
    if first.startswith("+OK"):
        assert first == "+OK %d octets" % len(wire_form(m)), first
    no_wrong_bytes(first, body, terminated, m, 1)


# ---------------------------------------------------------------------------
# Kills during a big commit

BIG_MESSAGES = 150           # of 1 MiB each: everything moves (DELE 1)


def big_mbox():
    line = b"x" * 75 + b"\n"
    body = line * ((1 << 20) // 76)
    return [from_line(i) + message(i, b"Body of %d.\n" % i + body) + b"\n"
            for i in range(BIG_MESSAGES)]


def digest(data):
    return hashlib.sha256(data).hexdigest()


class BigCommit:
    """A session of `user` on a ~150 MiB mbox that deleted message 1 and
    sent QUIT; wait_copy() returns once the recovery record exists in
    STATE/UID and the in-place copy has begun."""

    def __init__(self, session, area, spool, user):
        self.area, self.spool, self.user = area, spool, user
        self.blocks = big_mbox()
        self.path = spool.create(user, b"".join(self.blocks),
                                 mode=0o660 if user.gid == MAIL_GID
                                 else 0o600)
        self.original = digest(b"".join(self.blocks))
        self.kept = digest(b"".join(self.blocks[1:]))
        self.s = session(login=user, options=spool.options())
        self.uid_pid = self.s.process_of_uid(user.uid)
        self.s.expect_reply("DELE 1", "+OK Message deleted")

    def quit(self):
        self.s.sendline("QUIT")

    def head_changed(self):
        with open(self.path, "rb") as f:
            return f.read(64) != self.blocks[0][:64]

    def wait_record(self, timeout=15):
        ok = wait_until(lambda: journals(self.area, self.user.uid) or
                        self.s.proc.poll() is not None, timeout)
        if not journals(self.area, self.user.uid):
            reply = self.s.readline(timeout=1) if self.s.proc.poll() \
                is not None else b"(still running)"
            raise AssertionError(
                "no recovery record appeared in STATE/UID during QUIT "
                "(state dir: %r; QUIT reply: %r)"
                % (state_files(self.area, self.user.uid), reply))
        return ok

    def wait_copy(self):
        self.wait_record()
        wait_until(self.head_changed, 2)

    def kill_all_mid_commit(self):
        """QUIT, then SIGKILL to the whole process group (the watcher too)
        once the in-place copy has begun: a record is left behind."""
        self.quit()
        self.wait_copy()
        kill_group(self.s.pid)
        kill_tree(self.s.pid)
        self.s.wait(5)
        time.sleep(0.5)
        assert journals(self.area, self.user.uid), \
            "no record left by the kill"

    def state(self):
        """'original', 'kept' or None (anything else: mail lost or cut)."""
        d = digest(self.path.read_bytes())
        return {self.original: "original", self.kept: "kept"}.get(d)


@pytest.mark.slow
def test_kill9_session_watcher_finishes_commit(session, area, spool,
                                               mail_user):
    c = BigCommit(session, area, spool, mail_user)
    c.quit()
    c.wait_copy()
    os.kill(c.uid_pid, signal.SIGKILL)
    # Reaped, as inetd or systemd would: a zombie still holds its pid,
    # and liblockfile takes a dotlock of a live pid for a held one.
    if c.uid_pid == c.s.pid:
        c.s.wait(5)
    # No new login: the commit is finished (or undone) within seconds.
    assert wait_until(lambda: not journals(area, mail_user.uid), 5, 0.05), \
        "record still there 5 s after the kill: %r" % state_files(
            area, mail_user.uid)
    assert c.state() in ("original", "kept")
    assert spool.others(mail_user) == []


@pytest.mark.slow
def test_group_killed_commit_finished_by_pop3d_R(session, area, spool,
                                                 mail_user, pop3d_bin):
    c = BigCommit(session, area, spool, mail_user)
    c.kill_all_mid_commit()
    r = subprocess.run([str(pop3d_bin), "-R", "-o",
                        "state-dir=%s" % area.state],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    assert r.returncode == 0, r.stdout
    assert journals(area, mail_user.uid) == []
    assert c.state() in ("original", "kept")
    s = session(login=mail_user, options=spool.options())
    n = BIG_MESSAGES - (1 if c.state() == "kept" else 0)
    first = s.cmd("STAT")
    assert first.startswith("+OK %d " % n), first
    s.quit()


@pytest.mark.slow
@needs_dotlockfile
def test_stale_record_refused(session, area, spool, mail_user):
    """A record left by a killed commit; then a MUA expunges in place and
    three messages are delivered.  Applying the record would destroy the
    new mail: the login is refused, the log says why, the file is left."""
    c = BigCommit(session, area, spool, mail_user)
    c.kill_all_mid_commit()
    small = [message(200 + i) for i in range(2)]
    with open(c.path, "r+b") as f:      # the MUA's expunge, same inode
        f.write(mbox_of(small, first=200))
        f.truncate()
    for i in range(3):
        spool.dotlock_append(mail_user, from_line(300 + i) +
                             message(300 + i) + b"\n")
    want = mbox_of(small, first=200) + b"".join(
        from_line(300 + i) + message(300 + i) + b"\n" for i in range(3))
    assert c.path.read_bytes() == want
    s = session(options=spool.options())
    s.expect_reply("USER carol", USER_OK)
    r = s.cmd("PASS carol-pw")
    assert r.startswith("-ERR [SYS/"), r
    assert "record" in s.log().lower(), s.log()
    assert c.path.read_bytes() == want


@pytest.mark.slow
def test_sigterm_during_commit_leaves_no_dotlock(session, area, spool):
    """dora is in group mail: the dotlock SPOOL/dora.lock is made by
    liblockfile itself.  SIGTERM while the commit runs: the lock is gone
    when the session has ended, and the mbox is whole."""
    dora = area.add_user("dora", "dora-pw", gid=MAIL_GID, maildir=False)
    c = BigCommit(session, area, spool, dora)
    lock = spool.path / "dora.lock"
    c.quit()
    assert wait_until(lambda: lock.exists() or
                      c.s.proc.poll() is not None, 15), "QUIT hung"
    assert lock.exists(), "the commit took no dotlock"
    wait_until(lambda: journals(area, dora.uid), 0.3)
    os.kill(c.uid_pid, signal.SIGTERM)
    c.s.wait(10)
    assert wait_until(lambda: not lock.exists(), 2, 0.02), \
        "SPOOL/dora.lock left behind"
    assert wait_until(lambda: not journals(area, dora.uid), 5, 0.05)
    assert c.state() in ("original", "kept")
