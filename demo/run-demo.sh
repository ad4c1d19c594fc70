#!/usr/bin/env bash
# pop3d quick start, on Debian 12 as root:
#
#   sudo bash demo/run-demo.sh
#
# Installs the build dependencies, builds pop3d in build/, creates a
# virtual user "demo" (password "demo") whose maildir holds two messages,
# and serves it on 127.0.0.1:8110 in the foreground until Ctrl-C.  Running
# it again puts the two messages back.  Everything it creates:
#
#   /etc/pop3d-demo/        pop3d.conf and the users file
#   /var/lib/pop3d-demo/    home of the system user pop3demo, Maildir/
#   accounts pop3d (privsep-user) and pop3demo
#
# PORT=NNNN changes the port.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port=${PORT:-8110}
etc=/etc/pop3d-demo
home=/var/lib/pop3d-demo
build=build

if [ "$(id -u)" != 0 ]; then
	echo "run-demo: run it as root: sudo bash demo/run-demo.sh" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null; then
	echo "run-demo: this script is for Debian 12 (apt-get)" >&2
	exit 1
fi
mkdir -p "$etc" "$home"
chmod 755 "$etc" "$home"

echo "== packages (log: $home/apt.log)"
bash .ci/install-deps build "$home/apt.log"

echo "== build ($build/)"
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >"$home/meson.log" 2>&1 ||
	    { cat "$home/meson.log"; exit 1; }
fi
meson compile -C "$build" >"$home/meson.log" 2>&1 ||
    { cat "$home/meson.log"; exit 1; }

echo "== accounts"
# The pre-authentication dialogue runs as `pop3d` (privsep-user).
if ! getent passwd pop3d >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin pop3d
fi
# The demo user's mail belongs to this system account; "demo" itself
# exists only in the users file.
if ! getent passwd pop3demo >/dev/null; then
	useradd --system --user-group --no-create-home --home-dir "$home" \
	    --shell /usr/sbin/nologin pop3demo
fi
uid=$(id -u pop3demo)
gid=$(id -g pop3demo)

# name:password:uid:gid:gecos:home:shell:extra (Dovecot's passwd-file).
umask 077
printf 'demo:%s:%s:%s::%s::\n' "$(mkpasswd -m yescrypt demo)" \
    "$uid" "$gid" "$home" >"$etc/users"
cat >"$etc/pop3d.conf" <<EOF
# pop3d demo (demo/run-demo.sh); see pop3d.conf(5).
auth = file
auth-file = $etc/users
maildrop = maildir:%h/Maildir
EOF
umask 022

echo "== maildir with two messages ($home/Maildir)"
rm -rf "$home/Maildir"
mkdir -p "$home/Maildir/cur" "$home/Maildir/new" "$home/Maildir/tmp"
now=$(date +%s)
date=$(date -R)
cat >"$home/Maildir/new/$now.M1P$$.pop3d-demo" <<EOF
Date: $date
From: pop3d demo <postmaster@localhost>
To: demo@localhost
Subject: Welcome to pop3d
Message-ID: <$now.1@pop3d-demo>

Hello,

this message was served by pop3d from a maildir.
EOF
cat >"$home/Maildir/new/$now.M2P$$.pop3d-demo" <<EOF
Date: $date
From: pop3d demo <postmaster@localhost>
To: demo@localhost
Subject: Dots and From lines

The next line is a single dot, which POP3 must send as "..":
.
From here on, nothing is escaped: this line begins with "From".
..two dots stay two dots.
EOF
chown -R pop3demo:pop3demo "$home/Maildir"
chmod -R go= "$home/Maildir"

echo "== configuration check"
"$build/pop3d" -t -f "$etc/pop3d.conf"

cat <<EOF

pop3d is listening on 127.0.0.1:$port (Ctrl-C to stop). In another terminal:

  curl pop3://demo:demo@127.0.0.1:$port/        # list
  curl pop3://demo:demo@127.0.0.1:$port/1       # read message 1

  mpop --host=127.0.0.1 --port=$port --tls=off --auth=user --user=demo \\
      --passwordeval='echo demo' --keep=on --only-new=off \\
      --uidls-file=/tmp/demo.uidls --delivery=mbox,/tmp/demo.mbox

Then: sudo bash .ci/run   (installs the test tools and runs every test)
Session logs follow.

EOF
exec systemd-socket-activate --inetd -a -l "127.0.0.1:$port" \
    "$top/$build/pop3d" -d -f "$etc/pop3d.conf"
