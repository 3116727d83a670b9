#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on
each, reads its whole response, keeps them all open, then prints the VmRSS
(KiB) of the given pids, and closes everything. Bounded: at most TIMEOUT
seconds overall; exits 1 if a connection fails or the time runs out.

Usage: idle_client.py PORT N PATH PID[,PID...] [TIMEOUT]"""
import selectors
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    pids = [p for p in sys.argv[4].split(",") if p]
    deadline = time.monotonic() + (float(sys.argv[5]) if len(sys.argv) > 5 else 120)
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    done, socks, batch = 0, [], 200  # connections in flight at once
    opened = 0
    while done < n:
        if time.monotonic() > deadline:
            print(f"timeout after {done} of {n} responses", file=sys.stderr)
            return 1
        while opened < n and opened - done < batch:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE, [b"", False])
            socks.append(s)
            opened += 1
        for key, ev in sel.select(timeout=1):
            s, st = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE and not st[1]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    print(f"connect failed: {err}", file=sys.stderr)
                    return 1
                s.send(req)
                st[1] = True
                sel.modify(s, selectors.EVENT_READ, st)
                continue
            data = s.recv(65536)
            if not data:
                print("connection closed early", file=sys.stderr)
                return 1
            st[0] += data
            head, sep, body = st[0].partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(body) >= length:
                    sel.unregister(s)
                    done += 1
    time.sleep(2)  # let the servers settle
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = len(sel.select(timeout=0))  # nothing should arrive on idle ones
    print(" ".join(str(rss_kib(pid)) for pid in pids), closed)
    for s in socks:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
