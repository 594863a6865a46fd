"""Fixtures shared by the oracle tests: where our CLI and the shared models are, a work folder per
test, and a quiet MXNet. The tests run in the venv that scripts/python_env.sh creates."""
import json
import os
import subprocess
from pathlib import Path

import pytest

CLI = os.environ.get("MIXPREC_CLI", "")
SHARED = Path(os.environ.get("MIXPREC_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
MXNET_MODELS = SHARED / "models" / "mxnet"

# The shared MXNet checkpoints: prefix, epoch, the data input's shape.
SHARED_MODELS = [
    ("gluoncv_cifar_resnet20_v1/cifar_resnet20_v1", 0, (2, 3, 32, 32)),
    ("gluoncv_cifar_resnet20_v2/cifar_resnet20_v2", 0, (2, 3, 32, 32)),
    ("insightface_mtcnn/det1", 1, (1, 3, 12, 12)),
    ("insightface_mtcnn/det2", 1, (1, 3, 24, 24)),
    ("insightface_mtcnn/det3", 1, (1, 3, 48, 48)),
    ("insightface_mtcnn/det4", 1, (1, 15, 24, 24)),
]


def run_cli(*args, check=True):
    """Runs `mixprec ARGS`; returns the completed process (stdout and stderr as text)."""
    if not CLI:
        pytest.fail("MIXPREC_CLI is not set (ctest sets it to the built mixprec)")
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        pytest.fail(f"mixprec {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}")
    return p


def cli_json(*args):
    return json.loads(run_cli(*args, "--json").stdout)


@pytest.fixture
def work(tmp_path):
    return tmp_path


@pytest.fixture(scope="session")
def mx():
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    import mxnet

    return mxnet
