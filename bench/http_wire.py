"""A lean HTTP/1.1 client for the service bench's load: one keep-alive connection, one call
in flight, JSON bodies, over asyncio streams.

The load generator shares the 2-core bench machine with the server it measures, so what it
spends per call is taken from the server: httpx spends about as much CPU per call as the
service does (≈1.7 ms against ≈1.7 ms per update, measured with both in the same run),
which capped the bench near half the machine's rate. This client writes the request bytes
itself and reads the status line, the headers and exactly ``Content-Length`` bytes of body:
the same calls on the same wire, for a fraction of the CPU. It speaks only what the
service answers (no chunked bodies, no redirects); anything else is an error, not a guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class WireError(Exception):
    """The connection broke or the answer was not the HTTP the client understands."""


class WireClient:
    """One keep-alive connection to ``host:port``; reconnects after an error.

    Parameters
    ----------
    host, port
        The server (loopback).
    headers
        Sent with every call (e.g. ``Authorization``).
    timeout_s
        Longest one call may take (s).
    """

    def __init__(self, host: str, port: int, headers: dict[str, str], timeout_s: float = 60.0):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: Any) -> tuple[int, bytes]:
        """POST ``body`` as JSON; (status, response body). WireError on a broken call."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._head}"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
        ).encode() + raw
        try:
            return await asyncio.wait_for(self._call(request), self.timeout_s)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError, WireError) as exc:
            await self.close()
            raise WireError(f"{type(exc).__name__}: {exc}") from exc

    async def _call(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise WireError(f"not an HTTP/1.x status line: {lines[0]!r}")
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise WireError(f"transfer-encoding {value.strip()} is not supported here")
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length is None:
            raise WireError("an answer without Content-Length")
        body = await self._reader.readexactly(length)
        if close:
            await self.close()
        return int(parts[1]), body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
