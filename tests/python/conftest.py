"""Shared fixtures of the gradlab Python package's tests: small result folders written once per
session with gradlab.run (the binary: $GRADLAB_EXE, which ctest sets)."""

import os
import sys

import pytest

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "python"))

import gradlab  # noqa: E402

MLP = {
    "name": "py-mlp", "seed": 3, "repeats": 2,
    "model": {"depth": 4, "width": 16, "activation": "tanh"},
    "data": {"name": "gaussian", "dim": 8, "classes": 3},
    "train": {"steps": 4, "lr": 0.01},
    "probe": {"samples": 16, "every": 2, "histograms": True, "bins": 8, "dump_tensors": [0, 4]},
    "grid": {"model.init": ["glorot_uniform", "he_normal"], "model.depth": [2, 10]},
}

CHAIN = {
    "name": "py-chain", "seed": 5, "repeats": 2,
    "model": {"type": "rnn", "length": 6, "width": 12, "activation": "tanh",
              "recurrent_init": "orthogonal", "input_init": "glorot_normal",
              "inputs": "first_step", "loss_at": "last"},
    "data": {"name": "gaussian", "dim": 8, "classes": 3},
    "train": {"steps": 4, "lr": 0.01},
    "probe": {"samples": 16, "every": 2, "dump_tensors": "all"},
    "grid": {"model.length": [3, 6]},
}


@pytest.fixture(scope="session")
def mlp(tmp_path_factory):
    return gradlab.run(MLP, out=str(tmp_path_factory.mktemp("mlp") / "out"), jobs=2, quiet=True)


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    return gradlab.run(CHAIN, out=str(tmp_path_factory.mktemp("chain") / "out"), jobs=2,
                       quiet=True)
