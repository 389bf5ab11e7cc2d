#!/usr/bin/env python3
"""Python's ssl module as a TLS peer for tests/test_tls_peers.c (asyncio
streams, as in asyncio's documentation).

  tls_peer.py client PORT CA NAME LINES [--cert F --key F] [--alpn P]...
      connect to 127.0.0.1:PORT verifying the server against CA and NAME,
      send LINES numbered lines and read each back (an echo server); print
      "ok LINES alpn=P version=V" or "error TYPE: TEXT" (exit 1).
  tls_peer.py resume PORT CA NAME
      two connections (blocking ssl sockets), the second offering the first
      one's session (a TLS 1.3 ticket, read with the echo of a line);
      print "reused=False reused=True" for a resuming server.
  tls_peer.py blocking PORT CA NAME
      one line through a blocking ssl socket (no asyncio); print "got ..."
      or "error TYPE: TEXT" (exit 1).
  tls_peer.py server CERT KEY [--alpn P]...
      an echo server on 127.0.0.1 (a free port); print "port N" once
      listening; each connection logs "conn alpn=P version=V sni=NAME".
      Stops on SIGTERM or when stdin closes.
"""
import asyncio
import signal
import socket
import ssl
import sys


def opts(args):
    out = {"alpn": []}
    i = 0
    while i < len(args):
        if args[i] == "--alpn":
            out["alpn"].append(args[i + 1])
        else:
            out[args[i].lstrip("-")] = args[i + 1]
        i += 2
    return out


async def client(port, ca, name, lines, o):
    ctx = ssl.create_default_context(cafile=ca)
    if "cert" in o:
        ctx.load_cert_chain(o["cert"], o["key"])
    if o["alpn"]:
        ctx.set_alpn_protocols(o["alpn"])
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=name), 10)
        sslobj = w.get_extra_info("ssl_object")
        for i in range(lines):
            line = f"line {i} from python\n".encode()
            w.write(line)
            await w.drain()
            got = await asyncio.wait_for(r.readexactly(len(line)), 10)
            if got != line:
                print(f"error Mismatch: {got!r} != {line!r}")
                return 1
        print(f"ok {lines} alpn={sslobj.selected_alpn_protocol()} version={sslobj.version()}")
        w.close()
        try:
            await w.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass
        return 0
    except Exception as e:  # the test reads the type and the text
        print(f"error {type(e).__name__}: {e}")
        return 1


async def server(cert, key, o):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if o["alpn"]:
        ctx.set_alpn_protocols(o["alpn"])
    sni = {}

    def on_sni(sslobj, name, c):
        sni[id(sslobj)] = name

    ctx.sni_callback = on_sni

    async def echo(r, w):
        sslobj = w.get_extra_info("ssl_object")
        print(f"conn alpn={sslobj.selected_alpn_protocol()} version={sslobj.version()} "
              f"sni={sni.get(id(sslobj))} reused={sslobj.session_reused}", flush=True)
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.close()
            await w.wait_closed()
        except (ssl.SSLError, ConnectionError):
            pass

    srv = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=ctx)
    print(f"port {srv.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    # stdin readable: the test closed its end (it never writes).
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    await stop
    srv.close()
    await srv.wait_closed()
    return 0


def resume(port, ca, name):
    ctx = ssl.create_default_context(cafile=ca)
    session, out = None, []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name, session=session) as s:
                s.sendall(b"ping\n")  # the echo comes after the ticket
                got = b""
                while not got.endswith(b"\n"):
                    got += s.recv(64)
                out.append(f"reused={s.session_reused}")
                session = s.session
    print(" ".join(out))
    return 0


def blocking(port, ca, name):
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as s:
                s.sendall(b"line\n")
                print(f"got {s.recv(100)!r}")
                return 0
    except Exception as e:  # the test reads the type and the text
        print(f"error {type(e).__name__}: {e}")
        return 1


def main():
    a = sys.argv[1:]
    if a[0] == "blocking":
        return blocking(int(a[1]), a[2], a[3])
    if a[0] == "resume":
        return resume(int(a[1]), a[2], a[3])
    if a[0] == "client":
        return asyncio.run(client(int(a[1]), a[2], a[3], int(a[4]), opts(a[5:])))
    return asyncio.run(server(a[1], a[2], opts(a[3:])))


if __name__ == "__main__":
    sys.exit(main())
