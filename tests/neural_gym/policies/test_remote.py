"""Remote policy over localhost in openpi's wire format: bit-exact round trips, the exact encoding of arrays, the
metadata-first handshake, resets, and clear errors (no hang) for a dead, slow or failing server."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import numpy as np
import pytest

pytest.importorskip("msgpack")
pytest.importorskip("websockets")

import msgpack  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from neural_gym.policies import CallablePolicy, ExpertPolicy, PolicyError  # noqa: E402
from neural_gym.policies.remote import (  # noqa: E402
    OPENPI_LIBERO_KEYS,
    PolicyServer,
    RemotePolicy,
    RemotePolicyError,
    RemoteTimeoutError,
    pack,
    unpack,
)


class Recorder:
    """A chunk-size-3 policy that records every batch it gets and answers a function of it."""

    chunk_size = 3
    action_dim = 2

    def __init__(self):
        self.seen = []
        self.resets = []

    def reset(self, seed=None):
        self.resets.append(seed)

    def act(self, obs):
        self.seen.append(obs)
        state = obs["state"] if isinstance(obs, dict) else obs
        base = np.asarray(state, np.float64)[:, :2]
        return np.stack([base, base + 0.1, base / 3.0], axis=1).astype(np.float32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served():
    servers = []

    def start(policy, **kwargs):
        server = PolicyServer(policy, port=0, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_openpi_encoding_of_arrays_and_scalars():
    arr = np.arange(6, dtype=np.int16).reshape(2, 3)
    raw = msgpack.unpackb(pack({"a": arr, "s": np.float32(1.5)}))
    assert raw["a"] == {b"__ndarray__": True, b"data": arr.tobytes(), b"dtype": "<i2", b"shape": [2, 3]}
    assert raw["s"] == {b"__npgeneric__": True, b"data": 1.5, b"dtype": "<f4"}
    with pytest.raises(ValueError, match="dtype object"):
        pack({"bad": np.array([object()])})


@pytest.mark.parametrize(
    "value",
    [
        np.array([np.nan, -0.0, np.inf], np.float64),
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([True, False]),
        np.array(["asdf", "qwer"]),
        np.asfortranarray(np.arange(6.0, dtype=np.float32).reshape(2, 3)),
        np.int64(-3),
        np.bool_(True),
    ],
)
def test_codec_round_trip_is_bit_exact(value):
    back = unpack(pack({"v": value}))["v"]
    assert type(back) is type(value) and back.dtype == value.dtype and np.shape(back) == np.shape(value)
    assert np.asarray(back).tobytes() == np.ascontiguousarray(value).tobytes()


def test_malformed_arrays_are_refused():
    message = msgpack.packb({b"__ndarray__": True, b"data": b"\x00" * 5, b"dtype": "<f4", b"shape": [2]})
    with pytest.raises(ValueError, match="5 bytes of data for shape \\[2\\]"):
        unpack(message)
    message = msgpack.packb({b"__ndarray__": True, b"data": b"\x00" * 8, b"dtype": "|O", b"shape": [1]})
    with pytest.raises(ValueError, match="Refusing"):
        unpack(message)


def test_round_trip_through_the_server_is_bit_exact(served):
    recorder = Recorder()
    server = served(recorder)
    rng = np.random.default_rng(0)
    obs = {
        "pixels": rng.integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8),
        "state": rng.normal(size=(2, 5)),
        "instruction": ["push the red block to the blue goal", "reach the green ball"],
    }
    with RemotePolicy(server.url, timeout=5) as policy:
        assert policy.chunk_size == 3 and policy.action_dim == 2
        chunk = policy.act(obs)
    np.testing.assert_array_equal(chunk, Recorder().act(obs))
    assert chunk.dtype == np.float32 and chunk.shape == (2, 3, 2)
    assert len(recorder.seen) == 2  # one request per batch row
    for i, got in enumerate(recorder.seen):
        assert got["instruction"] == [obs["instruction"][i]]
        for key in ("pixels", "state"):
            assert got[key].dtype == obs[key].dtype and got[key].shape == (1, *obs[key].shape[1:])
            assert got[key].tobytes() == obs[key][i : i + 1].tobytes()


def test_state_array_batches_reach_the_policy_as_arrays(served):
    recorder = Recorder()
    with RemotePolicy(served(recorder).url, timeout=5) as policy:
        state = np.arange(6, dtype=np.float32).reshape(2, 3)
        chunk = policy.act(state)
    assert isinstance(recorder.seen[0], np.ndarray) and recorder.seen[0].dtype == np.float32
    np.testing.assert_array_equal(chunk, Recorder().act(state))


def test_metadata_comes_first_and_replies_are_openpi_shaped(served):
    """Talk to the server as openpi's WebsocketClientPolicy does, with raw frames."""
    server = served(Recorder(), metadata={"robot": "tabletop"})
    with connect(server.url, compression=None, max_size=None, proxy=None) as ws:
        metadata = unpack(ws.recv(timeout=5))
        assert metadata["chunk_size"] == 3 and metadata["robot"] == "tabletop"
        ws.send(pack({"state": np.array([1.0, 2.0, 3.0]), "instruction": "go"}))
        reply = unpack(ws.recv(timeout=5))
    assert reply["actions"].shape == (3, 2) and reply["actions"].dtype == np.float32
    np.testing.assert_array_equal(reply["actions"][0], [1.0, 2.0])
    assert reply["server_timing"]["infer_ms"] >= 0


def test_obs_keys_rename_on_the_wire(served):
    recorder = Recorder()
    server = served(recorder, obs_keys=OPENPI_LIBERO_KEYS)
    sent = {"state": np.zeros((1, 4)), "instruction": ["pick"]}
    with RemotePolicy(server.url, timeout=5, obs_keys=OPENPI_LIBERO_KEYS) as policy:
        policy.act(sent)
    assert sorted(recorder.seen[0]) == ["instruction", "state"]
    with connect(server.url, proxy=None) as ws:  # the wire carries openpi's LIBERO names
        ws.recv(timeout=5)
        ws.send(pack({"observation/state": np.zeros(4), "prompt": "pick"}))
        assert unpack(ws.recv(timeout=5))["actions"].shape == (3, 2)


def test_reset_reaches_a_neural_gym_server(served):
    recorder = Recorder()
    with RemotePolicy(served(recorder).url, timeout=5) as policy:
        policy.reset(seed=11)
    assert recorder.resets == [None, 11]  # reset on connect, then the client's


def test_expert_behind_the_server_matches_the_local_expert(served):
    from neural_gym.envs.tabletop import TabletopEnv

    env = TabletopEnv(task="reach", obs_mode="dict")
    obs, _ = env.reset(seed=3)
    local = ExpertPolicy("reach")
    with RemotePolicy(served(ExpertPolicy("reach")).url, timeout=10) as remote:
        for _ in range(5):
            batch = {k: ([v] if k == "instruction" else v[None]) for k, v in obs.items()}
            action = remote.act(batch)
            np.testing.assert_array_equal(action, local.act(batch))
            obs = env.step(action[0, 0])[0]
    env.close()


def test_dead_server_times_out_clearly():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match=f"No policy server answered at ws://127.0.0.1:{port} within 0.5 s"):
        RemotePolicy(f"127.0.0.1:{port}", timeout=0.5)
    assert 0.4 < time.monotonic() - start < 5


def test_slow_server_times_out_and_the_client_recovers(served):
    delay = {"s": 1.5}

    def slow(obs):
        time.sleep(delay["s"])
        return np.zeros((len(obs), 1, 2))

    policy = RemotePolicy(served(CallablePolicy(slow, 2)).url, timeout=0.4)
    start = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match="did not send a reply within 0.4 s") as err:
        policy.act(np.zeros((1, 3)))
    assert isinstance(err.value, TimeoutError) and isinstance(err.value, PolicyError)
    assert time.monotonic() - start < 1.4
    delay["s"] = 0.0
    time.sleep(1.2)  # the server finishes the late request
    assert policy.act(np.zeros((1, 3))).shape == (1, 1, 2)  # a fresh connection
    policy.close()


def test_server_side_exception_reaches_the_client(served):
    def broken(obs):
        raise RuntimeError("the VLA weights are missing")

    server = served(CallablePolicy(broken, 2))
    policy = RemotePolicy(server.url, timeout=5, chunk_size=1)
    with pytest.raises(RemotePolicyError, match="failed: RuntimeError: the VLA weights are missing") as err:
        policy.act(np.zeros((1, 3)))
    assert "Traceback" in str(err.value)
    bad_chunk = served(CallablePolicy(lambda o: np.full((1, 2), np.nan), 2))
    with (
        RemotePolicy(bad_chunk.url, timeout=5) as other,
        pytest.raises(RemotePolicyError, match="PolicyError: .*NaN"),
    ):
        other.act(np.zeros((1, 3)))


def test_client_checks_what_the_server_replies(served):
    server = served(Recorder())
    with RemotePolicy(server.url, timeout=5, chunk_size=4) as policy, pytest.raises(PolicyError, match="expected"):
        policy.act(np.zeros((1, 3)))  # the server's chunks have 3 actions, the client was told 4


def test_health_check_and_bad_settings(served):
    import urllib.request

    server = served(Recorder())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as response:
        assert response.status == 200
    with pytest.raises(ValueError, match="timeout"):
        RemotePolicy(server.url, timeout=0)
    with pytest.raises(TypeError, match="Policy"):
        PolicyServer(object(), port=0)
    with pytest.raises(ValueError, match="same wire key"):
        RemotePolicy(server.url, obs_keys={"state": "x", "pixels": "x"})


OPENPI_CLIENT_SCRIPT = """
import sys
import numpy as np
from openpi_client.websocket_client_policy import WebsocketClientPolicy

client = WebsocketClientPolicy(host="127.0.0.1", port=int(sys.argv[1]))
assert client.get_server_metadata()["chunk_size"] == 3
obs = {"pixels": np.arange(48, dtype=np.uint8).reshape(4, 4, 3), "state": np.array([0.25, -1.5, 3.0]), "instruction": "go"}
actions = client.infer(obs)["actions"]
expected = np.array([[0.25, -1.5], [0.35, -1.4], [0.25 / 3.0, -0.5]], dtype=np.float32)
print(actions.dtype, actions.shape, actions.tobytes() == expected.tobytes())
"""


@pytest.mark.skipif(
    not os.environ.get("NEURAL_GYM_OPENPI_PYTHON"),
    reason="set NEURAL_GYM_OPENPI_PYTHON to a Python where `import openpi_client` works (it pins numpy < 2)",
)
def test_openpi_client_talks_to_our_server(served):
    """openpi's own WebsocketClientPolicy (in its own environment) against PolicyServer."""
    server = served(Recorder())
    out = subprocess.run(
        [os.environ["NEURAL_GYM_OPENPI_PYTHON"], "-c", OPENPI_CLIENT_SCRIPT, str(server.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["float32", "(3,", "2)", "True"]
