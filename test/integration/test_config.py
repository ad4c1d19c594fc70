"""Command line and configuration: pop3d -t, pop3d -V, and what a client
sees when the server is started with a bad configuration."""

import subprocess

import pytest

from pop3lib import mkpasswd

CONF_ERR = b"-ERR [SYS/PERM] Server configuration error\r\n"


def _run(pop3d_bin, *args, timeout=10):
    p = subprocess.run([str(pop3d_bin)] + [str(a) for a in args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("latin-1")


@pytest.fixture
def users(scratch):
    """A valid users file in scratch."""
    f = scratch / "users"
    f.write_text("# test users\n\nalice:{PLAIN}pw:5001:5001::/nonexistent::\n"
                 "bob:%s:5002:5002::/nonexistent::\n"
                 "carol:{CRYPT}%s:5003:5003::/nonexistent::\n"
                 % (mkpasswd("pw", "sha-512"), mkpasswd("pw")))
    return f


def _base(users):
    return ["-o", "auth=file", "-o", "auth-file=%s" % users,
            "-o", "maildrop=maildir:/var/mail/%u"]


def test_check_good_options(pop3d_bin, users):
    rc, out = _run(pop3d_bin, "-t", *_base(users))
    assert rc == 0, out


def test_check_good_file(pop3d_bin, scratch, users):
    conf = scratch / "pop3d.conf"
    conf.write_text(
        "# pop3d test configuration\n"
        "\n"
        "auth = file\n"
        "auth-file = %s\n"
        "maildrop=maildir:/var/mail/%%u\n"
        "   timeout   =   700   \n"
        "max-failures = 5   # trailing comment\n"
        "fail-delay = 2\n"
        "greeting = Welcome to the test server\n"
        "\t\n" % users)
    rc, out = _run(pop3d_bin, "-t", "-f", conf)
    assert rc == 0, out


def test_check_option_overrides_file(pop3d_bin, scratch, users):
    conf = scratch / "pop3d.conf"
    conf.write_text("auth = file\nauth-file = /nonexistent/users\n"
                    "maildrop = maildir:/var/mail/%u\n")
    rc, out = _run(pop3d_bin, "-t", "-f", conf, "-o",
                   "auth-file=%s" % users)
    assert rc == 0, out


@pytest.mark.parametrize("line", [
    "bogus-key = 1",
    "timeout = abc",
    "timeout = -1",
    "timeout = 10x",
    "timeout = 99999999999999999999999",
    "max-failures = x",
    "fail-delay = -3",
    "maildrop = nosuchformat:/var/mail/%u",
    "auth = nosuchbackend",
    "onlogin-wait = maybe",
    "plaintext-auth = perhaps",
    "apop = 2",
    "tls = bogus",
    "no equals sign here",
    "= value without key",
])
def test_check_bad_line_reported_with_line_number(pop3d_bin, scratch, users,
                                                  line):
    conf = scratch / "bad.conf"
    conf.write_text("# line 1\nauth = file\nauth-file = %s\n"
                    "maildrop = maildir:/var/mail/%%u\n%s\n\n" % (users, line))
    rc, out = _run(pop3d_bin, "-t", "-f", conf)
    assert rc == 1, out
    assert "%s:5:" % conf in out, out


def test_check_reports_every_bad_line(pop3d_bin, scratch, users):
    conf = scratch / "bad.conf"
    conf.write_text("auth = file\nauth-file = %s\nfoo = 1\n"
                    "timeout = zz\nmaildrop = maildir:/var/mail/%%u\n"
                    % users)
    rc, out = _run(pop3d_bin, "-t", "-f", conf)
    assert rc == 1, out
    assert "%s:3:" % conf in out and "%s:4:" % conf in out, out


def test_check_missing_file(pop3d_bin, scratch):
    missing = scratch / "does-not-exist.conf"
    rc, out = _run(pop3d_bin, "-t", "-f", missing)
    assert rc == 1, out
    assert str(missing) in out, out


@pytest.mark.parametrize("opt", ["bogus=1", "timeout=abc", "timeout",
                                 "=1", "maildrop=nosuch:/x"])
def test_check_bad_option(pop3d_bin, users, opt):
    rc, out = _run(pop3d_bin, "-t", *_base(users), "-o", opt)
    assert rc == 1, out
    assert out.strip(), "no message"


def test_check_malformed_users_file(pop3d_bin, scratch):
    users = scratch / "users"
    users.write_text("alice:{PLAIN}pw:5001:5001::/nonexistent::\n"
                     "this line has no colons\n"
                     "carol:{MD5}0123456789abcdef:5003:5003::/x::\n")
    rc, out = _run(pop3d_bin, "-t", *_base(users))
    assert rc == 1, out
    assert "%s:2:" % users in out, out
    assert "%s:3:" % users in out, out


def test_bad_usage(pop3d_bin):
    rc, out = _run(pop3d_bin, "-Z")
    assert rc != 0
    assert out.strip()
    rc, out = _run(pop3d_bin, "-t", "extra-argument")
    assert rc != 0


def test_version(pop3d_bin, pop3d_version):
    rc, out = _run(pop3d_bin, "-V")
    assert rc == 0, out
    assert pop3d_version in out, out
    low = out.lower()
    for word in ("file", "unix", "pam", "mbox", "maildir"):
        assert word in low, (word, out)


# ---------------------------------------------------------------------------
# Serving with a bad configuration: the client is told.

@pytest.mark.parametrize("extra", [
    ["-o", "bogus=1"],
    ["-o", "timeout=abc"],
    ["-f", "/nonexistent/pop3d.conf"],
])
def test_serving_with_bad_config(session, area, extra):
    args = ["-d"]
    for k, v in area.options().items():
        args += ["-o", "%s=%s" % (k, v)]
    s = session(args=args + extra, greeting=False)
    assert s.read_until_eof() == CONF_ERR
    assert s.wait() != 0
    assert s.log().strip()


def test_serving_with_bad_config_file(session, area):
    conf = area.path / "bad.conf"
    conf.write_text("auth = file\nauth-file = %s\nwhatever = 1\n"
                    % area.users_file)
    s = session(args=["-d", "-f", str(conf)], greeting=False)
    assert s.read_until_eof() == CONF_ERR
    assert "%s:3:" % conf in s.log()


def test_serving_with_good_config_file(session, area, alice):
    alice.maildir.add(b"Subject: x\n\n")
    conf = area.path / "good.conf"
    conf.write_text("# test\nauth = file\nauth-file = %s\n"
                    "maildrop = maildir:%s/%%u\nfail-delay = 0\n"
                    "greeting = Config file works\nstate-dir = %s\n"
                    % (area.users_file, area.mail, area.state))
    s = session(args=["-d", "-f", str(conf)], greeting=False)
    s.expect("+OK Config file works")
    s.login("alice", "alice-pw")
    s.expect_reply("STAT", "+OK 1 14")
    s.quit()
