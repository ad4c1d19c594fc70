"""The onlogin program through pop3d (docs/onlogin.md "The contract";
DESIGN.md "The onlogin program"), clause by clause: argv without a shell, exactly the
POP3_* environment, descriptors 0/1/2 and no other, default signals and
an empty mask, its own session and process group, the uid/gid it runs
as, wait and no wait, the deadline (with a grandchild), exit 75, a
missing or non-executable program, output floods, the log line, and that
it runs before the maildrop is locked.

The program is mostly test/test_spawn in "probe" mode (test/unit/
test_spawn.c), copied into the area: it writes what it inherited to a
file.  Shell scripts stand in for hung and misbehaving programs."""

import os
import re
import shutil
import signal
import socket
import stat
import time
from pathlib import Path

import pytest

from pop3lib import Client, descendants, proc_status, vm_hwm_kib

# The reply to a login that the onlogin program refuses (exit 75, or a
# failure with onlogin-failure = deny); the session closes after it.
DENY = "-ERR [SYS/TEMP] Login refused, try again later"
USER_OK = "+OK User name accepted, password please"
LOGGED_IN = "+OK Logged in"
FAILED = "-ERR [AUTH] Authentication failed"
HOOK_PATH = "PATH=/usr/local/bin:/usr/bin:/bin"


def build_dir(pop3d_bin):
    return Path(os.environ.get("POP3D_BUILDDIR") or Path(pop3d_bin).parent)


class Hook:
    """AREA/bin (0755, root) holds the programs; AREA/out (1777) is where
    they write, whatever user they run as."""

    def __init__(self, area, pop3d_bin):
        self.area = area
        self.bin = area.path / "bin"
        self.out = area.path / "out"
        self.bin.mkdir(mode=0o755)
        self.out.mkdir()
        os.chmod(self.out, 0o1777)
        src = build_dir(pop3d_bin) / "test" / "test_spawn"
        if not src.exists():
            pytest.skip("test_spawn (the probe) not built: %s" % src)
        self.probe = self.bin / "probe"
        shutil.copy(src, self.probe)
        os.chmod(self.probe, 0o755)

    def script(self, name, body):
        p = self.bin / name
        p.write_text(body)
        os.chmod(p, 0o755)
        return p

    def probe_cmd(self, name="report", status=None):
        cmd = "%s probe %s" % (self.probe, self.out / name)
        return cmd if status is None else "%s %d" % (cmd, status)

    def report(self, name="report"):
        """The probe's report: {key: [values]} in order."""
        out = {}
        for line in (self.out / name).read_text().splitlines():
            k, _, v = line.partition("=")
            out.setdefault(k, []).append(v)
        return out

    def read(self, name):
        return (self.out / name).read_text()

    def exists(self, name):
        return (self.out / name).exists()


@pytest.fixture
def hook(area, pop3d_bin, require_option):
    require_option("onlogin=/bin/true")
    return Hook(area, pop3d_bin)


def onlogin_lines(log):
    """The `onlogin user=... status=...` lines, without the pid prefix."""
    return [l.split("]: ", 1)[1] for l in log.splitlines()
            if "]: onlogin user=" in l and " status=" in l]


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return True
    return data[data.rindex(")") + 2] == "Z"


def login_reply(s, user):
    s.expect_reply("USER %s" % user.name, USER_OK)
    return s.cmd("PASS %s" % user.password)


def denied(s, user):
    assert login_reply(s, user) == DENY
    s.expect_eof()


# ---------------------------------------------------------------------------
# What the program gets

def test_environment_is_exactly_the_spec(session, hook, alice, area):
    """Only the variables of docs/onlogin.md; the parent's LD_PRELOAD,
    IFS, TZ (and a forged POP3_USER) do not reach it."""
    env = {"LD_PRELOAD": "/nonexistent/evil.so", "IFS": "x",
           "TZ": "../../etc/shadow", "POP3_USER": "mallory",
           "PATH": "/nonexistent", "HOME": "/root"}
    s = session(options={"onlogin": hook.probe_cmd()}, env=env, login=alice)
    r = hook.report()
    assert sorted(r["env"]) == sorted([
        "POP3_USER=alice", "POP3_LOCAL_PART=alice", "POP3_DOMAIN=",
        "POP3_HOME=%s" % alice.home, "POP3_UID=%d" % alice.uid,
        "POP3_GID=%d" % alice.gid,
        "POP3_MAILDROP=maildir:%s" % alice.maildir.path,
        "POP3_STATE_DIR=%s/%d" % (area.state, alice.uid),
        "POP3_CLIENT_ADDR=local", "POP3_CLIENT_PORT=",
        "POP3_SERVER_ADDR=local", "POP3_SERVER_PORT=",
        "POP3_AUTH_METHOD=USER", HOOK_PATH])
    s.quit()


def test_environment_domain_and_tcp_endpoints(server, hook, area):
    """user@domain is split; the endpoints are those of the TCP socket."""
    u = area.add_user("carol@example.org", "c-pw")
    srv = server(options={"onlogin": hook.probe_cmd()})
    c = srv.connect(login=u)
    mine = c.sock.getsockname()
    r = hook.report()
    env = dict(e.split("=", 1) for e in r["env"])
    assert env["POP3_USER"] == "carol@example.org"
    assert env["POP3_LOCAL_PART"] == "carol"
    assert env["POP3_DOMAIN"] == "example.org"
    assert env["POP3_CLIENT_ADDR"] == "127.0.0.1"
    assert env["POP3_CLIENT_PORT"] == str(mine[1])
    assert env["POP3_SERVER_ADDR"] == "127.0.0.1"
    assert env["POP3_SERVER_PORT"] == str(srv.port)
    assert env["POP3_MAILDROP"] == "maildir:%s" % (area.mail /
                                                   "carol@example.org")
    c.quit()


def test_auth_method_sasl_plain(session, hook, alice):
    import base64
    s = session(options={"onlogin": hook.probe_cmd()})
    token = base64.b64encode(b"\0alice\0alice-pw").decode()
    assert s.cmd("AUTH PLAIN %s" % token) == LOGGED_IN
    assert "POP3_AUTH_METHOD=SASL-PLAIN" in hook.report()["env"]
    s.quit()


def test_argv_fixed_no_shell(session, hook, alice):
    """The words of `onlogin`, split on blanks, as argv (no shell);
    shell syntax stays inert text."""
    cmd = "%s\tprobe  %s ;id $(id) `id` *" % (hook.probe,
                                              hook.out / "report")
    s = session(options={"onlogin": cmd}, login=alice)
    assert hook.report()["argv"] == [str(hook.probe), "probe",
                                     str(hook.out / "report"), ";id",
                                     "$(id)", "`id`", "*"]
    s.quit()


@pytest.mark.parametrize("name", ["-x", "a;id", "$(id)", "`id`"])
def test_hostile_login_names_never_reach_it(session, hook, area, alice,
                                            name):
    """A name the rules refuse is refused before the program could see
    it: no program runs at all."""
    area.add_line("%s:{PLAIN}pw:5009:5009::%s::" % (name, area.homes))
    s = session(options={"onlogin": hook.probe_cmd()})
    s.expect_reply("USER %s" % name, USER_OK)
    assert s.cmd("PASS pw") == FAILED
    assert not hook.exists("report")
    s.quit()


def _block_and_ignore():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGINT,
                                              signal.SIGTERM})
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def test_descriptors_signals_session(session, hook, alice, area):
    """docs/onlogin.md "Descriptors", "Process": pop3d started with extra
    descriptors, blocked
    and ignored signals: the program still gets /dev/null, the pipe and
    /dev/null (no -d) and nothing else, default signals, an empty mask,
    its own session and process group, umask 077, cwd /."""
    extra = os.open(area.users_file, os.O_RDONLY)
    try:
        args = []
        for k, v in dict(area.options(), onlogin=hook.probe_cmd()).items():
            args += ["-o", "%s=%s" % (k, v)]
        s = session(args=args, pass_fds=(extra,),
                    preexec_fn=_block_and_ignore)
    finally:
        os.close(extra)
    s.login("alice", "alice-pw")
    r = hook.report()
    fds = r["fd"]
    assert len(fds) == 3, fds
    assert fds[0] == "0 /dev/null"
    assert re.fullmatch(r"1 pipe:\[\d+\]", fds[1]), fds
    assert fds[2] == "2 /dev/null"
    assert r["SigBlk"] == ["0000000000000000"]
    assert r["SigIgn"] == ["0000000000000000"]
    pid = int(r["pid"][0])
    assert r["pgid"] == [str(pid)] and r["sid"] == [str(pid)]
    assert r["umask"] == ["0077"] and r["cwd"] == ["/"]
    s.quit()


def test_stderr_is_the_log_with_d(session, hook, alice):
    """docs/onlogin.md: fd 2 is /dev/null or, with -d, pop3d's stderr."""
    s = session(options={"onlogin": hook.probe_cmd()}, login=alice)
    fds = hook.report()["fd"]
    assert fds[2] == "2 %s" % s.log_path
    s.quit()


def test_runs_as_the_user(session, hook, alice):
    """docs/onlogin.md "Identity": the authenticated user's uid and gid,
    and (for a
    virtual user) no other group; root is gone for good."""
    s = session(options={"onlogin": hook.probe_cmd()}, login=alice)
    r = hook.report()
    assert r["uid"] == ["%d %d %d" % ((alice.uid,) * 3)]
    assert r["gid"] == ["%d %d %d" % ((alice.gid,) * 3)]
    assert r["groups"] == [str(alice.gid)]
    s.quit()


def test_onlogin_user(session, hook, alice):
    """onlogin-user = nobody: its uid, gid and groups (initgroups)."""
    import pwd
    nobody = pwd.getpwnam("nobody")
    s = session(options={"onlogin": hook.probe_cmd(),
                         "onlogin-user": "nobody"}, login=alice)
    r = hook.report()
    assert r["uid"] == ["%d %d %d" % ((nobody.pw_uid,) * 3)]
    assert r["gid"] == ["%d %d %d" % ((nobody.pw_gid,) * 3)]
    want = sorted(set(os.getgrouplist("nobody", nobody.pw_gid)))
    assert sorted(int(g) for g in r["groups"][0].split()) == want
    s.quit()


def test_onlogin_user_root_only_when_named(session, hook, alice, area):
    """Root only with onlogin-user = root; an unknown onlogin-user is a
    configuration error (pop3d -t)."""
    s = session(options={"onlogin": hook.probe_cmd(),
                         "onlogin-user": "root"}, login=alice)
    assert hook.report()["uid"] == ["0 0 0"]
    s.quit()
    s = session(options={"onlogin": hook.probe_cmd(),
                         "onlogin-user": "no-such-user-xyz"}, greeting=False)
    s.expect("-ERR [SYS/PERM] Server configuration error")
    s.expect_eof()


def test_relative_program_is_a_config_error(session, hook):
    s = session(options={"onlogin": "probe probe"}, greeting=False)
    s.expect("-ERR [SYS/PERM] Server configuration error")
    s.expect_eof()
    assert "onlogin: the program must be an absolute path" in s.log()


# ---------------------------------------------------------------------------
# Waiting, the deadline, verdicts

def test_wait_yes_runs_before_the_maildrop_is_locked(session, hook, alice):
    """The login waits for the program; it runs before pop3d opens and
    locks the maildrop (the session lock, KEY.lock in the state
    directory, does not exist before the first session), so it finds the
    maildrop free -- and the session starts after it has finished."""
    prog = hook.script("check.sh", "#!/bin/sh\nsleep 1\n"
                       "if ls \"$POP3_STATE_DIR\"/*.lock >/dev/null 2>&1; "
                       "then echo maildrop locked; else echo maildrop free; "
                       "fi\necho done > %s/finished\n" % hook.out)
    s = session(options={"onlogin": str(prog)})
    t0 = time.monotonic()
    assert login_reply(s, alice) == LOGGED_IN
    assert time.monotonic() - t0 >= 0.9
    assert hook.exists("finished")
    assert "onlogin user=alice status=0 maildrop free" in \
        onlogin_lines(s.log())
    s.quit()


def _session_socket_inode(pid):
    return os.readlink("/proc/%d/fd/0" % pid)


def _holders(target):
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % e):
                if os.readlink("/proc/%s/fd/%s" % (e, fd)) == target:
                    out.append(int(e))
                    break
        except OSError:
            pass
    return out


def test_wait_no(session, hook, alice):
    """onlogin-wait = no: the session goes on at once; the program is not
    pop3d's child (no zombie to reap), holds no descriptor of the session,
    and its end is logged all the same."""
    prog = hook.script("slow.sh", "#!/bin/sh\necho $$ > %s/slow.pid\n"
                       "sleep 2\necho slept\nexit 3\n" % hook.out)
    s = session(options={"onlogin": str(prog), "onlogin-wait": "no"})
    sock = _session_socket_inode(s.pid)
    t0 = time.monotonic()
    assert login_reply(s, alice) == LOGGED_IN
    assert time.monotonic() - t0 < 1.5
    assert wait_for(lambda: hook.exists("slow.pid") and
                    hook.read("slow.pid").strip())
    prog_pid = int(hook.read("slow.pid"))
    assert not gone(prog_pid)
    tree = descendants(s.pid)
    assert prog_pid not in tree
    assert all(proc_status(p)["State"][0] != "Z" for p in tree)
    assert set(_holders(sock)) <= set(tree), _holders(sock)
    assert s.cmd("STAT") == "+OK 0 0"
    assert wait_for(lambda: "onlogin user=alice status=3 slept" in
                    onlogin_lines(s.log()), 10)
    s.quit()


def test_wait_no_deny_is_a_config_error(session, hook):
    s = session(options={"onlogin": "/bin/true", "onlogin-wait": "no",
                         "onlogin-failure": "deny"}, greeting=False)
    s.expect("-ERR [SYS/PERM] Server configuration error")
    s.expect_eof()


HANG = """#!/bin/sh
sleep 300 &
echo $! > %(out)s/grandchild.pid
echo $$ > %(out)s/child.pid
echo started
exec sleep 300
"""


@pytest.mark.parametrize("failure", ["ignore", "deny"])
def test_timeout_kills_the_process_group(session, hook, alice, failure):
    """At onlogin-timeout the program and the grandchild
    it started are killed (its process group); then onlogin-failure."""
    prog = hook.script("hang.sh", HANG % {"out": hook.out})
    s = session(options={"onlogin": str(prog), "onlogin-timeout": "1",
                         "onlogin-failure": failure})
    t0 = time.monotonic()
    r = login_reply(s, alice)
    took = time.monotonic() - t0
    assert 0.9 <= took < 5, took
    child = int(hook.read("child.pid"))
    grandchild = int(hook.read("grandchild.pid"))
    assert wait_for(lambda: gone(child) and gone(grandchild), 5)
    assert "onlogin user=alice status=137 started" in onlogin_lines(s.log())
    assert "still running after 1 s, its process group was killed" in s.log()
    if failure == "deny":
        assert r == DENY
        s.expect_eof()
    else:
        assert r == LOGGED_IN
        s.quit()


def test_grandchild_holding_stdout_does_not_delay(session, hook, alice):
    """A program that exits at once but leaves a grandchild holding its
    stdout: the login goes on when the program ends."""
    prog = hook.script("bg.sh", "#!/bin/sh\nsleep 300 &\n"
                       "echo $! > %s/bg.pid\necho bye\n" % hook.out)
    s = session(options={"onlogin": str(prog), "onlogin-timeout": "20",
                         "onlogin-failure": "deny"})
    t0 = time.monotonic()
    assert login_reply(s, alice) == LOGGED_IN
    assert time.monotonic() - t0 < 5
    assert "onlogin user=alice status=0 bye" in onlogin_lines(s.log())
    os.kill(int(hook.read("bg.pid")), signal.SIGKILL)
    s.quit()


@pytest.mark.parametrize("failure", ["ignore", "deny"])
def test_exit_75_refuses_whatever_the_policy(session, hook, alice, failure):
    s = session(options={"onlogin": hook.probe_cmd(status=75),
                         "onlogin-failure": failure})
    denied(s, alice)
    assert "onlogin user=alice status=75 probe done" in \
        onlogin_lines(s.log())


@pytest.mark.parametrize("failure,want", [("ignore", LOGGED_IN),
                                          ("deny", DENY)])
def test_other_exit_status_follows_the_policy(session, hook, alice, failure,
                                              want):
    s = session(options={"onlogin": hook.probe_cmd(status=1),
                         "onlogin-failure": failure})
    assert login_reply(s, alice) == want
    assert "onlogin user=alice status=1 probe done" in onlogin_lines(s.log())
    if want == DENY:
        s.expect_eof()
    else:
        s.quit()


def test_killed_by_a_signal(session, hook, alice):
    prog = hook.script("term.sh", "#!/bin/sh\nkill -TERM $$\n")
    s = session(options={"onlogin": str(prog), "onlogin-failure": "deny"})
    denied(s, alice)
    assert "onlogin user=alice status=143" in onlogin_lines(s.log())


@pytest.mark.parametrize("failure,want", [("ignore", LOGGED_IN),
                                          ("deny", DENY)])
def test_missing_program(session, hook, alice, failure, want):
    s = session(options={"onlogin": str(hook.bin / "missing"),
                         "onlogin-failure": failure})
    assert login_reply(s, alice) == want
    assert "onlogin user=alice status=127" in onlogin_lines(s.log())
    assert "%s: execve: No such file or directory" % (hook.bin / "missing") \
        in s.log()
    if want == DENY:
        s.expect_eof()
    else:
        s.quit()


@pytest.mark.parametrize("failure,want", [("ignore", LOGGED_IN),
                                          ("deny", DENY)])
def test_non_executable_program(session, hook, alice, failure, want):
    p = hook.bin / "noexec"
    p.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(p, 0o644)
    s = session(options={"onlogin": str(p), "onlogin-failure": failure})
    assert login_reply(s, alice) == want
    assert "onlogin user=alice status=126" in onlogin_lines(s.log())
    assert "execve: Permission denied" in s.log()
    if want == DENY:
        s.expect_eof()
    else:
        s.quit()


# ---------------------------------------------------------------------------
# Its output

def test_output_flood_neither_blocks_nor_bloats(session, hook, alice):
    """100 MB on stdout: read and dropped as it comes; pop3d's memory
    stays where it is without the flood; the first line is logged."""
    base = session(options={"onlogin": hook.probe_cmd("base")}, login=alice)
    base_hwm = vm_hwm_kib(base.pid)
    base.quit()
    s = session(options={"onlogin": "%s flood 100000000" % hook.probe,
                         "onlogin-timeout": "60"})
    assert login_reply(s, alice) == LOGGED_IN
    assert "onlogin user=alice status=0 flood starts" in \
        onlogin_lines(s.log())
    assert vm_hwm_kib(s.pid) - base_hwm < 8 * 1024
    s.quit()


def test_endless_flood_is_killed(session, hook, alice):
    s = session(options={"onlogin": "/usr/bin/yes", "onlogin-timeout": "1"})
    assert login_reply(s, alice) == LOGGED_IN
    assert "onlogin user=alice status=137 y" in onlogin_lines(s.log())
    s.quit()


def test_first_line_logged_escaped_and_bounded(session, hook, alice):
    s = session(options={"onlogin": "%s line" % hook.probe}, login=alice)
    want = ("onlogin user=alice status=0 "
            "esc\\x1b[31m\\x09tab\\x5c \\x01\\xff|" + "a" * (200 - 17) +
            "...")
    assert want in onlogin_lines(s.log()), onlogin_lines(s.log())
    s.quit()


def test_no_output_logs_status_alone(session, hook, alice):
    s = session(options={"onlogin": "/bin/true"}, login=alice)
    assert "onlogin user=alice status=0" in onlogin_lines(s.log())
    s.quit()


def test_not_configured_runs_nothing(session, alice):
    s = session(login=alice)
    assert onlogin_lines(s.log()) == []
    s.quit()
