"""What a remote policy costs: the round trip of one observation through ``RemotePolicy`` -> ``PolicyServer`` (openpi's
wire format over localhost) against calling the same policy in-process.

The served policy returns a constant chunk (no compute), so the figures are transport, msgpack and checks only:
per-request latency (median and 90th percentile over ``--requests`` requests, after 20 warm-up requests) for a
tabletop-sized dict observation (64x64x3 uint8 frame, 54 state values, an instruction), and the in-process call of
the same policy.

    python benchmarks/remote_policy.py [--requests 500] [--chunk 8]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neural_gym.policies import CallablePolicy, PolicyServer, RemotePolicy


def _latencies(call, obs, n: int) -> np.ndarray:
    for _ in range(20):
        call(obs)
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        call(obs)
        out[i] = time.perf_counter() - start
    return out * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=8)
    args = parser.parse_args()
    chunk = np.zeros((1, args.chunk, 4), np.float32)
    policy = CallablePolicy(lambda obs: chunk, 4, chunk_size=args.chunk)
    rng = np.random.default_rng(0)
    obs = {
        "pixels": rng.integers(0, 256, size=(1, 64, 64, 3), dtype=np.uint8),
        "state": rng.normal(size=(1, 54)),
        "instruction": ["push the red cube onto the blue square"],
    }
    local = _latencies(policy.act, obs, args.requests)
    with PolicyServer(policy, port=0).start() as server, RemotePolicy(server.url, timeout=30) as remote:
        remote_ms = _latencies(remote.act, obs, args.requests)
    result = {
        "requests": args.requests,
        "chunk_size": args.chunk,
        "observation": "64x64x3 uint8 + 54 float64 + instruction",
        "remote_ms_median": round(float(np.median(remote_ms)), 3),
        "remote_ms_p90": round(float(np.percentile(remote_ms, 90)), 3),
        "local_ms_median": round(float(np.median(local)), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
