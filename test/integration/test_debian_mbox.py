"""Mail is never lost on real Debian setups (docs/mbox.md, pop3d(8)):
mail-only accounts (home /nonexistent, not in group mail) on a spool with
Debian's stock permissions (2775 root:mail, mailboxes 0600 USER:mail);
message sizes as the client stores them (RFC 1939 §11); mboxes written by
dovecot-lda (unescaped "From " lines, Content-Length framing, X-IMAPbase
rewritten at every delivery) and by procmail, dotlockfile-locked appends
and dovecot-lda interleaved.

The fixtures (spool, mail_user, mail_accounts, dovecot_lda) are in
debianfixtures.py."""

import os
import poplib
import re
import shutil
import subprocess

import pytest

from debianfixtures import (LOGGED_IN, MAIL_GID, USER_OK, dovecot_lda,
                            from_line, mail_accounts, mail_user, mbox_of,
                            message, needs_dotlockfile, needs_procmail,
                            split_blocks, split_content_length, split_mixed,
                            spool)
from pop3lib import client_form, wire_form

THREE = [message(1), message(2, b"The second one.\n\nIt has two "
                                b"paragraphs.\n"), message(3)]


def uidl(c):
    first, lines = c.multi("UIDL")
    assert first == "+OK", first
    return [l.split(b" ", 1)[1] for l in lines]


def list_sizes(c):
    first, lines = c.multi("LIST")
    assert first.startswith("+OK"), first
    return [int(l.split()[1]) for l in lines]


# ---------------------------------------------------------------------------
# Deletions for mail-only accounts

def check_dele_middle(session, spool, user, options):
    p = spool.create(user, mbox_of(THREE))
    before = p.read_bytes()
    ident = spool.identity(user)
    s = session(login=user, options=options)
    s.expect_reply("STAT", "+OK 3 %d" % sum(len(client_form(m))
                                            for m in THREE))
    s.expect_reply("DELE 2", "+OK Message deleted")
    # The deleted message is not the last one: the others must move.
    s.expect_reply("QUIT", "+OK Bye")
    s.expect_eof()
    blocks = split_blocks(before)
    assert p.read_bytes() == blocks[0] + blocks[2]
    assert spool.identity(user) == ident
    assert spool.others(user) == []
    s = session(login=user, options=options)
    s.expect_reply("STAT", "+OK 2 %d" % (len(client_form(THREE[0])) +
                                         len(client_form(THREE[2]))))
    size, raw = s.retr_raw(2)
    assert raw == wire_form(THREE[2]) + b".\r\n"
    s.quit()


def test_dele_not_last_mail_only_file_user(session, area, spool, mail_user):
    """The #1 case: home /nonexistent, spool not writable by the user.
    The recovery record has its place in the state dir."""
    check_dele_middle(session, spool, mail_user, spool.options())


def test_dele_not_last_mail_only_unix_account(session, area, spool,
                                              mail_accounts):
    """The same with a real account (useradd -M -d /nonexistent, crypt
    hash in /etc/shadow) and auth = unix."""
    user = mail_accounts.add("unix-mail-pw")
    assert user.home == "/nonexistent"
    check_dele_middle(session, spool, user, spool.options(auth="unix"))


# ---------------------------------------------------------------------------
# Sizes: the octets the client stores (RFC 1939 §11: CRLF line ends, no
# dot-stuffing counted)

DOTS = (b"From: dots@example.org\nSubject: dots\n\n"
        b".\n..two\n.three\nplain line\n")


def check_sizes(session, srv, user, options, fetch_curl=True):
    want = client_form(DOTS)
    assert len(want) == len(wire_form(DOTS)) - 3   # three stuffed lines
    s = session(login=user, options=options)
    s.expect_reply("STAT", "+OK 1 %d" % len(want))
    s.expect_reply("LIST 1", "+OK 1 %d" % len(want))
    assert list_sizes(s) == [len(want)]
    size, raw = s.retr_raw(1)
    assert size == len(want)
    s.quit()
    # poplib counts the octets it stores (dots undone, CRLF each line).
    p = poplib.POP3("127.0.0.1", srv.port, timeout=10)
    p.user(user.name)
    p.pass_(user.password)
    resp, lines, octets = p.retr(1)
    assert resp == b"+OK %d octets" % len(want)
    assert b"".join(l + b"\r\n" for l in lines) == want
    assert octets == len(want)
    assert p.list(1) == b"+OK 1 %d" % len(want)
    p.quit()
    if fetch_curl and shutil.which("curl"):
        r = subprocess.run(["curl", "-sS", "--max-time", "10",
                            "-u", "%s:%s" % (user.name, user.password),
                            srv.url(path="1")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stderr == b""
        assert r.stdout == want


def test_sizes_dot_lines_mbox(session, server, area, spool, mail_user):
    spool.create(mail_user, from_line(1) + DOTS + b"\n")
    srv = server(options=spool.options())
    check_sizes(session, srv, mail_user, spool.options())


def test_sizes_dot_lines_maildir(session, server, area, alice):
    alice.maildir.add(DOTS)
    srv = server()
    check_sizes(session, srv, alice, {})


# ---------------------------------------------------------------------------
# dovecot-lda: "From " lines unescaped, Content-Length framing,
# X-IMAPbase rewritten in the first message at every delivery

FROM_BODY = b"Hello,\n\nFrom what I can tell, this works.\n\nBye\n"


def lda_message(n):
    return (b"From: lda%d@example.org\nSubject: lda %d\n"
            b"Message-ID: <lda%d@test.example>\n\n" % (n, n, n)) + FROM_BODY


def test_dovecot_from_line_in_body_is_one_message(session, area, spool,
                                                  mail_user, dovecot_lda):
    spool.create(mail_user)
    dovecot_lda.deliver(mail_user, lda_message(1))
    data = spool.mbox(mail_user).read_bytes()
    # dovecot-lda stored the line as it came (no ">From ").
    assert b"\n\nFrom what I can tell" in data
    [(block, msg)] = split_content_length(data)
    assert msg.endswith(b"\n\n" + FROM_BODY)
    s = session(login=mail_user, options=spool.options())
    s.expect_reply("STAT", "+OK 1 %d" % len(client_form(msg)))
    size, raw = s.retr_raw(1)
    assert raw == wire_form(msg) + b".\r\n"
    first, top = s.multi("TOP 1 0")
    assert first == "+OK"
    assert b"Subject: lda 1" in top and b"From what" not in b"".join(top)
    s.quit()


def test_dovecot_two_deliveries_two_messages(session, area, spool,
                                             mail_user, dovecot_lda):
    spool.create(mail_user)
    dovecot_lda.deliver(mail_user, lda_message(1))
    dovecot_lda.deliver(mail_user, lda_message(2))
    msgs = [m for _, m in
            split_content_length(spool.mbox(mail_user).read_bytes())]
    assert len(msgs) == 2
    s = session(login=mail_user, options=spool.options())
    s.expect_reply("STAT", "+OK 2 %d" % sum(len(client_form(m))
                                            for m in msgs))
    for i, m in enumerate(msgs):
        size, raw = s.retr_raw(i + 1)
        assert raw == wire_form(m) + b".\r\n"
        assert m.endswith(FROM_BODY)
    s.quit()


def test_dovecot_uidl_of_first_message_stable(session, area, spool,
                                              mail_user, dovecot_lda):
    spool.create(mail_user)
    dovecot_lda.deliver(mail_user, lda_message(1))
    first_before = split_content_length(
        spool.mbox(mail_user).read_bytes())[0][1]
    s = session(login=mail_user, options=spool.options())
    ids = uidl(s)
    assert len(ids) == 1, "one dovecot-lda delivery served as %d" % len(ids)
    u1 = ids[0]
    s.quit()
    dovecot_lda.deliver(mail_user, lda_message(2))
    # dovecot-lda rewrote X-IMAPbase in message 1 in place.
    first_after = split_content_length(
        spool.mbox(mail_user).read_bytes())[0][1]
    assert first_after != first_before
    assert b"X-IMAPbase:" in first_after
    s = session(login=mail_user, options=spool.options())
    ids = uidl(s)
    assert len(ids) == 2 and ids[0] == u1
    # A delivery during the session: the ids stay the same within it,
    # and the next session still knows message 1 by its id.
    dovecot_lda.deliver(mail_user, lda_message(3))
    assert uidl(s) == ids
    s.quit()
    s = session(login=mail_user, options=spool.options())
    later = uidl(s)
    assert later[:2] == ids and len(later) == 3
    assert len(set(later)) == 3
    s.quit()


def test_dovecot_delivery_during_session_quit_deletes(session, area, spool,
                                                      mail_user,
                                                      dovecot_lda):
    spool.create(mail_user)
    dovecot_lda.deliver(mail_user, lda_message(1))
    dovecot_lda.deliver(mail_user, lda_message(2))
    s = session(login=mail_user, options=spool.options())
    ids = uidl(s)
    s.expect_reply("DELE 1", "+OK Message deleted")
    dovecot_lda.deliver(mail_user, lda_message(3))
    before = spool.mbox(mail_user).read_bytes()
    blocks = split_content_length(before)
    assert len(blocks) == 3
    s.expect_reply("QUIT", "+OK Bye")
    s.expect_eof()
    assert spool.mbox(mail_user).read_bytes() == blocks[1][0] + blocks[2][0]
    s = session(login=mail_user, options=spool.options())
    now = uidl(s)
    assert len(now) == 2 and now[0] == ids[1]
    size, raw = s.retr_raw(2)
    assert raw == wire_form(blocks[2][1]) + b".\r\n"
    s.quit()


# ---------------------------------------------------------------------------
# Three Debian MDAs interleaved on one mailbox

@needs_procmail
@needs_dotlockfile
def test_interleaved_mdas(session, area, spool, mail_user, dovecot_lda):
    """procmail (run by root as the existing mbox tests do: run by a user
    on a spool other than its compiled-in one it drops its setgid mail and
    cannot dotlock), dotlockfile-locked appends (Postfix local's method)
    and dovecot-lda, three rounds.  dovecot-lda adds its X-* headers to
    mail already there; bodies are never touched.  Every message is
    served once, in order, byte-exact as the file holds it."""
    spool.create(mail_user)
    bodies = []
    for r in range(3):
        b = b"procmail round %d\n.dot line\n" % r
        spool.procmail(mail_user, b"From: p@example.org\nSubject: pm %d\n"
                       b"\n" % r + b)
        bodies.append(b)
        b = b"dotlock round %d\n\nFrom here, escaped? no: >From\n" % r
        spool.dotlock_append(mail_user, from_line(100 + r) +
                             b"From: d@example.org\nSubject: dl %d\n\n"
                             % r + b.replace(b"\nFrom ", b"\n>From ") +
                             b"\n")
        bodies.append(b.replace(b"\nFrom ", b"\n>From "))
        dovecot_lda.deliver(mail_user, lda_message(r))
        bodies.append(FROM_BODY)
    data = spool.mbox(mail_user).read_bytes()
    msgs = split_mixed(data)
    assert len(msgs) == 9
    for m, b in zip(msgs, bodies):
        assert m.endswith(b"\n\n" + b), (m, b)
    s = session(login=mail_user, options=spool.options())
    s.expect_reply("STAT", "+OK 9 %d" % sum(len(client_form(m))
                                            for m in msgs))
    assert list_sizes(s) == [len(client_form(m)) for m in msgs]
    for i, m in enumerate(msgs):
        size, raw = s.retr_raw(i + 1)
        assert raw == wire_form(m) + b".\r\n", i + 1
    ids = uidl(s)
    assert len(set(ids)) == 9
    s.quit()
