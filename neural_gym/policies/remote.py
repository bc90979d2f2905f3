"""A policy behind a WebSocket, in the wire format of openpi's policy server (``openpi-client``), so a neural_gym
env can query an openpi server and an openpi client can query any neural_gym :class:`~.protocol.Policy`.

The wire format (as ``openpi_client.msgpack_numpy`` and ``openpi_client.websocket_client_policy``):

* **Messages** are msgpack binary frames. A NumPy array travels as the map ``{b"__ndarray__": True, b"data": <raw
  bytes, C order>, b"dtype": <dtype.str, e.g. "<f4">, b"shape": <list>}`` and a NumPy scalar as ``{b"__npgeneric__":
  True, b"data": <item>, b"dtype": <dtype.str>}`` (keys as msgpack *bin*, like openpi's); object, void and complex
  dtypes are refused.
* **On connect** the server sends one message first: its metadata (a map).
* **Per request** the client sends one observation map, *unbatched* (as ``WebsocketClientPolicy.infer(obs)``), and
  the server replies a map with ``"actions"``: ``(H, A)``, beside ``"server_timing"`` (``{"infer_ms": ...}``).
* **Errors**: a server whose policy raises sends the traceback as a *text* frame and closes the connection (code
  1011), as openpi's server does.

neural_gym adds one optional message: a client may send ``{"__ctrl__": "reset", "seed": <int or nil>}``, answered with
``{"__ack__": "reset"}``, only to a server whose metadata says ``"neural_gym_reset": True`` (openpi's servers do not,
so :meth:`RemotePolicy.reset` never sends them anything, as openpi's client's ``reset`` does nothing).

Observation keys: neural_gym's are ``pixels`` / ``state`` / ``instruction``; ``obs_keys`` renames them on the wire
(e.g. :data:`OPENPI_LIBERO_KEYS` for openpi's LIBERO example: ``observation/image``, ``observation/state``,
``prompt``). A state-array batch travels as ``{"state": row}``, and the server hands a policy a ``(1, D)`` array for
an observation that has only ``"state"``.

Example:
    >>> server = PolicyServer(ExpertPolicy("push"), port=0).start()        # a background thread; port 0: any free one
    >>> policy = RemotePolicy(f"ws://127.0.0.1:{server.port}", timeout=10)
    >>> chunk = policy.act(obs_batch)                                      # one request per batch row
    >>> policy.close(); server.close()

Requires the ``remote`` extra (``pip install "neural-gym[remote]"``: ``msgpack``, ``websockets``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

import numpy as np

from neural_gym.policies.protocol import (
    INSTRUCTION_KEY,
    PIXELS_KEY,
    STATE_KEY,
    ObsBatch,
    Policy,
    PolicyError,
    batch_size,
    check_chunk,
    obs_row,
    stack_observations,
)

logger = logging.getLogger(__name__)

ACTIONS_KEY = "actions"
"""Key of the ``(H, A)`` action chunk in a server's reply."""
RESET_CTRL = "reset"
"""The ``"__ctrl__"`` value of neural_gym's optional reset message."""
RESET_METADATA_KEY = "neural_gym_reset"
"""Metadata flag of a server that understands the reset message."""
OPENPI_LIBERO_KEYS: dict[str, str] = {
    PIXELS_KEY: "observation/image",
    STATE_KEY: "observation/state",
    INSTRUCTION_KEY: "prompt",
}
"""``obs_keys`` for openpi's LIBERO example server (``examples/libero``; its ``observation/wrist_image`` has no
neural_gym counterpart)."""
_UNSUPPORTED_KINDS = ("V", "O", "c")


class RemotePolicyError(PolicyError):
    """The policy server could not be reached, broke the protocol, or its policy raised (the message says which)."""


class RemoteTimeoutError(RemotePolicyError, TimeoutError):
    """No policy server answered within the timeout (a connection refused for that long, or a reply that is late)."""


def _require(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as err:
        raise ImportError(
            f'The remote policy needs {module.split(".")[0]!r}: pip install "neural-gym[remote]" '
            f"(msgpack and websockets)."
        ) from err


# --------------------------------------------------------------------------------------------------------- codec


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray | np.generic) and obj.dtype.kind in _UNSUPPORTED_KINDS:
        raise ValueError(f"Cannot send an array of dtype {obj.dtype} (object, void and complex dtypes are refused).")
    if isinstance(obj, np.ndarray):
        return {
            b"__ndarray__": True,
            b"data": np.ascontiguousarray(obj).tobytes(),
            b"dtype": obj.dtype.str,
            b"shape": list(obj.shape),
        }
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"Cannot send an object of type {type(obj).__name__} in a policy message.")


def _decode(obj: dict) -> Any:
    if b"__ndarray__" in obj:
        dtype = _wire_dtype(obj.get(b"dtype"))
        shape = obj.get(b"shape")
        data = obj.get(b"data")
        if not isinstance(shape, list | tuple) or any(not isinstance(s, int) or s < 0 for s in shape):
            raise ValueError(f"Malformed array in a policy message: shape {shape!r}.")
        if not isinstance(data, bytes) or len(data) != math.prod(shape) * dtype.itemsize:
            raise ValueError(
                f"Malformed array in a policy message: {len(data) if isinstance(data, bytes) else type(data).__name__} "
                f"bytes of data for shape {list(shape)} and dtype {dtype.str}."
            )
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if b"__npgeneric__" in obj:
        return _wire_dtype(obj.get(b"dtype")).type(obj.get(b"data"))
    return obj


def _wire_dtype(text: Any) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except TypeError as err:
        raise ValueError(f"Malformed dtype {text!r} in a policy message.") from err
    if dtype.kind in _UNSUPPORTED_KINDS:
        raise ValueError(f"Refusing an array of dtype {dtype} in a policy message.")
    return dtype


def pack(obj: Any) -> bytes:
    """One message in openpi's msgpack format (NumPy arrays and scalars as tagged maps).

    Raises:
        ValueError: For an object, void or complex NumPy dtype.
        TypeError: For an object msgpack cannot hold.
    """
    msgpack = _require("msgpack")
    return msgpack.packb(obj, default=_encode)


def unpack(data: bytes) -> Any:
    """The object of one message in openpi's msgpack format (tagged maps back to NumPy arrays and scalars).

    Raises:
        ValueError: For a malformed message or array (a data length that does not match shape and dtype, a refused
            dtype).
    """
    msgpack = _require("msgpack")
    try:
        return msgpack.unpackb(data, object_hook=_decode)
    except ValueError:
        raise
    except Exception as err:  # msgpack's own errors (ExtraData, FormatError, ...)
        raise ValueError(f"Malformed policy message: {err}") from err


def _rename(obs: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, Any]:
    return {keys.get(k, k): v for k, v in obs.items()}


def _check_keys(obs_keys: Mapping[str, str] | None) -> dict[str, str]:
    keys = dict(obs_keys or {})
    if len(set(keys.values())) != len(keys):
        raise ValueError(f"obs_keys maps two observation keys to the same wire key: {keys}.")
    return keys


# -------------------------------------------------------------------------------------------------------- client


class RemotePolicy:
    """A :class:`~.protocol.Policy` served over a WebSocket in openpi's wire format (by :func:`serve_policy` or an
    openpi ``WebsocketPolicyServer``).

    A batch of ``B`` observations is sent as ``B`` requests, one after another on one connection: openpi's format
    carries one unbatched observation per message and its servers answer one at a time. The connection is opened in
    the constructor (to read the metadata) and again on the next :meth:`act` after a failure.

    Args:
        url: ``ws://host:port`` (or ``host:port``).
        timeout: Seconds to wait for the server to accept a connection (a refused connection is retried until then)
            and for each reply; past it a :class:`RemoteTimeoutError` is raised and the connection dropped.
        chunk_size: ``H``; by default the server metadata's ``"chunk_size"`` (or ``"action_horizon"``).
        obs_keys: Renames observation keys on the wire (e.g. :data:`OPENPI_LIBERO_KEYS`).
        api_key: Sent as ``Authorization: Api-Key <key>`` (as openpi's client does).
        proxy: Passed to ``websockets.sync.client.connect`` (``None``: connect directly, ignoring proxy settings).

    Attributes:
        metadata: The server's first message.
        action_dim: ``A``, from the metadata's ``"action_dim"`` or the first reply.

    Raises:
        RemoteTimeoutError: When no server accepts the connection within ``timeout``.
        RemotePolicyError: When the server refuses the handshake or its first message is not a metadata map, or
            ``chunk_size`` is neither given nor in the metadata.
        ImportError: Without the ``remote`` extra.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        chunk_size: int | None = None,
        obs_keys: Mapping[str, str] | None = None,
        api_key: str | None = None,
        proxy: str | bool | None = None,
    ) -> None:
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        _require("msgpack")
        _require("websockets.sync.client")
        self.url = url if url.startswith(("ws://", "wss://")) else f"ws://{url}"
        self.timeout = float(timeout)
        self.obs_keys = _check_keys(obs_keys)
        self.api_key = api_key
        self.proxy = proxy
        self._ws: Any = None
        self.metadata: dict[str, Any] = {}
        self._connect()
        size = (
            chunk_size
            if chunk_size is not None
            else self.metadata.get("chunk_size", self.metadata.get("action_horizon"))
        )
        if size is None:
            raise RemotePolicyError(
                f"The policy server at {self.url} does not say its chunk size (metadata keys {sorted(self.metadata)}); "
                f"pass chunk_size=."
            )
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise RemotePolicyError(
                f"Chunk size {size!r} of the policy server at {self.url} is not a positive integer."
            )
        self.chunk_size = int(size)
        dim = self.metadata.get("action_dim")
        self.action_dim: int | None = int(dim) if isinstance(dim, int | np.integer) and dim >= 1 else None

    # -- connection

    def _connect(self) -> None:
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        deadline = time.monotonic() + self.timeout
        headers = {"Authorization": f"Api-Key {self.api_key}"} if self.api_key else None
        last: BaseException | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RemoteTimeoutError(
                    f"No policy server answered at {self.url} within {self.timeout:g} s ({_describe(last)}); "
                    f"start one with `neural-gym serve-policy` or check the address."
                )
            try:
                ws = connect(
                    self.url,
                    compression=None,
                    max_size=None,
                    open_timeout=left,
                    additional_headers=headers,
                    proxy=self.proxy,
                    **_legacy_connect(),
                )
            except (ConnectionRefusedError, ConnectionResetError) as err:
                last = err
                time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))
                continue
            except TimeoutError as err:
                last = err
                continue
            except InvalidURI as err:
                raise RemotePolicyError(f"{self.url} is not a WebSocket address: {err}") from err
            except (InvalidHandshake, OSError) as err:
                raise RemotePolicyError(
                    f"Could not connect to the policy server at {self.url}: {_describe(err)}"
                ) from err
            break
        self._ws = ws
        try:
            metadata = self._receive(deadline - time.monotonic(), "its metadata")
        except BaseException:
            self.close()
            raise
        if not isinstance(metadata, dict):
            self.close()
            raise RemotePolicyError(
                f"The server at {self.url} sent {type(metadata).__name__} first; a policy server sends its metadata map."
            )
        self.metadata = metadata

    def _receive(self, timeout: float, what: str) -> Any:
        from websockets.exceptions import ConnectionClosed

        try:
            message = self._ws.recv(timeout=max(timeout, 0.0))
        except TimeoutError as err:
            self.close()
            raise RemoteTimeoutError(
                f"The policy server at {self.url} did not send {what} within {self.timeout:g} s."
            ) from err
        except ConnectionClosed as err:
            self.close()
            raise RemotePolicyError(
                f"The policy server at {self.url} closed the connection ({_describe(err)})."
            ) from err
        if isinstance(message, str):  # openpi's servers send a traceback as text, then close
            self.close()
            last = message.strip().splitlines()[-1] if message.strip() else "no message"
            raise RemotePolicyError(f"The policy server at {self.url} failed: {last}\n{message.rstrip()}")
        try:
            return unpack(message)
        except ValueError as err:
            self.close()
            raise RemotePolicyError(f"The policy server at {self.url} sent a malformed message: {err}") from err

    def _request(self, message: dict[str, Any], what: str) -> Any:
        from websockets.exceptions import ConnectionClosed

        if self._ws is None:
            self._connect()
        try:
            self._ws.send(pack(message))
        except ConnectionClosed as err:
            self.close()
            raise RemotePolicyError(
                f"The policy server at {self.url} closed the connection ({_describe(err)})."
            ) from err
        return self._receive(self.timeout, what)

    def close(self) -> None:
        """Close the connection (the next :meth:`act` reconnects)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                logger.debug("closing the connection to %s failed", self.url, exc_info=True)

    def __enter__(self) -> RemotePolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- policy

    def infer(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        """One raw request, as openpi's ``WebsocketClientPolicy.infer``: the reply map of one unbatched observation.

        Raises:
            RemotePolicyError: See :meth:`act`.
        """
        reply = self._request(dict(obs), "a reply")
        if not isinstance(reply, dict):
            raise RemotePolicyError(f"The policy server at {self.url} replied {type(reply).__name__}, not a map.")
        return reply

    def reset(self, seed: int | None = None) -> None:
        """Reset the server's policy when the server supports neural_gym's reset message, else nothing (as openpi)."""
        if not self.metadata.get(RESET_METADATA_KEY):
            return
        reply = self._request({"__ctrl__": RESET_CTRL, "seed": seed}, "the reset acknowledgement")
        if not (isinstance(reply, dict) and reply.get("__ack__") == RESET_CTRL):
            raise RemotePolicyError(f"The policy server at {self.url} did not acknowledge the reset: {reply!r}.")

    def act(self, obs: ObsBatch) -> np.ndarray:
        """Action chunks ``(B, H, A)`` float32: one request per batch row.

        Raises:
            RemoteTimeoutError: When a reply is later than ``timeout`` (the connection is dropped).
            RemotePolicyError: When the server fails (its error and traceback in the message), closes the connection,
                or replies without an ``"actions"`` array ``(H, A)``.
            PolicyError: For a malformed observation batch or chunk.
        """
        size = batch_size(obs)
        chunks = []
        for i in range(size):
            row = obs_row(obs, i)
            message = row if isinstance(row, dict) else {STATE_KEY: row}
            reply = self.infer(_rename(message, self.obs_keys))
            if ACTIONS_KEY not in reply:
                raise RemotePolicyError(
                    f"The policy server at {self.url} replied without {ACTIONS_KEY!r} (keys {sorted(reply)})."
                )
            actions = np.asarray(reply[ACTIONS_KEY])
            if actions.ndim == 1:
                actions = actions[None, :]
            if actions.ndim != 2:
                raise RemotePolicyError(
                    f"The policy server at {self.url} replied actions of shape {actions.shape}; expected (H, A)."
                )
            chunks.append(actions)
        if self.action_dim is None:
            self.action_dim = int(chunks[0].shape[-1])
        shapes = {c.shape for c in chunks}
        if len(shapes) != 1:
            raise RemotePolicyError(
                f"The policy server at {self.url} replied chunks of different shapes {sorted(shapes)}."
            )
        return check_chunk(
            np.stack(chunks), size, self.action_dim, chunk_size=self.chunk_size, who=f"remote policy {self.url}"
        )

    def __repr__(self) -> str:
        return f"RemotePolicy({self.url!r}, chunk_size={self.chunk_size}, action_dim={self.action_dim})"


def _legacy_connect() -> dict[str, bool]:
    """``legacy=True`` where websockets has the flag (17.1 on): a connection held across calls, not a context."""
    import websockets

    version = tuple(int(p) for p in websockets.__version__.split(".")[:2] if p.isdigit())
    return {"legacy": True} if version >= (17, 1) else {}


def _describe(err: BaseException | None) -> str:
    if err is None:
        return "no attempt finished"
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}" if text != type(err).__name__ else text


# -------------------------------------------------------------------------------------------------------- server


class PolicyServer:
    """Serves a local :class:`~.protocol.Policy` in openpi's wire format; every connection gets the metadata first,
    then one reply per observation. Requests of all connections reach the policy one at a time (a lock).

    Args:
        policy: The policy (anything implementing the protocol).
        host: Interface to bind (default ``127.0.0.1``, this machine only; ``0.0.0.0`` for every interface).
        port: TCP port; 0 picks a free one (read :attr:`port`).
        metadata: Extra metadata sent on connect, beside ``chunk_size``, ``action_dim`` (when the policy has one),
            ``policy`` (its repr) and ``neural_gym_reset``.
        obs_keys: The client's ``obs_keys``: wire keys are renamed back to ``pixels`` / ``state`` / ``instruction``.
        reset_on_connect: Call ``policy.reset()`` when a client connects.

    Raises:
        TypeError: When ``policy`` does not implement the protocol.
        OSError: When the address cannot be bound (e.g. the port is in use).
        ImportError: Without the ``remote`` extra.
    """

    def __init__(
        self,
        policy: Policy,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        metadata: Mapping[str, Any] | None = None,
        obs_keys: Mapping[str, str] | None = None,
        reset_on_connect: bool = True,
    ) -> None:
        if not isinstance(policy, Policy):
            raise TypeError(f"PolicyServer needs a Policy (chunk_size, reset, act), got {type(policy).__name__}.")
        _require("msgpack")
        from websockets.sync.server import serve

        self.policy = policy
        self.reset_on_connect = bool(reset_on_connect)
        self._from_wire = {wire: ours for ours, wire in _check_keys(obs_keys).items()}
        self.metadata: dict[str, Any] = {"chunk_size": int(policy.chunk_size), RESET_METADATA_KEY: True}
        dim = getattr(policy, "action_dim", None)
        if isinstance(dim, int | np.integer):
            self.metadata["action_dim"] = int(dim)
        self.metadata["policy"] = repr(policy)
        self.metadata.update(dict(metadata or {}))
        pack(self.metadata)  # fail now, not on the first connection, for metadata msgpack cannot hold
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._server = serve(self._handle, host, port, compression=None, max_size=None, process_request=_health_check)
        name = self._server.socket.getsockname()
        self._address: tuple[str, int] = (str(name[0]), int(name[1]))

    @property
    def port(self) -> int:
        """The TCP port the server listens on (the one picked for ``port=0``)."""
        return self._address[1]

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return self._address[0]

    @property
    def url(self) -> str:
        """``ws://host:port`` of the server."""
        return f"ws://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until :meth:`close` is called from another thread (or the process is interrupted)."""
        self._server.serve_forever()

    def start(self) -> PolicyServer:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self.serve_forever, name=f"policy-server:{self.port}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close every connection."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> PolicyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        peer = ws.remote_address
        logger.info("policy client %s connected", peer)
        try:
            if self.reset_on_connect:
                with self._lock:
                    self.policy.reset()
            ws.send(pack(self.metadata))
            for message in ws:
                try:
                    reply = self._answer(message)
                except Exception:  # noqa: BLE001 - any policy error goes back to the client, as openpi's server does
                    ws.send(traceback.format_exc())
                    ws.close(CloseCode.INTERNAL_ERROR, "Internal server error. Traceback included in previous frame.")
                    logger.warning("policy request from %s failed:\n%s", peer, traceback.format_exc())
                    return
                ws.send(pack(reply))
        except ConnectionClosed:
            pass
        logger.info("policy client %s disconnected", peer)

    def _answer(self, message: Any) -> dict[str, Any]:
        if isinstance(message, str):
            raise PolicyError("Expected a binary msgpack message, got a text frame.")
        obs = unpack(message)
        if not isinstance(obs, dict):
            raise PolicyError(f"Expected an observation map, got {type(obs).__name__}.")
        if "__ctrl__" in obs:
            if obs["__ctrl__"] != RESET_CTRL:
                raise PolicyError(f"Unknown control message {obs['__ctrl__']!r}; this server knows {RESET_CTRL!r}.")
            seed = obs.get("seed")
            with self._lock:
                self.policy.reset(seed=None if seed is None else int(seed))
            return {"__ack__": RESET_CTRL}
        obs = _rename(obs, self._from_wire)
        batch = obs[STATE_KEY][None] if set(obs) == {STATE_KEY} else stack_observations([obs])
        start = time.monotonic()
        with self._lock:
            chunk = np.asarray(self.policy.act(batch))
        infer_ms = (time.monotonic() - start) * 1000.0
        if chunk.ndim != 3 or chunk.shape[0] != 1:
            raise PolicyError(
                f"The served policy returned shape {chunk.shape} for one observation; expected (1, H, A)."
            )
        return {ACTIONS_KEY: chunk[0], "server_timing": {"infer_ms": infer_ms}}


def _health_check(connection: Any, request: Any) -> Any:
    """``GET /healthz`` answers 200 OK (as openpi's server); other paths go on to the WebSocket handshake."""
    import http

    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None


def serve_policy(
    policy: Policy,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    metadata: Mapping[str, Any] | None = None,
    obs_keys: Mapping[str, str] | None = None,
    reset_on_connect: bool = True,
) -> None:
    """Serve ``policy`` in openpi's wire format until interrupted (blocking; :class:`PolicyServer` for a background
    server). Arguments as :class:`PolicyServer`.

    Raises:
        OSError: When the address cannot be bound.
        ImportError: Without the ``remote`` extra.
    """
    server = PolicyServer(policy, host, port, metadata=metadata, obs_keys=obs_keys, reset_on_connect=reset_on_connect)
    try:
        server.serve_forever()
    finally:
        server.close()


__all__ = [
    "ACTIONS_KEY",
    "OPENPI_LIBERO_KEYS",
    "PolicyServer",
    "RemotePolicy",
    "RemotePolicyError",
    "RemoteTimeoutError",
    "pack",
    "serve_policy",
    "unpack",
]
