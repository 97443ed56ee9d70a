"""Python peer for the wsadup benchmarks (row 6).

multiprocessing.reduction.DupFd through resource_sharer: the source
registers a duplicate of the descriptor with its resource-sharer thread and
sends a pickled token over a multiprocessing Pipe; the target's detach()
connects back to the sharer (authenticated), receives the descriptor and
acknowledges. One handoff = DupFd + send + detach in the target + its ack
back at the source.

Usage: python3 python_dupfd.py <count> <warmup>; prints "SAMPLES ns ns ...".
"""
import multiprocessing as mp
import os
import socket
import sys
import time
from multiprocessing import reduction


def target(conn, parent_end):
    parent_end.close()  # else this process keeps its own pipe from EOF
    while True:
        try:
            token = conn.recv()
        except EOFError:
            return
        fd = token.detach()
        conn.send_bytes(b"a")
        os.close(fd)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    ctx = mp.get_context("fork")
    here, there = ctx.Pipe()
    child = ctx.Process(target=target, args=(there, here), daemon=True)
    child.start()
    there.close()
    samples = []
    fd = accepted.fileno()
    for i in range(warmup + count):
        t0 = time.perf_counter_ns()
        here.send(reduction.DupFd(fd))
        # Bounded: a hang is an error, never a measurement.
        if not here.poll(20):
            print("ERROR python target did not answer")
            child.kill()
            return 1
        here.recv_bytes()
        t1 = time.perf_counter_ns()
        if i >= warmup:
            samples.append(t1 - t0)
    here.close()
    child.join(20)
    print("SAMPLES " + " ".join(str(s) for s in samples))
    client.close()
    accepted.close()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
