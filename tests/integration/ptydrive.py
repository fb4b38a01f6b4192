#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run a command on a fresh pseudo-terminal and drive it, as a user would.

    ptydrive.py [STEP...] -- COMMAND [ARG...]

The command is the session leader of a new pty (its controlling terminal,
80x24), so a Ctrl-C typed there goes through the terminal's line
discipline exactly as on a real terminal. Steps run in order:

    expect:REGEX     wait until the output so far (after the previous
                     match) matches the Python regex REGEX
    send:TEXT        type TEXT (\\r, \\n, \\x03 ... escapes are decoded)
    signal:NAME      send signal NAME (INT, TERM, ...) to the command's pid
    blocked:NAME     wait until the command blocks signal NAME (its SigBlk
                     in /proc/PID/status), e.g. to send it a signal early
                     in its life but not before it is ready for it
    sleep:SECONDS    wait (only to let a signal that must NOT end the
                     command have no effect; never a timing assertion)
    alive            fail unless the command is still running
    sh:COMMAND       run COMMAND with /bin/sh -c, outside the pty, and wait
                     for it; fail if it fails
    exit             wait for the command's exit (the default last step)

Every wait gives up after $PTYDRIVE_TIMEOUT seconds (default 30) and fails
with a line saying which step and what was seen. On success the script
exits with the command's exit status (128+N when signal N ended it) and
all output goes to stdout, with \\r removed. Exit 99 on a failed step.
"""
import codecs
import subprocess
import os
import pty
import re
import select
import signal
import struct
import sys
import time
import fcntl
import termios

TIMEOUT = float(os.environ.get("PTYDRIVE_TIMEOUT", "30"))


def main(argv):
    if "--" not in argv:
        sys.stderr.write("usage: ptydrive.py [STEP...] -- COMMAND [ARG...]\n")
        return 2
    sep = argv.index("--")
    steps, cmd = argv[:sep], argv[sep + 1:]
    if not cmd:
        sys.stderr.write("ptydrive: no command\n")
        return 2
    pid, fd = pty.fork()
    if pid == 0:
        # as a login shell would start it: Python ignores SIGPIPE, and a
        # shell's background job may have inherited SIGINT/SIGQUIT ignored
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write("ptydrive: exec %s: %s\n" % (cmd[0], e))
        os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = bytearray()
    seen = 0  # output before this offset was consumed by an expect
    status = None

    def pump(deadline):
        """Read what is there (until deadline); False once the pty closed."""
        nonlocal status
        timeout = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([fd], [], [], min(timeout, 0.1))
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: every slave fd is closed
                data = b""
            if not data:
                return False
            out.extend(data)
        if status is None:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p == pid:
                status = st
        return True

    def fail(step, why):
        text = out.decode("utf-8", "replace").replace("\r", "")
        sys.stdout.write(text)
        sys.stdout.write("\nptydrive: step '%s' failed: %s\n" % (step, why))
        if status is None:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        return 99

    if not steps or steps[-1] != "exit":
        steps = steps + ["exit"]
    closed = False
    for step in steps:
        kind, _, arg = step.partition(":")
        deadline = time.monotonic() + TIMEOUT
        if kind == "expect":
            rx = re.compile(arg.encode())
            while True:
                m = rx.search(bytes(out), seen)
                if m:
                    seen = m.end()
                    break
                if closed or time.monotonic() > deadline:
                    return fail(step, "not seen" + (" (the terminal closed)" if closed else ""))
                closed = not pump(deadline)
        elif kind == "send":
            os.write(fd, codecs.decode(arg, "unicode_escape").encode("latin-1"))
        elif kind == "signal":
            os.kill(pid, getattr(signal, "SIG" + arg))
        elif kind == "blocked":
            bit = 1 << (getattr(signal, "SIG" + arg) - 1)
            while True:
                try:
                    with open("/proc/%d/status" % pid) as f:
                        blk = [l for l in f if l.startswith("SigBlk:")]
                except OSError:
                    blk = []
                if blk and int(blk[0].split()[1], 16) & bit:
                    break
                if status is not None or time.monotonic() > deadline:
                    return fail(step, "the command never blocked SIG" + arg)
                if not pump(time.monotonic() + 0.005):
                    closed = True
        elif kind == "sleep":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                if not pump(end):
                    closed = True
                    time.sleep(max(0.0, min(0.05, end - time.monotonic())))
        elif kind == "sh":
            done = subprocess.run(["/bin/sh", "-c", arg], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=TIMEOUT)
            if done.returncode != 0:
                return fail(step, "exit status %d: %s" % (done.returncode,
                                                           done.stderr.decode(errors="replace").strip()))
        elif kind == "alive":
            if status is None:
                p, st = os.waitpid(pid, os.WNOHANG)
                if p == pid:
                    status = st
            if status is not None:
                return fail(step, "the command has exited")
        elif kind == "exit":
            while status is None:
                if time.monotonic() > deadline:
                    return fail(step, "the command did not exit")
                if closed:
                    p, st = os.waitpid(pid, os.WNOHANG)
                    if p == pid:
                        status = st
                    else:
                        time.sleep(0.02)
                else:
                    closed = not pump(deadline)
            # what is left in the pty
            while not closed and pump(time.monotonic() + 0.05):
                if not select.select([fd], [], [], 0.05)[0]:
                    break
        else:
            sys.stderr.write("ptydrive: unknown step '%s'\n" % step)
            return 2
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
