"""A server stand-in for homeport's stop tests.

It listens where it is told and answers signals the way the server it
stands in for does, appending the name of each signal it gets to a file.
The real servers cannot run in the tests: PostgreSQL refuses to run as
root and needs a cluster, and uWSGI is not installed.

usage: standin.py MODE OUT ADDR...

ADDR is tcp:HOST:PORT or udp:HOST:PORT (port 0: any free one). When every
socket is open it writes "ready PORT..." to OUT (the ports in ADDR order);
each signal then appends "\nNAME" (TERM, INT, ...) and "\nexit" when it exits.

MODE:
  plain      exits on SIGTERM, SIGINT or SIGQUIT
  stubborn   ignores SIGTERM; exits on SIGINT or SIGQUIT
  postgres   the PostgreSQL postmaster (names itself "postgres"): SIGTERM is
             smart shutdown (new connections are refused, it exits once the
             last client has disconnected), SIGINT fast shutdown (clients are
             disconnected, then it exits), SIGQUIT immediate shutdown,
             SIGHUP reloads
  uwsgi      uWSGI before 2.1 (names itself "uwsgi"): SIGTERM reloads its
             workers and goes on serving, SIGINT and SIGQUIT stop it
"""
import ctypes
import select
import signal
import socket
import sys

mode, out, addrs = sys.argv[1], sys.argv[2], sys.argv[3:]


def note(s):
    with open(out, "a") as f:
        f.write("\n" + s)


if mode in ("postgres", "uwsgi"):
    # comm, as ps and /proc/PID/stat show it: what homeport goes by.
    ctypes.CDLL(None).prctl(15, mode.encode(), 0, 0, 0)  # PR_SET_NAME

listeners, ports = [], []
for a in addrs:
    proto, rest = a.split(":", 1)
    host, port = rest.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    if proto == "tcp":
        s.listen(16)
    listeners.append(s)
    ports.append(str(s.getsockname()[1]))

got = []
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
    signal.signal(sig, lambda n, f: got.append(signal.Signals(n).name[3:]))

with open(out, "w") as f:
    f.write("ready " + " ".join(ports))

clients = []
smart = False
while True:
    try:
        r, _, _ = select.select(listeners + clients, [], [], 0.05)
    except InterruptedError:
        r = []
    for s in r:
        if s in listeners:
            if s.type == socket.SOCK_STREAM:
                c, _ = s.accept()
                if smart:
                    c.close()  # "the database system is shutting down"
                else:
                    clients.append(c)
            else:
                s.recv(65536)
        elif not s.recv(4096):
            clients.remove(s)
            s.close()
    while got:
        name = got.pop(0)
        note(name)
        if mode == "postgres":
            if name == "TERM":
                smart = True
            elif name in ("INT", "QUIT"):
                for c in clients:
                    c.close()
                clients = []
                note("exit")
                sys.exit(0)
        elif name == "TERM" and mode in ("stubborn", "uwsgi"):
            pass  # uwsgi: a reload, workers start again
        elif name in ("TERM", "INT", "QUIT"):
            note("exit")
            sys.exit(0)
    if smart and not clients:
        note("exit")
        sys.exit(0)
