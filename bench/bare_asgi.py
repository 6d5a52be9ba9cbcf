"""The reference for bench/redirect.py: an ASGI app that answers every request with the same 302."""

HEADERS = [(b"location", b"https://example.com/landing?utm_source=bench"), (b"cache-control", b"no-store")]


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 302, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b""})
