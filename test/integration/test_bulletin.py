"""contrib/bulletin (bulletin(8), docs/onlogin.md): each bulletin once to
each user, into the user's own maildrop, as an onlogin program of pop3d.

- end to end: the bulletin is the first RETR of the very session that
  logged in; later logins do not get it again, not even after DELE; a new
  bulletin is delivered at the next login, a removed one changes nothing;
- many simultaneous logins of one user (through pop3d), and many runs at
  once (directly): one copy of each bulletin;
- a run killed at every step of a delivery, and at random moments, is
  repaired by the next run: never two copies, nothing left in tmp/;
- the documented worst case for an mbox (an append cut short, then other
  mail written after it): a cut copy, never a second one;
- mbox delivery under pop3d's locks, served back byte-exact; an mbox with
  CRLF line ends gets CRLF, and its last message keeps its UIDL;
- the record is the user's own: -s STATEDIR/USER, $POP3_STATE_DIR/bulletins
  (pop3d's per-uid state directory), and a record planted by another user
  is refused, never written through."""

import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pop3lib import pop_size, wire_form

USER_OK = "+OK User name accepted, password please"
LOGGED_IN = "+OK Logged in"
IN_USE = "-ERR [IN-USE] Maildrop is in use by another session"
MAIL_GID = 8

WELCOME = (b"From: Postmaster <postmaster@example.org>\n"
           b"Subject: Welcome to the new server\n\n"
           b"From now on, mail is served by pop3d.\n"
           b".\n..dots\nThe end.\n")
NO_NEWLINE = b"Subject: short\n\nno final newline"


def build_dir(pop3d_bin):
    return Path(os.environ.get("POP3D_BUILDDIR") or Path(pop3d_bin).parent)


class Bulletins:
    """AREA/bulletins (root, 0755) and a copy of the program in AREA/bin."""

    def __init__(self, area, pop3d_bin):
        src = build_dir(pop3d_bin) / "contrib" / "bulletin" / "bulletin"
        if not src.exists():
            pytest.skip("contrib/bulletin not built: %s" % src)
        self.area = area
        self.dir = area.path / "bulletins"
        self.dir.mkdir(mode=0o755)
        b = area.path / "bin"
        b.mkdir(mode=0o755, exist_ok=True)
        self.bin = b / "bulletin"
        shutil.copy(src, self.bin)
        os.chmod(self.bin, 0o755)

    def add(self, name, data):
        p = self.dir / name
        tmp = self.dir / (name + ".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)	# the way the README says to add one
        return p

    def onlogin(self, *args):
        return " ".join([str(self.bin)] + list(args) + [str(self.dir)])

    def run(self, user, maildrop, args=(), crash=None, wait=True,
            env_add=None):
        """bulletin run directly as the user, as pop3d would run it."""
        env = {"POP3_USER": user.name, "POP3_HOME": str(user.home),
               "POP3_MAILDROP": maildrop,
               "PATH": "/usr/local/bin:/usr/bin:/bin"}
        env.update(env_add or {})
        if crash:
            env["BULLETIN_CRASH"] = crash

        def drop():
            os.setgroups([user.gid])
            os.setgid(user.gid)
            os.setuid(user.uid)
        p = subprocess.Popen([str(self.bin)] + list(args) + [str(self.dir)],
                             env=env, preexec_fn=drop,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd="/")
        if not wait:
            return p
        out, _ = p.communicate(timeout=60)
        return p.returncode, out.decode()


@pytest.fixture
def bulletins(area, pop3d_bin, require_option):
    require_option("onlogin=/bin/true")
    return Bulletins(area, pop3d_bin)


def maildir_copies(user):
    """{unique: number of files} for the bulletins in new/ and cur/."""
    out = {}
    for m in user.maildir.messages():
        name = m.split("/", 1)[1].split(":")[0]
        if name.startswith("bulletin-"):
            out[name] = out.get(name, 0) + 1
    return out


def onlogin_lines(log):
    return [l.split("]: ", 1)[1] for l in log.splitlines()
            if "]: onlogin user=" in l]


def md(user):
    return "maildir:%s" % user.maildir.path


def record_of(user):
    """The record of a direct run (no POP3_STATE_DIR): beside the mail."""
    return (user.maildir.path / ".pop3d-bulletins").read_text()


def served_record_of(area, user):
    """The record of a run by pop3d: $POP3_STATE_DIR/bulletins."""
    return (area.state / str(user.uid) / "bulletins").read_text()


# ---------------------------------------------------------------------------
# Through pop3d

def test_first_retr_of_the_same_session(session, bulletins, alice):
    bulletins.add("welcome.msg", WELCOME)
    s = session(options={"onlogin": bulletins.onlogin()}, login=alice)
    assert s.cmd("STAT") == "+OK 1 %d" % pop_size(WELCOME)
    size, body = s.retr_raw(1)
    assert body == wire_form(WELCOME) + b".\r\n"
    s.quit()
    assert "onlogin user=alice status=0 bulletin: delivered welcome.msg" \
        in onlogin_lines(s.log())
    # Kept, not delivered again.
    s = session(options={"onlogin": bulletins.onlogin()}, login=alice)
    assert s.cmd("STAT") == "+OK 1 %d" % pop_size(WELCOME)
    assert s.cmd("DELE 1") == "+OK Message deleted"
    s.quit()
    assert "onlogin user=alice status=0 bulletin: nothing new" in \
        onlogin_lines(s.log())
    # Deleted, and still not delivered again.
    s = session(options={"onlogin": bulletins.onlogin()}, login=alice)
    assert s.cmd("STAT") == "+OK 0 0"
    s.quit()


def test_added_and_removed_bulletins(session, bulletins, alice, bob):
    bulletins.add("2024-01-welcome.msg", WELCOME)
    s = session(options={"onlogin": bulletins.onlogin()}, login=alice)
    s.quit()
    (bulletins.dir / "2024-01-welcome.msg").unlink()
    bulletins.add("2024-02-outage.msg", NO_NEWLINE)
    bulletins.add("2024-03-later.msg", b"Subject: later\n\nlater\n")
    (bulletins.dir / "README").write_text("not a bulletin\n")
    (bulletins.dir / ".hidden.msg").write_text("not a bulletin\n")
    s = session(options={"onlogin": bulletins.onlogin()}, login=alice)
    assert s.cmd("STAT").startswith("+OK 3 ")
    # Delivery order is name order, after the older mail.
    assert s.retr_raw(1)[1] == wire_form(WELCOME) + b".\r\n"
    assert s.retr_raw(2)[1] == wire_form(NO_NEWLINE) + b".\r\n"
    assert s.retr_raw(3)[1] == wire_form(b"Subject: later\n\nlater\n") + \
        b".\r\n"
    s.quit()
    assert ("onlogin user=alice status=0 bulletin: delivered "
            "2024-02-outage.msg 2024-03-later.msg") in onlogin_lines(s.log())
    # bob, who never logged in, gets what is there now.
    s = session(options={"onlogin": bulletins.onlogin()}, login=bob)
    assert s.cmd("STAT").startswith("+OK 2 ")
    s.quit()
    assert maildir_copies(alice) == {"bulletin-2024-01-welcome": 1,
                                     "bulletin-2024-02-outage": 1,
                                     "bulletin-2024-03-later": 1}


def test_many_simultaneous_logins(session, bulletins, area, alice):
    """Sixteen logins of one user at once, with twenty bulletins: every
    bulletin once.  One session wins the maildrop, the others are told
    it is in use; all of them ran bulletin first."""
    for i in range(20):
        bulletins.add("b%02d.msg" % i, b"Subject: %d\n\nbody %d\n" % (i, i))
    opts = {"onlogin": bulletins.onlogin()}
    sessions = [session(options=opts) for _ in range(16)]
    for s in sessions:
        s.send("USER alice\r\nPASS alice-pw\r\n")
    replies = []
    for s in sessions:
        assert s.reply() == USER_OK
        replies.append(s.reply())
    assert set(replies) <= {LOGGED_IN, IN_USE}, replies
    assert LOGGED_IN in replies
    for s, r in zip(sessions, replies):
        if r == LOGGED_IN:
            s.quit()
        else:
            s.expect_eof()
    assert maildir_copies(alice) == {"bulletin-b%02d" % i: 1
                                     for i in range(20)}
    assert sorted(re.findall(r"^done (.*)$", served_record_of(area, alice),
                             re.M)) == ["b%02d.msg" % i for i in range(20)]


# ---------------------------------------------------------------------------
# Directly: concurrency, crashes

def test_many_runs_at_once_maildir(bulletins, alice):
    for i in range(10):
        bulletins.add("b%02d.msg" % i, b"Subject: %d\n\nbody\n" % i)
    procs = [bulletins.run(alice, md(alice), wait=False) for _ in range(30)]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    assert maildir_copies(alice) == {"bulletin-b%02d" % i: 1
                                     for i in range(10)}
    assert os.listdir(alice.maildir.path / "tmp") == []


@pytest.mark.parametrize("point", ["maildir-pending", "maildir-tmp",
                                   "maildir-linked"])
def test_maildir_killed_at_each_step(bulletins, alice, point):
    bulletins.add("a.msg", WELCOME)
    bulletins.add("b.msg", NO_NEWLINE)
    rc, out = bulletins.run(alice, md(alice), crash=point)
    assert rc == -signal.SIGKILL
    rc, out = bulletins.run(alice, md(alice))
    assert rc == 0, out
    assert maildir_copies(alice) == {"bulletin-a": 1, "bulletin-b": 1}
    assert os.listdir(alice.maildir.path / "tmp") == []
    got = sorted((alice.maildir.path / m).read_bytes()
                 for m in alice.maildir.messages())
    assert got == sorted([WELCOME, NO_NEWLINE])
    rc, out = bulletins.run(alice, md(alice))
    assert out == "bulletin: nothing new\n"


def test_maildir_lost_record_costs_no_second_copy(bulletins, alice):
    """The copy is found by its name in new/ or cur/ (moved and flagged
    by a client), whatever the record says."""
    bulletins.add("a.msg", WELCOME)
    bulletins.add("b.msg", WELCOME)
    assert bulletins.run(alice, md(alice))[0] == 0
    new = alice.maildir.path / "new"
    os.rename(new / "bulletin-a", alice.maildir.path / "cur" /
              "bulletin-a:2,S")
    (alice.maildir.path / ".pop3d-bulletins").unlink()
    rc, out = bulletins.run(alice, md(alice))
    assert rc == 0 and out == "bulletin: nothing new\n"
    assert maildir_copies(alice) == {"bulletin-a": 1, "bulletin-b": 1}


def _kill_at_random(bulletins, user, maildrop, rounds):
    rnd = random.Random(4242)
    for _ in range(rounds):
        p = bulletins.run(user, maildrop, wait=False)
        time.sleep(rnd.random() * 0.004)
        p.kill()
        p.communicate(timeout=60)
    rc, out = bulletins.run(user, maildrop)
    assert rc == 0, out


def test_maildir_killed_at_random(bulletins, alice):
    for i in range(8):
        bulletins.add("r%d.msg" % i, b"Subject: %d\n\n" % i + b"x" * 5000)
    _kill_at_random(bulletins, alice, md(alice), 40)
    assert maildir_copies(alice) == {"bulletin-r%d" % i: 1 for i in range(8)}
    assert os.listdir(alice.maildir.path / "tmp") == []


# ---------------------------------------------------------------------------
# mbox

class Spool:
    """AREA/spool, 2775 root:mail, mailboxes 0660 user:mail (Debian)."""

    def __init__(self, area):
        self.path = area.path / "spool"
        self.path.mkdir()
        os.chown(self.path, 0, MAIL_GID)
        os.chmod(self.path, 0o2775)

    def create(self, user, data=b""):
        p = self.path / user.name
        p.write_bytes(data)
        os.chown(p, user.uid, MAIL_GID)
        os.chmod(p, 0o660)
        return p


@pytest.fixture
def mail_user(area):
    return area.add_user("molly", "molly-pw", gid=MAIL_GID, maildir=False)


def mbox_messages(data):
    """Messages of an mbox as (From_ line, stored content without the
    empty line that separates it from the next one)."""
    parts = re.split(rb"(?:\A|(?<=\n)\n)(From [^\n]*\n)", data)
    assert parts[0] == b"", parts[0][:80]
    out = [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
    if out and out[-1][1].endswith(b"\n\n"):
        out[-1] = (out[-1][0], out[-1][1][:-1])
    return out


def quoted(msg):
    out = re.sub(rb"(?m)^From ", b">From ", msg)
    return out if out.endswith(b"\n") else out + b"\n"


def test_mbox_end_to_end(session, bulletins, area, mail_user):
    spool = Spool(area)
    mbox = spool.create(mail_user, b"From a@b Mon Jan  1 00:00:00 2024\n"
                        b"Subject: old\n\nold mail\n")
    bulletins.add("welcome.msg", WELCOME)
    bulletins.add("zz.msg", NO_NEWLINE)
    opts = {"maildrop": "mbox:%s/%%u" % spool.path,
            "onlogin": bulletins.onlogin()}
    s = session(options=opts, login=mail_user)
    assert s.cmd("STAT").startswith("+OK 3 ")
    assert s.retr_raw(2)[1] == wire_form(quoted(WELCOME)) + b".\r\n"
    assert s.retr_raw(3)[1] == wire_form(quoted(NO_NEWLINE)) + b".\r\n"
    s.quit()
    data = mbox.read_bytes()
    msgs = mbox_messages(data)
    assert [m[1] for m in msgs] == [b"Subject: old\n\nold mail\n",
                                    quoted(WELCOME), quoted(NO_NEWLINE)]
    assert all(re.fullmatch(rb"From MAILER-DAEMON \w{3} \w{3} [ \d]\d "
                            rb"\d\d:\d\d:\d\d \d{4}\n", m[0])
               for m in msgs[1:])
    assert data.endswith(b"\n\n")
    assert not (spool.path / "molly.lock").exists()
    # The record is in the user's state directory (POP3_STATE_DIR).
    rec = area.state / str(mail_user.uid) / "bulletins"
    assert os.stat(rec).st_uid == mail_user.uid
    assert oct(os.stat(rec).st_mode & 0o777) == "0o600"
    s = session(options=opts, login=mail_user)
    assert s.cmd("STAT").startswith("+OK 3 ")
    s.quit()


def _mbox_setup(bulletins, area, user):
    spool = Spool(area)
    mbox = spool.create(user, b"From a@b Mon Jan  1 00:00:00 2024\n"
                        b"Subject: old\n\nold mail\n\n")
    bulletins.add("a.msg", WELCOME)
    bulletins.add("b.msg", NO_NEWLINE)
    return mbox, "mbox:%s" % mbox


def _mbox_bulletins(mbox):
    return [m[1] for m in mbox_messages(mbox.read_bytes())[1:]]


def test_mbox_many_runs_at_once(bulletins, area, mail_user):
    mbox, drop = _mbox_setup(bulletins, area, mail_user)
    procs = [bulletins.run(mail_user, drop, wait=False) for _ in range(20)]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    assert _mbox_bulletins(mbox) == [quoted(WELCOME), quoted(NO_NEWLINE)]


@pytest.mark.parametrize("point", ["mbox-pending", "mbox-half",
                                   "mbox-written"])
def test_mbox_killed_at_each_step(bulletins, area, mail_user, point):
    mbox, drop = _mbox_setup(bulletins, area, mail_user)
    rc, out = bulletins.run(mail_user, drop, crash=point)
    assert rc == -signal.SIGKILL
    rc, out = bulletins.run(mail_user, drop)
    assert rc == 0, out
    assert _mbox_bulletins(mbox) == [quoted(WELCOME), quoted(NO_NEWLINE)]
    assert not Path(str(mbox) + ".lock").exists()
    assert bulletins.run(mail_user, drop)[1] == "bulletin: nothing new\n"


def test_mbox_killed_at_random(bulletins, area, mail_user):
    mbox, drop = _mbox_setup(bulletins, area, mail_user)
    for i in range(6):
        bulletins.add("r%d.msg" % i, b"Subject: %d\n\n" % i + b"y\n" * 3000)
    _kill_at_random(bulletins, mail_user, drop, 40)
    got = _mbox_bulletins(mbox)
    want = [quoted(WELCOME), quoted(NO_NEWLINE)] + \
        [quoted(b"Subject: %d\n\n" % i + b"y\n" * 3000) for i in range(6)]
    assert got == want


def test_mbox_cut_then_other_mail_worst_case(bulletins, area, mail_user):
    """The documented worst case: an append cut short by a crash, then
    mail written after it (only possible past a stale lock).  The next
    run cannot tell what is there: it records the bulletin and does not
    deliver it again.  At worst a cut copy, never two."""
    mbox, drop = _mbox_setup(bulletins, area, mail_user)
    (bulletins.dir / "b.msg").unlink()
    rc, _ = bulletins.run(mail_user, drop, crash="mbox-half")
    assert rc == -signal.SIGKILL
    with open(mbox, "ab") as f:
        f.write(b"\n\nFrom other@example.org Tue Jan  2 00:00:00 2024\n"
                b"Subject: other\n\nother mail\n\n")
    rc, out = bulletins.run(mail_user, drop)
    assert rc == 0 and out == "bulletin: nothing new\n"
    data = mbox.read_bytes()
    assert data.count(b"From MAILER-DAEMON ") == 1
    assert data.count(b"From: Postmaster") == 1


CRLF_OLD = (b"From a@b Mon Jan  1 00:00:00 2024\r\nSubject: one\r\n\r\n"
            b"first\r\n\r\n"
            b"From a@b Mon Jan  1 00:00:01 2024\r\nSubject: two\r\n\r\n"
            b"second\r\n")


@pytest.mark.parametrize("ending", [b"\r\n", b""],
                         ids=["separated", "unseparated"])
def test_mbox_crlf_file_kept_intact(session, bulletins, area, mail_user,
                                    ending):
    """An mbox stored with CRLF line ends gets the bulletin in CRLF too,
    and its last message keeps its bytes, its size and its UIDL, whether
    the file ended with the separating empty line or not."""
    spool = Spool(area)
    old = CRLF_OLD + ending
    mbox = spool.create(mail_user, old)
    opts = {"maildrop": "mbox:%s/%%u" % spool.path}
    s = session(options=opts, login=mail_user)
    before_uidl = s.multi("UIDL")[1]
    before_list = s.multi("LIST")[1]
    last = s.retr_raw(2)[1]
    s.quit()
    bulletins.add("welcome.msg", WELCOME)
    rc, out = bulletins.run(mail_user, "mbox:%s" % mbox)
    assert (rc, out) == (0, "bulletin: delivered welcome.msg\n")
    data = mbox.read_bytes()
    assert data.startswith(CRLF_OLD + b"\r\n")
    added = data[len(CRLF_OLD) + 2:]
    assert re.fullmatch(rb"From MAILER-DAEMON [^\n]*\r\n", added.split(
        b"\n", 1)[0] + b"\n")
    assert added.split(b"\n", 1)[1] == \
        quoted(WELCOME).replace(b"\n", b"\r\n") + b"\r\n"
    assert b"\n" not in added.replace(b"\r\n", b"")
    s = session(options=opts, login=mail_user)
    assert len(before_uidl) == 2
    assert s.multi("UIDL")[1][:2] == before_uidl
    assert s.multi("LIST")[1][:2] == before_list
    assert s.retr_raw(2)[1] == last
    assert s.retr_raw(3)[1] == wire_form(quoted(WELCOME)) + b".\r\n"
    s.quit()


def test_mbox_refused_like_pop3d(bulletins, area, mail_user):
    """A symlink or a file of another owner is not written to."""
    spool = Spool(area)
    victim = area.path / "victim"
    victim.write_bytes(b"")
    os.symlink(victim, spool.path / mail_user.name)
    bulletins.add("a.msg", WELCOME)
    rc, out = bulletins.run(mail_user, "mbox:%s" % (spool.path /
                                                    mail_user.name))
    assert rc == 1 and "error: mbox" in out
    assert victim.read_bytes() == b""


# ---------------------------------------------------------------------------
# The record

def test_statedir_records_apart(session, bulletins, area, alice, bob):
    state = area.path / "bstate"
    state.mkdir()
    os.chmod(state, 0o1733)
    bulletins.add("a.msg", WELCOME)
    opts = {"onlogin": bulletins.onlogin("-s", str(state))}
    for u in (alice, bob):
        s = session(options=opts, login=u)
        assert s.cmd("STAT").startswith("+OK 1 ")
        s.quit()
        st = os.stat(state / u.name)
        assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)
        assert (state / u.name).read_text() == "pending a.msg\ndone a.msg\n"
    assert not (alice.maildir.path / ".pop3d-bulletins").exists()


def user_state_dir(area, user, mode=0o700, owner=None):
    """STATE/UID as pop3d makes it for POP3_STATE_DIR."""
    state = area.path / "pop3d-state"
    state.mkdir(mode=0o711, exist_ok=True)
    d = state / str(user.uid)
    d.mkdir()
    os.chown(d, user.uid if owner is None else owner.uid, user.gid)
    os.chmod(d, mode)
    return d


def test_state_dir_holds_the_record(bulletins, area, alice, mail_user):
    """With POP3_STATE_DIR and no -s, the record is STATE/UID/bulletins,
    for a maildir and for an mbox (with its stage file beside it)."""
    bulletins.add("a.msg", WELCOME)
    sd = user_state_dir(area, alice)
    env = {"POP3_STATE_DIR": str(sd)}
    assert bulletins.run(alice, md(alice), env_add=env) == \
        (0, "bulletin: delivered a.msg\n")
    assert not (alice.maildir.path / ".pop3d-bulletins").exists()
    rec = sd / "bulletins"
    assert rec.read_text() == "pending a.msg\ndone a.msg\n"
    st = os.stat(rec)
    assert st.st_uid == alice.uid and oct(st.st_mode & 0o777) == "0o600"
    assert bulletins.run(alice, md(alice), env_add=env) == \
        (0, "bulletin: nothing new\n")
    assert maildir_copies(alice) == {"bulletin-a": 1}

    spool = Spool(area)
    mbox = spool.create(mail_user)
    sd = user_state_dir(area, mail_user)
    env = {"POP3_STATE_DIR": str(sd)}
    assert bulletins.run(mail_user, "mbox:%s" % mbox, env_add=env) == \
        (0, "bulletin: delivered a.msg\n")
    assert not (Path(mail_user.home) / ".pop3d-bulletins").exists()
    assert re.fullmatch(r"pending a\.msg \d+ \d+ 0 \d+\ndone a\.msg\n",
                        (sd / "bulletins").read_text())
    assert not (sd / "bulletins~").exists()
    assert bulletins.run(mail_user, "mbox:%s" % mbox, env_add=env) == \
        (0, "bulletin: nothing new\n")
    assert mbox.read_bytes().count(b"From: Postmaster") == 1


def test_state_dir_is_the_record_and_s_comes_first(bulletins, area, alice):
    """With POP3_STATE_DIR the record is $POP3_STATE_DIR/bulletins and
    nothing is written beside the mail; -s comes before it."""
    sd = user_state_dir(area, alice)
    env = {"POP3_STATE_DIR": str(sd)}
    bulletins.add("b.msg", WELCOME)
    assert bulletins.run(alice, md(alice), env_add=env) == \
        (0, "bulletin: delivered b.msg\n")
    assert (sd / "bulletins").read_text().endswith("done b.msg\n")
    assert not (alice.maildir.path / ".pop3d-bulletins").exists()
    assert bulletins.run(alice, md(alice), env_add=env) == \
        (0, "bulletin: nothing new\n")
    (sd / "bulletins").unlink()
    state = area.path / "state"
    state.mkdir()
    os.chmod(state, 0o1733)
    bulletins.add("c.msg", WELCOME)
    assert bulletins.run(alice, md(alice), args=("-s", str(state)),
                         env_add=env)[0] == 0
    assert (state / alice.name).read_text().endswith("done c.msg\n")
    assert not (sd / "bulletins").exists()


@pytest.mark.parametrize("how", ["group-writable", "other-owner",
                                 "missing", "relative"])
def test_state_dir_refused(bulletins, area, alice, bob, how):
    """A POP3_STATE_DIR that is not the user's own private directory is
    an error, never written to."""
    bulletins.add("a.msg", WELCOME)
    if how == "relative":
        sd = "pop3d-state/%d" % alice.uid
    elif how == "missing":
        sd = str(area.path / "nowhere")
    else:
        sd = str(user_state_dir(
            area, alice, mode=0o770 if how == "group-writable" else 0o700,
            owner=bob if how == "other-owner" else None))
    rc, out = bulletins.run(alice, md(alice),
                            env_add={"POP3_STATE_DIR": sd})
    assert rc == 1 and "error: POP3_STATE_DIR" in out, out
    assert maildir_copies(alice) == {}
    if how in ("group-writable", "other-owner"):
        assert os.listdir(sd) == []


def test_planted_record_is_refused(bulletins, area, alice, bob):
    """alice plants a file under bob's name in a shared STATEDIR: bob's
    run refuses it (logged as its output line) and writes nothing into
    it; bob's maildrop is untouched."""
    state = area.path / "bstate"
    state.mkdir()
    os.chmod(state, 0o1733)
    planted = state / "bob"
    planted.write_text("done a.msg\n")
    os.chown(planted, alice.uid, alice.gid)
    os.chmod(planted, 0o666)	# bob could write it: still not his
    bulletins.add("a.msg", WELCOME)
    rc, out = bulletins.run(bob, md(bob), args=("-s", str(state)))
    assert rc == 1
    assert out == ("bulletin: error: record %s: not a plain file of uid "
                   "%d\n" % (planted, bob.uid))
    assert planted.read_text() == "done a.msg\n"
    assert bob.maildir.messages() == []


def test_usage_and_environment_errors(bulletins, alice):
    rc, out = bulletins.run(alice, "")
    assert (rc, out) == (1, "bulletin: error: POP3_MAILDROP: unknown "
                            "format\n")
    rc, out = bulletins.run(alice, "maildir:relative")
    assert (rc, out) == (1, "bulletin: error: POP3_MAILDROP: not an "
                            "absolute path\n")
    rc, out = bulletins.run(alice, md(alice), args=("-s", "relative"))
    assert rc == 64 and out.startswith("usage: bulletin")


def test_planted_stage_file_is_refused(bulletins, area, alice, mail_user):
    """The mbox stage file beside a STATEDIR record is checked the same
    way: a planted one is neither written nor trusted."""
    spool = Spool(area)
    mbox = spool.create(mail_user, b"")
    state = area.path / "bstate"
    state.mkdir()
    os.chmod(state, 0o1733)
    planted = state / (mail_user.name + "~")
    planted.write_bytes(b"planted")
    os.chown(planted, alice.uid, alice.gid)
    os.chmod(planted, 0o666)
    bulletins.add("a.msg", WELCOME)
    rc, out = bulletins.run(mail_user, "mbox:%s" % mbox,
                            args=("-s", str(state)))
    assert (rc, out) == (1, "bulletin: error: %s: not a plain file of uid "
                            "%d\n" % (planted, mail_user.uid))
    assert planted.read_bytes() == b"planted"
    assert mbox.read_bytes() == b""
