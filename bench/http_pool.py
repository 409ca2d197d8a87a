"""A minimal HTTP/1.1 keep-alive client pool on asyncio streams, for the load generator.

On a 2-core machine every microsecond the load generator spends is taken from the system under
test; a prepared GET on a kept-alive stream costs a fraction of httpx's CPU per request (see
docs/performance.md). It understands exactly what the gateway sends back: a status line,
headers, and a Content-Length or chunked body.
"""

from __future__ import annotations

import asyncio


class Connection:
    """One keep-alive HTTP/1.1 connection (responses with Content-Length or chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> tuple[int, bool]:
        """Send one prepared request; returns (status, keep the connection?)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lowered.index(b"\r\n", at + 2)
            length = int(lowered[at + 17 : end])
            if length:
                await self.reader.readexactly(length)
        elif b"\r\ntransfer-encoding: chunked" in lowered:
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        return status, b"\r\nconnection: close" not in lowered

    def close(self) -> None:
        self.writer.close()


class Pool:
    """At most ``size`` connections to one target; a request waits for a free one."""

    def __init__(self, target: str, size: int) -> None:
        host, port = target.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self._idle: asyncio.LifoQueue[Connection | None] = asyncio.LifoQueue()
        for _ in range(size):
            self._idle.put_nowait(None)  # None = open a connection on first use

    async def warm(self, count: int) -> None:
        """Open up to ``count`` connections now, so the measurement does not pay for them."""
        taken = [await self._idle.get() for _ in range(min(count, self._idle.qsize()))]
        opened = await asyncio.gather(
            *(Connection.open(self.host, self.port) for c in taken if c is None)
        )
        for conn in [*(c for c in taken if c is not None), *opened]:
            self._idle.put_nowait(conn)

    async def get(self, request: bytes) -> int:
        conn = await self._idle.get()
        keep: Connection | None = None
        try:
            if conn is None:
                conn = await Connection.open(self.host, self.port)
                status, reusable = await conn.get(request)
            else:
                try:
                    status, reusable = await conn.get(request)
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                        raise  # the server had started to answer: a real failure
                    # The server closed this idle keep-alive connection (uvicorn does after
                    # 5 s) as we sent: retry once on a new one, as every HTTP client does.
                    conn.close()
                    conn = await Connection.open(self.host, self.port)
                    status, reusable = await conn.get(request)
            if reusable:
                keep = conn
            return status
        finally:
            if keep is None and conn is not None:
                conn.close()
            self._idle.put_nowait(keep)
