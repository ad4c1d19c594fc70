#!/bin/sh
# Install and configure the peers that bench/run.py compares pop3d with:
# Dovecot, popa3d and GNU Mailutils pop3d from Debian 12, all serving one
# system account (sha512-crypt password in /etc/shadow) on loopback ports.
# Run as root.  Idempotent: run.py calls it before every run, and a second
# run only rewrites the small configuration files.
#
# Nothing here is started: run.py starts each server for its measurement and
# stops it afterwards.  Package installs must not start the distribution's
# daemons either, hence policy-rc.d.
set -eu

BENCH_USER=pop3bench
BENCH_PASS=bench-Pass-1		# also in run.py
WORK=/var/tmp/pop3d-bench	# data and logs; run.py removes it at the end
ETC=/etc/pop3d-bench		# configuration written below
OPT=/opt/pop3d-bench		# popa3d, unpacked from its .deb (see below)

if [ "$(id -u)" != 0 ]; then
	echo "setup.sh: must run as root" >&2
	exit 1
fi

# Keep package maintainer scripts from starting daemons.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
fi

need=""
for p in dovecot-pop3d mailutils-pop3d ucspi-tcp time whois gcc libcrypt-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    need="$need $p"
done
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need
fi

# popa3d declares "Conflicts: pop3-server", which dovecot-pop3d and
# mailutils-pop3d provide, so apt will not install it beside them.  Its
# binary only needs libc and libpam, so unpack the Debian package into $OPT
# and do by hand what its postinst does (system user, empty /var/lib/popa3d,
# PAM service file).
if [ ! -x "$OPT/popa3d" ]; then
	tmp=$(mktemp -d)
	(
		cd "$tmp"
		if ! apt-get download popa3d >/dev/null 2>&1; then
			apt-get update -q
			apt-get download popa3d
		fi
	)
	dpkg-deb -x "$tmp"/popa3d_*.deb "$tmp/root"
	mkdir -p "$OPT"
	install -m 755 "$tmp/root/usr/sbin/popa3d" "$OPT/popa3d"
	install -m 644 "$tmp/root/etc/pam.d/popa3d" /etc/pam.d/popa3d
	rm -rf "$tmp"
fi
getent group popa3d >/dev/null || addgroup --quiet --system popa3d
getent passwd popa3d >/dev/null ||
    adduser --quiet --system --home /var/lib/popa3d --no-create-home \
    --ingroup popa3d popa3d
install -d -o root -g root -m 755 /var/lib/popa3d

# pop3d's own PAM service, as a package installs it (run.py measures
# auth=pam once besides auth=unix).
bench_dir=$(dirname "$0")
if [ ! -e /etc/pam.d/pop3d ] && [ -f "$bench_dir/../contrib/pam.d/pop3d" ]; then
	install -m 644 "$bench_dir/../contrib/pam.d/pop3d" /etc/pam.d/pop3d
fi

# The test account: a real system user, so that every server can
# authenticate it (popa3d only through PAM and /etc/shadow).
mkdir -p "$WORK"
chmod 755 "$WORK"
if ! getent passwd "$BENCH_USER" >/dev/null; then
	useradd --system --user-group --home-dir "$WORK/home" \
	    --shell /usr/sbin/nologin "$BENCH_USER"
fi
echo "$BENCH_USER:$(mkpasswd -m sha-512 "$BENCH_PASS")" | chpasswd -e
install -d -o "$BENCH_USER" -g "$BENCH_USER" -m 700 "$WORK/home"


mkdir -p "$ETC"

# Dovecot 2.x cannot be run from inetd or tcpserver (its login process
# needs the master), so it listens itself, in its default high-security
# mode: a new pop3-login and a new pop3 process for every connection.
cat >"$ETC/dovecot-common.conf" <<EOF
# Written by pop3d's bench/setup.sh.
protocols = pop3
listen = 127.0.0.1
base_dir = /run/pop3d-bench/dovecot
instance_name = pop3d-bench
state_dir = $WORK/dovecot-state
log_path = $WORK/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = shadow
}
userdb {
  driver = passwd
}
mail_privileged_group = mail
first_valid_uid = 100
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = 11030
  }
  service_count = 1
  process_min_avail = 0
}
service pop3 {
  service_count = 1
  process_min_avail = 0
}
EOF
cat >"$ETC/dovecot-mbox.conf" <<EOF
!include $ETC/dovecot-common.conf
mail_location = mbox:~/mail:INBOX=/var/mail/%u
EOF
cat >"$ETC/dovecot-maildir.conf" <<EOF
!include $ETC/dovecot-common.conf
mail_location = maildir:~/Maildir
EOF

# Mailutils pop3d: inetd mode under tcpserver, system (shadow) auth.  Its
# maildir pattern names the one test account's ~/Maildir directly.  For a
# maildir it takes a lock file in a lock directory, by default
# /var/lock/subsys/mail, which Debian does not create.
install -d -m 1777 "$WORK/mailutils-locks"
for fmt in mbox maildir; do
	if [ "$fmt" = mbox ]; then
		# shellcheck disable=SC2016  # ${user} is mailutils' variable
		pattern='/var/mail/${user}'
	else
		pattern="maildir://$WORK/home/Maildir"
	fi
	cat >"$ETC/mailutils-$fmt.conf" <<EOF
# Written by pop3d's bench/setup.sh.
auth {
  authentication system;
  authorization system;
};
mailbox {
  mailbox-pattern "$pattern";
};
logging {
  syslog false;
};
tcp-wrappers {
  enable false;
};
mandatory-locking {
  lock-directory "$WORK/mailutils-locks";
};
EOF
done

echo "setup.sh: peers ready (dovecot $(dovecot --version | cut -d' ' -f1)," \
    "mailutils $(/usr/sbin/pop3d --version | head -1 | awk '{print $NF}')," \
    "popa3d $("$OPT/popa3d" -V 2>&1 | awk '{print $3}'))"
