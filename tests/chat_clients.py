#!/usr/bin/env python3
"""Drive examples/chat with asyncio clients (tests/test_net_examples.c).

    chat_clients.py PORT CLIENTS LINES

CLIENTS clients connect and wait for the server's welcome (then each is in
the room); once all are, each sends LINES lines "c<id> <k>" while reading.
Every client must receive every other client's lines exactly once, in
order per sender, and none of its own. Exit status 0 if so; otherwise a
message on stderr and 1. Bounded: 120 s in all.
"""
import asyncio
import sys


async def client(cid, port, nclients, nlines, joined, everyone_in):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    welcome = await reader.readline()
    if not welcome.startswith(b"* welcome"):
        raise RuntimeError(f"c{cid}: no welcome: {welcome!r}")
    joined()
    await everyone_in.wait()

    async def send():
        for k in range(nlines):
            writer.write(f"c{cid} {k}\n".encode())
            await writer.drain()

    sender = asyncio.create_task(send())
    expect = (nclients - 1) * nlines
    next_k = {}
    got = 0
    while got < expect:
        line = await reader.readline()
        if not line:
            raise RuntimeError(f"c{cid}: EOF after {got} of {expect} lines")
        if line.startswith(b"* "):
            continue  # the server's own lines
        name, k = line.decode().split()
        k = int(k)
        if name == f"c{cid}":
            raise RuntimeError(f"c{cid}: got its own line {line!r}")
        if next_k.get(name, 0) != k:
            raise RuntimeError(f"c{cid}: from {name} got {k}, expected {next_k.get(name, 0)}")
        next_k[name] = k + 1
        got += 1
    await sender
    if len(next_k) != nclients - 1 or any(v != nlines for v in next_k.values()):
        raise RuntimeError(f"c{cid}: counts {next_k}")
    writer.close()
    await writer.wait_closed()


async def main(port, nclients, nlines):
    everyone_in = asyncio.Event()
    count = 0

    def joined():
        nonlocal count
        count += 1
        if count == nclients:
            everyone_in.set()

    tasks = [asyncio.create_task(client(i, port, nclients, nlines, joined, everyone_in))
             for i in range(nclients)]
    await asyncio.wait_for(asyncio.gather(*tasks), 120)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    try:
        asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
    except Exception as e:  # a failed check, a timeout, a refused connect
        print(f"chat_clients: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
