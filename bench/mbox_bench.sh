#!/bin/sh
# mbox speed (issue 3, item 7): a 1 GiB mbox of 50,000 messages under
# /var/tmp; login, STAT and UIDL through the real pop3d (as root: it
# switches to the mailbox owner), timed against `cat FILE >/dev/null` in
# the same run, with the peak RSS of the session process.
#
#   bench/mbox_bench.sh [BUILD_DIR] [RUNS]
#
# BUILD_DIR defaults to build (needs BUILD_DIR/pop3d); RUNS to 5.  The
# mbox is generated once and kept in /var/tmp/pop3d-mbox-bench (set
# MBOX_BENCH_DIR to move it; never /tmp); MBOX_BENCH_MIB and
# MBOX_BENCH_MSGS change the size.  The page cache is warm for both cat
# and pop3d: the figure is the cost of parsing, not of the disk.
set -eu

build=${1:-build}
runs=${2:-5}
dir=${MBOX_BENCH_DIR:-/var/tmp/pop3d-mbox-bench}
mib=${MBOX_BENCH_MIB:-1024}
msgs=${MBOX_BENCH_MSGS:-50000}
pop3d=$(cd "$build" && pwd)/pop3d
py=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
	echo "mbox_bench: run as root (pop3d switches to the user)" >&2
	exit 1
fi
if [ ! -x "$pop3d" ]; then
	echo "mbox_bench: no $pop3d" >&2
	exit 1
fi

exec "$py" - "$pop3d" "$dir" "$mib" "$msgs" "$runs" <<'EOF'
import os, subprocess, sys, time

pop3d, d, mib, msgs, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5])
uid, gid = 5999, 8                      # gid 8: mail, as on Debian
spool = os.path.join(d, "spool")
mbox = os.path.join(spool, "bench")
want = mib << 20


def generate():
    """Realistic messages: trace headers on top, ~1.5 KiB of header,
    72-column body lines, a few dot lines and >From lines."""
    os.makedirs(spool, exist_ok=True)
    per = want // msgs
    line = (b"The quick brown fox jumps over the lazy dog; "
            b"pack my box with five dozen jugs.")[:71] + b"\n"
    tmp = mbox + ".tmp"
    with open(tmp, "wb", buffering=1 << 20) as f:
        total = 0
        for i in range(msgs):
            date = "Sat, %02d Nov 2025 %02d:%02d:%02d +0000" % (
                1 + i % 28, i % 24, i % 60, (i * 7) % 60)
            hdr = ("From sender%d@example.org Sat Nov 21 08:40:%02d 2025\n"
                   "Return-Path: <sender%d@example.org>\n"
                   "Delivered-To: bench@example.net\n"
                   "Received: from mx.example.org (mx.example.org "
                   "[192.0.2.%d])\n\tby mail.example.net (Postfix) with "
                   "ESMTPS id 4Q%08X\n\tfor <bench@example.net>; %s\n"
                   "Received: from client (client.example.org "
                   "[198.51.100.%d])\n\tby mx.example.org (Postfix) with "
                   "ESMTPSA id 9Z%08X;\n\t%s\n"
                   "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
                   "d=example.org; s=mail;\n\th=from:to:subject:date; "
                   "bh=%040x;\n\tb=%0200x\n"
                   "From: Sender %d <sender%d@example.org>\n"
                   "To: bench@example.net\nSubject: message number %d\n"
                   "Date: %s\nMessage-ID: <%d.%08X@example.org>\n"
                   "MIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=utf-8\n\n") % (
                i % 100, i % 60, i % 100, i % 250, i, date, i % 250,
                i * 31, date, i * 2654435761, i * 40503, i % 100, i % 100,
                i, date, i, i * 7919)
            hb = hdr.encode()
            nlines = max(1, (per - len(hb) - 1) // len(line))
            body = bytearray(line * nlines)
            body[0:1] = b"."            # a dot line to stuff
            j = len(line) * (nlines // 2)
            body[j:j + 6] = b">From "
            f.write(hb)
            f.write(body)
            f.write(b"\n")
            total += len(hb) + len(body) + 1
    os.rename(tmp, mbox)


if not os.path.exists(mbox) or abs(os.path.getsize(mbox) - want) > want // 20:
    print("generating %s (%d MiB, %d messages)..." % (mbox, mib, msgs))
    generate()
os.chmod(d, 0o755)
os.chown(spool, 0, gid)
os.chmod(spool, 0o2775)
os.chown(mbox, uid, gid)
os.chmod(mbox, 0o660)
users = os.path.join(d, "users")
with open(users, "w") as f:
    f.write("bench:{PLAIN}pw:%d:%d::%s::\n" % (uid, gid, d))
os.chmod(users, 0o600)
size = os.path.getsize(mbox)


def timed_cat():
    t = time.monotonic()
    subprocess.run("cat %s >/dev/null" % mbox, shell=True, check=True)
    return time.monotonic() - t


def hwm(pid):
    """Peak RSS (KiB) of the processes of the tree rooted at pid."""
    best = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/status" % p).read()
            ppid = int(st.split("PPid:")[1].split()[0])
            tg = int(st.split("Tgid:")[1].split()[0])
        except (OSError, IndexError):
            continue
        if ppid == pid or tg == pid:
            best = max(best, int(st.split("VmHWM:")[1].split()[0]))
    return best


def session():
    argv = [pop3d, "-o", "auth=file", "-o", "auth-file=" + users,
            "-o", "maildrop=mbox:%s/%%u" % spool, "-o", "fail-delay=0"]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    rd = p.stdout

    def line():
        return rd.readline()

    assert line().startswith(b"+OK")
    t = time.monotonic()
    p.stdin.write(b"USER bench\r\nPASS pw\r\nSTAT\r\nUIDL\r\n")
    p.stdin.flush()
    assert line().startswith(b"+OK")
    assert line().startswith(b"+OK Logged in")
    stat = line()
    assert stat.startswith(b"+OK %d " % msgs), stat
    assert line().startswith(b"+OK")
    n = 0
    while line() != b".\r\n":
        n += 1
    elapsed = time.monotonic() - t
    peak = hwm(p.pid)
    p.stdin.write(b"QUIT\r\n")
    p.stdin.close()
    p.wait()
    assert n == msgs
    return elapsed, peak, stat.decode().strip()


timed_cat()                               # warm the page cache
cats, pops, peaks = [], [], []
for _ in range(runs):
    cats.append(timed_cat())
    e, peak, stat = session()
    pops.append(e)
    peaks.append(peak)
cats.sort()
pops.sort()
cat_t, pop_t = cats[len(cats) // 2], pops[len(pops) // 2]
mb = size / 1e6
print("mbox: %s, %.0f MB, %d messages (%s)" % (mbox, mb, msgs, stat))
print("cat FILE >/dev/null : %.3f s  %7.0f MB/s  (median of %d)" %
      (cat_t, mb / cat_t, runs))
print("login+STAT+UIDL     : %.3f s  %7.0f MB/s  (median of %d; "
      "best %.3f s)" % (pop_t, mb / pop_t, runs, pops[0]))
print("ratio to cat        : %.2f" % (pop_t / cat_t))
print("peak RSS of the session process: %.1f MiB" % (max(peaks) / 1024))
EOF
