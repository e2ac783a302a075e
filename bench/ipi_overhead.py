"""Per-call cost of `nequip-md ipi` against `nequip-md evaluate`'s own time per frame (docs/performance.md).

    env -u PYTHONPATH -u PYTHONHOME OMP_NUM_THREADS=1 /usr/bin/python3 bench/ipi_overhead.py build/app/nequip-md

Debian's python3 with ASE 3.22. For a 24-atom and a 192-atom water box and the water example's model, it times
- evaluate: `nequip-md evaluate` on K frames minus on 1 frame, over K - 1 (start-up and model loading removed;
  best of 3 runs each);
- the client's own time in the neighbour list and the model per call (its last log line);
- the round trip seen by the server: ASE's SocketServer.calculate (STATUS, POSDATA, STATUS, GETFORCE and the
  answer), and ASE's SocketIOCalculator (what atoms.get_forces() costs a user, ASE's bookkeeping included).
The frames are the box rattled by 0.01 A, so that the client's neighbour list (skin 1 A) is reused as in MD;
each socket measurement is the best of 3 runs.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import ase.io
from ase import Atoms
from ase.calculators.socketio import SocketIOCalculator, SocketServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "inputs/water/water_model.npz")
WATER = os.path.join(ROOT, "../shared/data/water-64-deepmd/water.extxyz")
K = 200


def small_water_box(frame):
    """The 8 whole molecules whose O lies in the first octant of a 64-molecule frame, in a cube of half its edge
    plus 1 A (no pair closer than in the model's training data)."""
    half = frame.cell[0, 0] / 2
    symbols = frame.get_chemical_symbols()
    hydrogens = [i for i, s in enumerate(symbols) if s == "H"]
    kept, positions = [], []
    for o in (i for i, s in enumerate(symbols) if s == "O"):
        x = frame.positions[o] % (2 * half)
        if (x < half).all():
            vectors = frame.get_distances(o, hydrogens, mic=True, vector=True)
            kept.append("O")
            positions.append(x)
            for k in np.argsort(np.linalg.norm(vectors, axis=1))[:2]:
                kept.append("H")
                positions.append(x + vectors[k])
    return Atoms(kept, positions=positions, cell=[half + 1.0] * 3, pbc=True)


def frames_of(atoms, count):
    rng = np.random.RandomState(1)
    frames = []
    for _ in range(count):
        copy = atoms.copy()
        copy.positions += rng.normal(scale=0.01, size=copy.positions.shape)
        frames.append(copy)
    return frames


def evaluate_seconds_per_frame(executable, frames, directory):
    times = {}
    for count in (1, len(frames)):
        path = os.path.join(directory, f"frames{count}.extxyz")
        ase.io.write(path, frames[:count])
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([executable, "evaluate", "--model", MODEL, "--data", path], check=True,
                           stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - start)
        times[count] = best
    return (times[len(frames)] - times[1]) / (len(frames) - 1)


def client(executable, structure, name, log):
    return subprocess.Popen([executable, "ipi", "--model", MODEL, "--structure", structure, "--unix", name],
                            stdout=log, stderr=subprocess.STDOUT)


def client_compute_seconds(log_path):
    text = open(log_path).read()
    match = re.search(r"after (\d+) calls, \d+ neighbour-list builds, ([0-9.e+-]+) s", text)
    return float(match.group(2)) / int(match.group(1))


def socket_seconds_per_call(executable, frames, directory, tag):
    structure = os.path.join(directory, "structure.extxyz")
    ase.io.write(structure, frames[0])
    name = f"bench-{os.getpid()}-{tag}"
    log_path = os.path.join(directory, f"client_{tag}.log")
    with open(log_path, "w") as log:
        if tag == "server":
            server = SocketServer(unixsocket=name)
            process = client(executable, structure, name, log)
            for atoms in frames[:5]:
                server.calculate(atoms)  # warm-up
            start = time.perf_counter()
            for atoms in frames:
                server.calculate(atoms)
            seconds = (time.perf_counter() - start) / len(frames)
            server.close()
        else:
            with SocketIOCalculator(unixsocket=name) as calc:
                process = client(executable, structure, name, log)
                atoms = frames[0].copy()
                atoms.calc = calc
                for frame in frames[:5]:
                    atoms.positions = frame.positions
                    atoms.get_forces()
                start = time.perf_counter()
                for frame in frames:
                    atoms.positions = frame.positions
                    atoms.get_forces()
                seconds = (time.perf_counter() - start) / len(frames)
        process.wait()
    return seconds, client_compute_seconds(log_path)


def main():
    executable = os.path.abspath(sys.argv[1])
    full = ase.io.read(WATER, 0)
    full.calc = None
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for atoms in (small_water_box(full), full):
            frames = frames_of(atoms, K)
            evaluate = evaluate_seconds_per_frame(executable, frames, directory)
            # Best of 3 (the machine may be shared): the run with the fastest round trip, and its client's time.
            server, compute = min(socket_seconds_per_call(executable, frames, directory, "server") for _ in range(3))
            calculator = min(socket_seconds_per_call(executable, frames, directory, "calculator")[0] for _ in range(3))
            rows.append((len(atoms), evaluate, compute, server, calculator))
    print("| atoms | evaluate ms/frame | client compute ms/call | SocketServer round trip ms/call | overhead "
          "(round trip - compute) ms | overhead / evaluate | SocketIOCalculator ms/call |")
    print("|---|---|---|---|---|---|---|")
    for atoms, evaluate, compute, server, calculator in rows:
        overhead = server - compute
        print(f"| {atoms} | {1e3 * evaluate:.2f} | {1e3 * compute:.2f} | {1e3 * server:.2f} | {1e3 * overhead:.2f} | "
              f"{overhead / evaluate:.2f} | {1e3 * calculator:.2f} |")


if __name__ == "__main__":
    main()
