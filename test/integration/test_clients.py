"""Real clients against a socket-activated pop3d: Python's poplib, curl,
mpop and fetchmail.  Messages must arrive byte-exact (in each client's
own line-end convention) and deletions must take effect."""

import os
import poplib
import shutil
import subprocess

import pytest

from pop3lib import pop_size, wire_form

# Awkward but ordinary messages (RFC 5322 with CRLF or LF storage).
MSGS = [
    b"From: a@example.org\nSubject: dots\n\n.\n..\n.x\n...\nend\n",
    b"From: b@example.org\r\nSubject: crlf\r\n\r\nline\r\n.\r\n",
    b"From: c@example.org\nSubject: 8bit \xe9\n\n\xc3\xa9t\xc3\xa9 \xff\n",
    b"From: d@example.org\nSubject: no final newline\n\nlast",
    b"From: e@example.org\nSubject: blank lines\n\n\n\nx\n\n",
]


def _view(wire):
    """Wire form -> the message a client sees: dot-stuffing undone."""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in wire.split(b"\r\n")[:-1])


def _client_view(data):
    return _view(wire_form(data))


def _lf(data):
    """What a client that converts to LF stores: every line LF-ended."""
    return _client_view(data).replace(b"\r\n", b"\n")


@pytest.fixture
def loaded(alice):
    names = [alice.maildir.add(m).name for m in MSGS]
    return alice, names


# ---------------------------------------------------------------------------
# poplib

def test_poplib_session(server, loaded):
    alice, names = loaded
    srv = server()
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    assert p.getwelcome() == b"+OK POP3 server ready"
    caps = p.capa()
    assert set(caps) >= {"TOP", "USER", "UIDL", "RESP-CODES",
                         "PIPELINING", "SASL"}
    assert caps["SASL"] == ["PLAIN"]
    p.user("alice")
    p.pass_("alice-pw")
    count, size = p.stat()
    assert count == len(MSGS)
    assert size == sum(pop_size(m) for m in MSGS)
    resp, listing, _ = p.list()
    assert listing == [b"%d %d" % (i, pop_size(m))
                       for i, m in enumerate(MSGS, 1)]
    for i, m in enumerate(MSGS, 1):
        resp, lines, octets = p.retr(i)
        assert resp == b"+OK %d octets" % pop_size(m)
        assert b"".join(l + b"\r\n" for l in lines) == _client_view(m)
        resp, lines, _ = p.top(i, 1)
        assert b"".join(l + b"\r\n" for l in lines) == \
            _view(wire_form(m, 1))
    resp, uids, _ = p.uidl()
    assert len(set(u.split()[1] for u in uids)) == len(MSGS)
    p.dele(2)
    with pytest.raises(poplib.error_proto) as e:
        p.retr(2)
    assert e.value.args[0] == b"-ERR Message is deleted"
    p.rset()
    p.dele(1)
    assert p.quit() == b"+OK Bye"
    assert alice.maildir.find(names[0]) is None
    assert all(alice.maildir.find(n) for n in names[1:])


def test_poplib_utf8_and_stls_not_offered(server, alice):
    srv = server()
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    caps = p.capa()
    assert "STLS" not in caps        # tls = none by default
    with pytest.raises(poplib.error_proto):
        p.stls()
    p.quit()


def test_poplib_wrong_password(server, alice):
    srv = server()
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    p.user("alice")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("nope")
    assert e.value.args[0] == b"-ERR [AUTH] Authentication failed"
    p.quit()


# ---------------------------------------------------------------------------
# curl (pop3://)

def _curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr.decode("latin-1")


needs_curl = pytest.mark.skipif(not shutil.which("curl"), reason="no curl")


@needs_curl
@pytest.mark.parametrize("i", range(1, len(MSGS) + 1))
def test_curl_retr(server, loaded, i):
    alice, names = loaded
    srv = server()
    rc, out, err = _curl(srv.url(alice, str(i)))
    assert rc == 0, err
    # curl writes the message as sent, dot-stuffing undone, CRLF kept.
    assert out == _client_view(MSGS[i - 1])


@needs_curl
def test_curl_list(server, loaded):
    alice, names = loaded
    srv = server()
    rc, out, err = _curl(srv.url(alice))
    assert rc == 0, err
    assert out == b"".join(b"%d %d\r\n" % (i, pop_size(m))
                           for i, m in enumerate(MSGS, 1))
    rc, out2, err = _curl("-X", "LIST", srv.url(alice))
    assert rc == 0, err
    assert out2 == out


@needs_curl
def test_curl_list_size_is_what_curl_stores(server, loaded):
    """RFC 1939 §11: the size LIST gives is the octets the client stores
    (CRLF line ends, dot-stuffing undone), not the octets on the wire;
    message 1 has four lines that start with "."."""
    alice, names = loaded
    srv = server()
    rc, listing, err = _curl(srv.url(alice))
    assert rc == 0, err
    sizes = [int(l.split(b" ")[1]) for l in listing.split(b"\r\n")[:-1]]
    assert len(sizes) == len(MSGS)
    for i in range(1, len(MSGS) + 1):
        rc, out, err = _curl(srv.url(alice, str(i)))
        assert rc == 0, err
        assert sizes[i - 1] == len(out)
        if i == 1:
            out1 = out
    assert len(out1) == len(wire_form(MSGS[0])) - 4


@needs_curl
def test_curl_uidl_and_dele(server, loaded):
    alice, names = loaded
    srv = server()
    rc, out, err = _curl("-X", "UIDL", srv.url(alice))
    assert rc == 0, err
    lines = out.split(b"\r\n")
    assert lines[-1] == b""
    assert [l.split(b" ")[0] for l in lines[:-1]] == \
        [b"%d" % i for i in range(1, len(MSGS) + 1)]
    rc, out, err = _curl("-X", "DELE 3", "-I", srv.url(alice))
    assert rc == 0, err
    srv.wait_idle()
    assert alice.maildir.find(names[2]) is None
    assert len(alice.maildir.messages()) == len(MSGS) - 1


@needs_curl
def test_curl_wrong_password(server, alice):
    srv = server()
    rc, out, err = _curl("pop3://alice:wrong@127.0.0.1:%d/" % srv.port)
    assert rc == 67, (rc, err)      # CURLE_LOGIN_DENIED


# ---------------------------------------------------------------------------
# mpop

needs_mpop = pytest.mark.skipif(not shutil.which("mpop"), reason="no mpop")


def _mpop(area, srv, user, keep, out_maildir):
    from pop3lib import Maildir
    Maildir(out_maildir, 0, 0)
    rc = area.path / "mpoprc"
    rc.write_text(
        "defaults\n"
        "tls off\n"
        "account test\n"
        "host 127.0.0.1\n"
        "port %d\n"
        "auth user\n"
        "user %s\n"
        "password %s\n"
        "delivery maildir %s\n"
        "uidls_file %s\n"
        "keep %s\n"
        "received_header off\n"
        "only_new off\n"
        "account default : test\n"
        % (srv.port, user.name, user.password, out_maildir,
           area.path / "mpop-uidls", "on" if keep else "off"))
    os.chmod(rc, 0o600)
    p = subprocess.run(["mpop", "-C", str(rc), "-q"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("latin-1")


@needs_mpop
@pytest.mark.parametrize("keep", [True, False])
def test_mpop(server, area, loaded, keep):
    alice, names = loaded
    srv = server()
    out = area.path / "mpop-out"
    rc, text = _mpop(area, srv, alice, keep, out)
    assert rc == 0, text
    from pop3lib import Maildir
    got = Maildir(out, 0, 0, create=False).contents()
    # mpop stores with LF line ends and undoes the dot-stuffing.
    assert got == sorted(_lf(m) for m in MSGS)
    srv.wait_idle()
    if keep:
        assert all(alice.maildir.find(n) for n in names)
    else:
        assert alice.maildir.messages() == []


# ---------------------------------------------------------------------------
# fetchmail

needs_fetchmail = pytest.mark.skipif(not shutil.which("fetchmail"),
                                     reason="no fetchmail")


@needs_fetchmail
@pytest.mark.parametrize("keep", [True, False])
def test_fetchmail(server, area, loaded, keep):
    alice, names = loaded
    srv = server()
    outdir = area.path / "fetchmail-out"
    outdir.mkdir()
    home = area.path / "fetchmail-home"
    home.mkdir(mode=0o700)
    rc = area.path / "fetchmailrc"
    rc.write_text(
        "set no syslog\n"
        "set invisible\n"
        "poll 127.0.0.1 protocol pop3 port %d auth password\n"
        "  user \"alice\" there with password \"alice-pw\" is root here\n"
        "  mda \"/bin/sh -c 'cat > %s/msg.$$'\"\n"
        "  %s fetchall sslproto ''\n"
        % (srv.port, outdir, "keep" if keep else "no keep"))
    os.chmod(rc, 0o600)
    env = dict(os.environ, FETCHMAILHOME=str(home), HOME=str(home))
    p = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog",
                        "--pidfile", str(home / "pid"), "-v"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    text = p.stdout.decode("latin-1")
    assert p.returncode == 0, text
    got = sorted(f.read_bytes() for f in outdir.iterdir())
    # fetchmail hands the MDA LF line ends, dot-stuffing undone.
    assert got == sorted(_lf(m) for m in MSGS), text
    srv.wait_idle()
    if keep:
        assert all(alice.maildir.find(n) for n in names)
    else:
        assert alice.maildir.messages() == []
