"""A TCP proxy in front of a server, which a test can make hang: a machine that stops answering.

:class:`TcpProxy` listens on a free 127.0.0.1 port and forwards every connection to its target,
byte for byte, on an asyncio loop in a thread of its own (the test's loop, busy with load, never
delays it). :meth:`TcpProxy.hang` makes it behave like a server hung in the kernel's embrace:

* new connections are still accepted (the kernel's backlog does that for a hung process) but
  nothing is forwarded, not even the connection to the target;
* open connections stay open and silent: what either side sends is held, not delivered, and
  nothing is closed, so a client waits until its own timeout.

:meth:`TcpProxy.resume` delivers what was held and forwards again. :meth:`TcpProxy.close` (or
leaving the ``with`` block) closes every connection and stops the thread, also when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
_CHUNK = 65_536
_HOST = "127.0.0.1"


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port`` until told to hang."""

    def __init__(self, target_port: int, target_host: str = _HOST) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = 0  # bound by start()
        #: Connections accepted so far (while hung too), for reports.
        self.accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # -- the test's side (any thread) ----------------------------------------------------------
    def start(self) -> TcpProxy:
        """Listen on a free port and forward; returns once the port accepts connections."""
        self._thread.start()
        self._call(self._listen())
        return self

    def hang(self) -> None:
        """Stop forwarding: every connection, open or new, goes silent (see the module doc)."""
        self._loop.call_soon_threadsafe(self._require_flowing().clear)

    def resume(self) -> None:
        """Forward again, delivering what was held."""
        self._loop.call_soon_threadsafe(self._require_flowing().set)

    @property
    def hung(self) -> bool:
        return not self._require_flowing().is_set()

    def close(self) -> None:
        """Close every connection and the listener, then stop the thread (idempotent)."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(TimeoutError):
            self._call(self._shutdown(), timeout=10.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10.0)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def _require_flowing(self) -> asyncio.Event:
        if self._flowing is None:
            raise RuntimeError("the proxy is not started")
        return self._flowing

    # -- the proxy's loop --------------------------------------------------------------------
    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, _HOST, 0, backlog=256)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._require_flowing().wait()  # hung: accepted, and nothing else
            target_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(target_reader, writer))
        except OSError:
            pass  # the target refused or reset: the client sees its connection closed
        finally:
            self._connections.discard(task)
            for side in (writer, upstream):
                if side is not None:
                    side.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy ``source`` to ``sink`` while flowing; at the end of ``source``, close ``sink``."""
        try:
            while data := await source.read(_CHUNK):
                await self._require_flowing().wait()
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
