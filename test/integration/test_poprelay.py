"""contrib/poprelay (poprelay-update(8), docs/onlogin.md): POP-before-SMTP
for Postfix, with Debian's real Postfix tools.

- a login through pop3d (IPv4 and IPv6) records the client and makes the
  map answer OK for it (`postmap -q`), and Postfix's own smtpd, consulting
  the map with check_client_access, lets that client in and keeps another
  out; after the period, poprelay-update expires it and smtpd refuses it;
- addresses are stored as Postfix prints them (IPv4-mapped IPv6 as IPv4,
  IPv6 compressed lower case); anything else records nothing;
- many logins at once: every address, one complete map, no temporary file
  left; the map and its database are replaced by rename, and only when
  the set of addresses changed;
- a spool that others can write is refused (it would open the relay);
- the command line of poprelay-update(8), the shipped timer, service and
  cron line."""

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pop3lib import Client

POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
SMTPD = "/usr/lib/postfix/sbin/smtpd"
HEADER = ("# pop3d POP-before-SMTP clients: written by poprelay-update, "
          "do not edit\n")

needs_postmap = pytest.mark.skipif(not os.access(POSTMAP, os.X_OK),
                                   reason="postfix (postmap) not installed")


def build_dir(pop3d_bin):
    return Path(os.environ.get("POP3D_BUILDDIR") or Path(pop3d_bin).parent)


def _as(uid, gid):
    def drop():
        os.setgroups([gid])
        os.setgid(gid)
        os.setuid(uid)
    return drop


class Relay:
    """AREA/relay: the spool, owned by nobody (onlogin-user = nobody), with
    the map in it; AREA/postfix: a main.cf for postmap -c and smtpd;
    AREA/poprelay.conf; the programs copied to AREA/bin."""

    def __init__(self, area, pop3d_bin):
        d = build_dir(pop3d_bin) / "contrib" / "poprelay"
        if not (d / "poprelay-add").exists():
            pytest.skip("contrib/poprelay not built: %s" % d)
        self.area = area
        self.nobody = pwd.getpwnam("nobody")
        b = area.path / "bin"
        b.mkdir(mode=0o755, exist_ok=True)
        for n in ("poprelay-add", "poprelay-update"):
            shutil.copy(d / n, b / n)
            os.chmod(b / n, 0o755)
        self.add_bin, self.update_bin = b / "poprelay-add", \
            b / "poprelay-update"
        self.spool = area.path / "relay"
        self.spool.mkdir(mode=0o755)
        os.chown(self.spool, self.nobody.pw_uid, self.nobody.pw_gid)
        self.map = self.spool / "pop-before-smtp"
        self.cf = area.path / "postfix"
        self.cf.mkdir(mode=0o755)
        (self.cf / "main.cf").write_text("")
        os.chmod(self.cf / "main.cf", 0o644)
        self.conf = area.path / "poprelay.conf"
        self.write_conf()

    def write_conf(self, extra=""):
        self.conf.write_text(
            "# test configuration\nspool = %s\nperiod = 1800\n"
            "map = %s\npostmap = yes\npostfix-config = %s\n%s"
            % (self.spool, self.map, self.cf, extra))
        os.chmod(self.conf, 0o644)

    def onlogin(self):
        return {"onlogin": "%s -f %s" % (self.add_bin, self.conf),
                "onlogin-user": "nobody"}

    def add(self, addr, wait=True, user="alice"):
        env = {"POP3_CLIENT_ADDR": addr, "POP3_USER": user,
               "PATH": "/usr/bin:/bin"}
        p = subprocess.Popen([str(self.add_bin), "-f", str(self.conf)],
                             env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             preexec_fn=_as(self.nobody.pw_uid,
                                            self.nobody.pw_gid))
        if not wait:
            return p
        out, _ = p.communicate(timeout=60)
        return p.returncode, out.decode()

    def update(self, *args, as_root=False):
        argv = [str(self.update_bin)] + (list(args) if args else
                                         ["-f", str(self.conf)])
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60,
                           env={"PATH": "/usr/bin:/bin"},
                           preexec_fn=None if as_root else
                           _as(self.nobody.pw_uid, self.nobody.pw_gid))
        return p.returncode, p.stdout.decode()

    def lookup(self, addr):
        """postmap -q: "OK", or None when the table does not have it."""
        p = subprocess.run([POSTMAP, "-c", str(self.cf), "-q", addr,
                            "hash:%s" % self.map], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode == 1:
            return None
        assert p.returncode == 0, p.stderr
        return p.stdout.decode().strip()

    def age(self, addr, seconds):
        t = time.time() - seconds
        os.utime(self.spool / addr, (t, t))

    def map_text(self):
        return self.map.read_text()

    def records(self):
        return sorted(e for e in os.listdir(self.spool)
                      if not e.startswith("pop-before-smtp"))


@pytest.fixture
def relay(area, pop3d_bin, require_option):
    require_option("onlogin=/bin/true")
    if not os.access(POSTMAP, os.X_OK):
        pytest.skip("postfix (postmap) not installed")
    return Relay(area, pop3d_bin)


# ---------------------------------------------------------------------------
# Postfix's smtpd, stand-alone, as the real judge of the map

class Smtpd:
    """Postfix smtpd -S (stand-alone, one connection, as mail_owner) with
    smtpd_client_restrictions = permit_mynetworks, check_client_access
    hash:MAP, reject: a client the map lets in gets 220/250, another 554.
    (smtpd_relay_restrictions, where the recipe puts the same check,
    needs the trivial-rewrite service of a running Postfix; the lookup of
    the client address in the table is the same code.)"""

    def __init__(self, relay):
        if not os.access(SMTPD, os.X_OK):
            pytest.skip("postfix smtpd not installed")
        try:
            self.pw = pwd.getpwnam("postfix")
        except KeyError:
            pytest.skip("no postfix account")
        self.cf = relay.area.path / "smtpd-cf"
        self.cf.mkdir(mode=0o755)
        q = relay.area.path / "smtpd-queue"
        q.mkdir(mode=0o755)
        (self.cf / "main.cf").write_text(
            "compatibility_level = 3.6\n"
            "queue_directory = %s\n"
            "myhostname = mx.test.example\nmydestination =\n"
            "mynetworks = 192.0.2.0/24\n"
            "local_recipient_maps =\nrelay_recipient_maps =\n"
            "alias_maps =\nalias_database =\n"
            "smtpd_peername_lookup = no\n"
            "smtpd_client_connection_count_limit = 0\n"
            "smtpd_client_connection_rate_limit = 0\n"
            "smtpd_delay_reject = no\n"
            "smtpd_client_restrictions = permit_mynetworks, "
            "check_client_access hash:%s, reject\n"
            "smtpd_relay_restrictions = reject\n" % (q, relay.map))
        os.chmod(self.cf / "main.cf", 0o644)

    def greeting(self, src, family=socket.AF_INET):
        """The first reply smtpd gives a client connecting from src."""
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        ls = socket.socket(family)
        ls.bind((host, 0))
        ls.listen(1)
        c = socket.socket(family)
        c.bind((src, 0))
        c.connect(ls.getsockname()[:2])
        srv, _ = ls.accept()
        ls.close()
        p = subprocess.Popen([SMTPD, "-S"], stdin=srv, stdout=srv,
                             env={"MAIL_CONFIG": str(self.cf)},
                             preexec_fn=_as(self.pw.pw_uid, self.pw.pw_gid))
        srv.close()
        try:
            cl = Client(c, 20)
            first = cl.reply()
            cl.sendline("QUIT")
            cl.read_until_eof(20)
        finally:
            cl.close()
            p.wait(20)
        return first


ALLOWED = "220 mx.test.example ESMTP Postfix"


def rejected(src):
    return ("554 5.7.1 <unknown[%s]>: Client host rejected: Access denied"
            % src)


def connect_from(port, src, family=socket.AF_INET):
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    s = socket.socket(family)
    s.bind((src, 0))
    s.connect((host, port))
    return Client(s)


# ---------------------------------------------------------------------------
# End to end

def test_login_opens_the_relay_then_it_expires(server, relay, alice):
    smtpd = Smtpd(relay)
    # The recipe's first step: an empty map exists before main.cf names
    # it (a missing table is a 451 "Server configuration error").
    assert relay.update() == (0, "")
    assert relay.map_text() == HEADER
    assert smtpd.greeting("127.0.0.2") == rejected("127.0.0.2")
    srv = server(options=relay.onlogin())
    c = connect_from(srv.port, "127.0.0.2")
    c.greeting()
    c.login("alice", "alice-pw")
    c.quit()
    assert "onlogin user=alice status=0 poprelay: recorded 127.0.0.2" in \
        srv.log()
    assert relay.lookup("127.0.0.2") == "OK"
    assert relay.lookup("127.0.0.3") is None
    assert relay.map_text() == HEADER + "127.0.0.2 OK\n"
    rec = relay.spool / "127.0.0.2"
    st = os.stat(rec)
    assert st.st_uid == relay.nobody.pw_uid and abs(st.st_mtime -
                                                     time.time()) < 30
    assert re.fullmatch(r"127\.0\.0\.2 \d+ alice\n", rec.read_text())
    # Postfix itself: this client in, another out.
    assert smtpd.greeting("127.0.0.2") == ALLOWED
    assert smtpd.greeting("127.0.0.3") == rejected("127.0.0.3")
    # Within the period it stays; after it, the timer's run removes it.
    relay.age("127.0.0.2", 1700)
    assert relay.update() == (0, "")
    assert relay.lookup("127.0.0.2") == "OK"
    relay.age("127.0.0.2", 1801)
    assert relay.update() == (0, "")
    assert relay.lookup("127.0.0.2") is None
    assert relay.map_text() == HEADER
    assert relay.records() == []
    assert smtpd.greeting("127.0.0.2") == rejected("127.0.0.2")


def _v6_server(area, pop3d_bin, options):
    """pop3d behind systemd-socket-activate on [::1]: (process, port)."""
    s = socket.socket(socket.AF_INET6)
    try:
        s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    port = s.getsockname()[1]
    s.close()
    log = open(area.new_log("server6"), "wb")
    p = subprocess.Popen(["systemd-socket-activate", "--inetd", "-a", "-l",
                          "[::1]:%d" % port] + area.argv(pop3d_bin, options),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=log, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("::1", port), 1).close()
            break
        except OSError:
            if time.monotonic() > deadline or p.poll() is not None:
                p.kill()
                raise
            time.sleep(0.02)
    return p, port, log


def test_ipv6_login(area, pop3d_bin, relay, alice):
    smtpd = Smtpd(relay)
    p, port, log = _v6_server(area, pop3d_bin, relay.onlogin())
    try:
        # The probe connection above logged in nobody: nothing recorded.
        c = connect_from(port, "::1", socket.AF_INET6)
        c.greeting()
        c.login("alice", "alice-pw")
        c.quit()
        assert wait_for(lambda: relay.lookup("::1") == "OK")
    finally:
        p.terminate()
        p.wait(10)
        log.close()
    assert relay.map_text() == HEADER + "::1 OK\n"
    assert smtpd.greeting("::1", socket.AF_INET6) == ALLOWED


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_not_an_ip_client_records_nothing(session, relay, alice):
    s = session(options=relay.onlogin(), login=alice)
    s.quit()
    assert "onlogin user=alice status=0 poprelay: client is not on an IP " \
        "socket: nothing recorded" in s.log()
    assert relay.records() == []


# ---------------------------------------------------------------------------
# Addresses, concurrency, atomicity

@pytest.mark.parametrize("given,stored", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.8", "192.0.2.8"),
    ("2001:DB8:0:0:0:0:0:7", "2001:db8::7"),
    ("fe80::1", "fe80::1"),
])
def test_addresses_as_postfix_prints_them(relay, given, stored):
    assert relay.add(given) == (0, "poprelay: recorded %s\n" % stored)
    assert relay.records() == [stored]
    assert relay.lookup(stored) == "OK"


@pytest.mark.parametrize("given", ["", "local", "192.0.2.1; rm -rf /",
                                   "../etc/passwd", "192.0.2.300",
                                   "2001:db8::1%eth0", " 192.0.2.1"])
def test_not_an_address_records_nothing(relay, given):
    rc, out = relay.add(given)
    assert (rc, out) == (0, "poprelay: client is not on an IP socket: "
                            "nothing recorded\n")
    assert relay.records() == []


def test_many_logins_at_once(relay):
    addrs = ["192.0.2.%d" % i for i in range(1, 21)] + \
        ["2001:db8::%x" % i for i in range(1, 11)]
    procs = [relay.add(a, wait=False) for a in addrs + addrs[:10]]
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    assert relay.records() == sorted(addrs)
    for a in addrs:
        assert relay.lookup(a) == "OK"
    lines = relay.map_text().splitlines()
    assert lines[0] == HEADER.strip() and sorted(lines[1:]) == \
        sorted("%s OK" % a for a in addrs)
    assert [e for e in os.listdir(relay.spool) if e.startswith(".")] == []


def test_map_replaced_by_rename_only_when_changed(relay):
    relay.add("192.0.2.1")
    relay.add("192.0.2.2")
    db = Path(str(relay.map) + ".db")
    ino = (os.stat(relay.map).st_ino, os.stat(db).st_ino)
    assert oct(os.stat(relay.map).st_mode & 0o777) == "0o644"
    assert oct(os.stat(db).st_mode & 0o777) == "0o644"
    # Nothing changed: the files Postfix has open are left alone.
    assert relay.update() == (0, "")
    relay.add("192.0.2.1")
    assert (os.stat(relay.map).st_ino, os.stat(db).st_ino) == ino
    # A change: new files renamed over the old ones (Postfix sees the
    # old one unlinked and reopens; no reload).
    relay.age("192.0.2.2", 4000)
    assert relay.update() == (0, "")
    new = (os.stat(relay.map).st_ino, os.stat(db).st_ino)
    assert new[0] != ino[0] and new[1] != ino[1]
    assert relay.lookup("192.0.2.2") is None
    assert relay.lookup("192.0.2.1") == "OK"


def test_stale_temporary_files_are_removed(relay):
    """What a killed run leaves (temporary record and map files) goes
    after an hour; fresh ones, and other dot files, stay."""
    names = [".add.4242", ".pop-before-smtp.AbC123",
             ".pop-before-smtp.AbC123.db", ".add.4343", ".keep"]
    for n in names:
        (relay.spool / n).write_text("x")
    old = time.time() - 3700
    for n in names[:3] + [".keep"]:
        os.utime(relay.spool / n, (old, old))
    relay.add("192.0.2.1")
    assert sorted(e for e in os.listdir(relay.spool)
                  if e.startswith(".")) == [".add.4343", ".keep"]


def test_spool_writable_by_others_is_refused(relay):
    os.chmod(relay.spool, 0o775)
    rc, out = relay.add("192.0.2.1")
    assert (rc, out) == (1, "poprelay: spool %s: must be owned by uid %d "
                            "and writable by it alone\npoprelay: error: "
                            "spool %s\n" % (relay.spool, relay.nobody.pw_uid,
                                            relay.spool))
    assert relay.records() == []
    assert relay.update()[0] == 1


def test_update_command_line_of_the_spec(relay):
    """poprelay-update [-s SPOOL] [-p SECONDS] [-m] MAPFILE, with a
    configuration that names neither map nor postmap."""
    relay.add("192.0.2.1")
    relay.add("192.0.2.2")
    relay.age("192.0.2.2", 120)
    minimal = relay.area.path / "minimal.conf"
    minimal.write_text("postfix-config = %s\n" % relay.cf)
    other = relay.spool / "other-map"
    rc, out = relay.update("-f", str(minimal), "-s", str(relay.spool),
                           "-p", "60", "-m", str(other))
    assert (rc, out) == (0, "")
    assert other.read_text() == HEADER + "192.0.2.1 OK\n"
    assert Path(str(other) + ".db").exists()
    # Without -m: the text table alone.
    plain = relay.spool / "plain-map"
    assert relay.update("-f", str(minimal), "-s", str(relay.spool),
                        str(plain)) == (0, "")
    assert plain.read_text() == HEADER + "192.0.2.1 OK\n"
    assert not Path(str(plain) + ".db").exists()
    rc, out = relay.update("-f", str(minimal), "-p", "x", str(plain))
    assert rc == 64 and out.startswith("usage: poprelay-update")
    relay.conf.write_text("nonsense = 1\n")
    rc, out = relay.update()
    assert rc == 1 and out == "poprelay: %s:1: unknown key\n" % relay.conf


def test_shipped_units_and_cron_line(pop3d_bin):
    d = build_dir(pop3d_bin) / "contrib" / "poprelay"
    if not (d / "poprelay-update.timer").exists():
        pytest.skip("contrib/poprelay not built")
    timer = (d / "poprelay-update.timer").read_text()
    service = (d / "poprelay-update.service").read_text()
    cron = (d / "poprelay.cron").read_text()
    assert "OnUnitActiveSec=1min" in timer
    assert re.search(r"^ExecStart=/\S*/poprelay-update$", service, re.M)
    assert re.search(r"^User=poprelay$", service, re.M)
    lines = [l for l in cron.splitlines() if l and not l.startswith("#")]
    assert len(lines) == 1
    f = lines[0].split()
    assert f[:5] == ["*"] * 5 and f[5] == "poprelay" and \
        re.fullmatch(r"/\S*/poprelay-update", f[6])
    if shutil.which("systemd-analyze"):
        p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            str(d / "poprelay-update.timer")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        bad = [l for l in p.stdout.decode().splitlines()
               if "poprelay" in l and "not executable" not in l
               and "No such file" not in l]
        assert bad == [], p.stdout
