"""A peer side by side: LibMTL (PyTorch) vs keras_mtl on the torch backend.

The same shapes — an MLP encoder of `num_layers` Dense/Linear + ReLU layers
of `units` on `(batch, 64)` features, one softmax head per task — trained
with LibMTL's `HPS` and `Cross_stitch` architectures (a plain PyTorch loop:
Adam, sum of the tasks' cross-entropies, as LibMTL's `Trainer` with equal
weighting does) and with keras_mtl's `hard_sharing` and `cross_stitch`
(`train_on_batch`), alternating over rounds in one process.

LibMTL is not a dependency of keras_mtl. Install it next to the torch you
test with, without its dependencies (its 1.1.5 release pins a CUDA torch and
imports the removed `torchvision.models.utils`, for which a stand-in is
registered here):

    pip install --no-deps --target /tmp/libmtl_pkgs LibMTL
    LIBMTL_PATH=/tmp/libmtl_pkgs KERAS_BACKEND=torch python benchmarks/libmtl_peer.py

Without it (or on another backend) `run` raises `unittest.SkipTest`.
`BENCH_TORCH_THREADS=1` pins torch to one thread for both sides: on a CPU
oversubscribed by other processes, multi-threaded torch ops stall at their
barriers, which penalises the side issuing more small ops.
"""

import os
import statistics
import sys
import types
import unittest
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np

from benchmarks.timing import (
    _median_seconds,
    inference_examples_per_s,
    parse_module_args,
    peak_rss_mb,
    record,
    records_table,
    training_examples_per_s,
    write_json,
)
from keras_mtl.models.baselines import hard_sharing
from keras_mtl.models.sluice import cross_stitch
from keras_mtl.task import Task

DEFAULT_LIBMTL_PATH = "/tmp/libmtl_pkgs"
SKIPPED = 77  # exit status of main() when LibMTL is unavailable


def import_libmtl():
    """LibMTL's `HPS` and `Cross_stitch`, or `unittest.SkipTest` saying why."""
    if keras.backend.backend() != "torch":
        raise unittest.SkipTest("the LibMTL peer runs on KERAS_BACKEND=torch only")
    path = os.environ.get("LIBMTL_PATH", DEFAULT_LIBMTL_PATH)
    if os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)
    try:
        import torch.hub

        if "torchvision.models.utils" not in sys.modules:
            stand_in = types.ModuleType("torchvision.models.utils")
            stand_in.load_state_dict_from_url = torch.hub.load_state_dict_from_url
            vision = sys.modules.setdefault(
                "torchvision", types.ModuleType("torchvision")
            )
            models = sys.modules.setdefault(
                "torchvision.models", types.ModuleType("torchvision.models")
            )
            vision.models, models.utils = models, stand_in
            sys.modules["torchvision.models.utils"] = stand_in
        from LibMTL.architecture import HPS, Cross_stitch
    except ImportError as error:
        raise unittest.SkipTest(
            f"LibMTL is not importable ({error}); install it with "
            f"`pip install --no-deps --target {DEFAULT_LIBMTL_PATH} LibMTL`"
        ) from error
    return HPS, Cross_stitch


def _mlp_encoder(dim, units, num_layers, resnet_layout):
    """An MLP encoder; `resnet_layout` names its parts as LibMTL's Cross_stitch
    expects of a ResNet (conv1/bn1/relu/maxpool stem, then layer1..layer4)."""
    from torch import nn

    def block(k):
        return nn.Sequential(nn.Linear(dim if k == 0 else units, units), nn.ReLU())

    if not resnet_layout:
        return nn.Sequential(*[block(k) for k in range(num_layers)])
    encoder = nn.Module()
    encoder.conv1 = encoder.bn1 = encoder.relu = encoder.maxpool = nn.Identity()
    for k in range(num_layers):
        setattr(encoder, f"layer{k + 1}", block(k))
    return encoder


def libmtl_model(architecture, tasks, dim, units, num_layers):
    import torch
    from torch import nn

    decoders = nn.ModuleDict({t.name: nn.Linear(units, t.num_classes) for t in tasks})
    resnet_layout = architecture.__name__ == "Cross_stitch"
    return architecture(
        task_name=[t.name for t in tasks],
        encoder_class=lambda: _mlp_encoder(dim, units, num_layers, resnet_layout),
        decoders=decoders,
        rep_grad=False,
        multi_input=False,
        device=torch.device("cpu"),
    )


class TorchLoop:
    """Train and inference steps of a LibMTL model on one fixed batch."""

    def __init__(self, model, x, y):
        import torch

        self.torch, self.model = torch, model
        self.x = torch.as_tensor(x)
        self.y = {name: torch.as_tensor(v, dtype=torch.long) for name, v in y.items()}
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(self):
        self.model.train()
        self.optimizer.zero_grad()
        out = self.model(self.x)
        loss = sum(
            self.torch.nn.functional.cross_entropy(out[n], y) for n, y in self.y.items()
        )
        loss.backward()
        self.optimizer.step()

    def predict(self):
        self.model.eval()
        with self.torch.no_grad():
            return self.model(self.x)


def _torch_speeds(loop, batch_size, repeats):
    train = _median_seconds(loop.train_step, 3, repeats)
    infer = _median_seconds(loop.predict, 3, repeats)
    return batch_size / train, train, batch_size / infer


def _keras_speeds(model, x, y, batch_size, repeats):
    train, step = training_examples_per_s(model, x, y, batch_size, repeats=repeats)
    infer, _ = inference_examples_per_s(model, x, batch_size, repeats=repeats)
    return train, step, infer


def run(quick=False, batch_size=64):
    """Runs the side by side; returns a list of `benchmarks.timing.record` dicts."""
    HPS, Cross_stitch = import_libmtl()
    import torch

    if os.environ.get("BENCH_TORCH_THREADS"):  # e.g. 1 on a CPU shared with others
        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))

    dim, units, num_layers = 64, (32 if quick else 256), 4
    num_tasks = 2 if quick else 4
    repeats, rounds = (3, 1) if quick else (10, 3)
    tasks = [Task(f"task{i}", num_classes=10) for i in range(num_tasks)]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    y = {t.name: rng.integers(0, 10, size=batch_size).astype("int32") for t in tasks}
    shape = dict(input_shape=(dim,), units=units, num_layers=num_layers, seed=0)
    pairs = (
        ("keras_mtl hard_sharing", hard_sharing, "libmtl HPS", HPS),
        ("keras_mtl cross_stitch", cross_stitch, "libmtl Cross_stitch", Cross_stitch),
    )
    records = []
    for name, builder, peer_name, architecture in pairs:
        torch.manual_seed(0)
        peer = libmtl_model(architecture, tasks, dim, units, num_layers)
        loop = TorchLoop(peer, x, y)
        model = builder(tasks, **shape)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(_keras_speeds(model, x, y, batch_size, repeats))
            theirs.append(_torch_speeds(loop, batch_size, repeats))
        (train, step, infer), (peer_train, peer_step, peer_infer) = (
            [statistics.median(c) for c in zip(*runs)] for runs in (ours, theirs)
        )
        records.append(
            record(
                name,
                peer_name,
                batch_size,
                train,
                peer_train,
                setup=f"mlp(T={num_tasks},units={units},layers={num_layers})",
                step_ms=step * 1e3,
                baseline_step_ms=peer_step * 1e3,
                inference_examples_per_s=infer,
                baseline_inference_examples_per_s=peer_infer,
                inference_ratio=infer / peer_infer,
                params=model.count_params(),
                baseline_params=sum(p.numel() for p in peer.parameters()),
                torch_threads=torch.get_num_threads(),
                peak_rss_mb=peak_rss_mb(),
            )
        )
    return records


def main(argv=None):
    args = parse_module_args(__doc__, "libmtl_peer_benchmark.json", 64, argv)
    try:
        records = run(args.quick, args.batch_size)
    except unittest.SkipTest as skip:
        print(f"skipped: {skip}", file=sys.stderr)
        return SKIPPED
    print(records_table(records))
    write_json(records, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
