"""Starting the collector's HTTP servers (the X-Ray API, OTLP/HTTP) on their addresses."""

import socket

from aiohttp import web

from fluoroscope.config import Address


async def serve_http(app: web.Application, address: Address) -> tuple[web.AppRunner, Address]:
    """Serve ``app`` on ``address``; return its runner (to clean up) and the bound address.

    The socket is bound here rather than by aiohttp so that port 0 reports the port it got.
    """
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address.host, address.port))
    except OSError:
        sock.close()
        raise
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    host, port = sock.getsockname()[:2]
    return runner, Address(host, port)
