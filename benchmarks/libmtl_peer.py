"""A peer side by side: LibMTL (PyTorch) vs keras_mtl.

The same shapes — an MLP encoder of `num_layers` Dense/Linear + ReLU layers
of `units` on `(batch, 64)` features, one softmax head per task — trained
with LibMTL's `HPS` and `Cross_stitch` architectures (a plain PyTorch loop on
one fixed batch: Adam, sum of the tasks' cross-entropies, as LibMTL's
`Trainer` with equal weighting does) and with keras_mtl's `hard_sharing` and
`cross_stitch` (`model.fit`, see `timing.training_examples_per_s`). keras_mtl
on the torch backend alternates with LibMTL over rounds in this process;
keras_mtl on JAX is timed in a child process (`--keras-side`) of the same run
and compared with the same LibMTL medians.

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
import sys
import types
import unittest
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np

from benchmarks.timing import (
    SKIPPED,
    _median_seconds,
    keras_speeds,
    medians,
    parse_module_args,
    peak_rss_mb,
    record,
    records_from_child,
    records_table,
    schedule,
    write_json,
)
from keras_mtl.models.baselines import hard_sharing
from keras_mtl.models.sluice import cross_stitch
from keras_mtl.task import Task

DEFAULT_LIBMTL_PATH = "/tmp/libmtl_pkgs"


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


BUILDERS = {"hard_sharing": hard_sharing, "cross_stitch": cross_stitch}
PEERS = {"hard_sharing": "HPS", "cross_stitch": "Cross_stitch"}
# Keras backends timed in a child process, against the LibMTL timings of this
# one: JAX compiles the whole training step, which the torch backend does not.
OTHER_BACKENDS = ("jax",)


def problem(quick, batch_size):
    """The shared shapes: `(tasks, x, y, builder kwargs)` (seeded)."""
    dim, units, num_layers = 64, (32 if quick else 256), 4
    tasks = [Task(f"task{i}", num_classes=10) for i in range(2 if quick else 4)]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size, dim)).astype("float32")
    y = {t.name: rng.integers(0, 10, size=batch_size).astype("int32") for t in tasks}
    shape = dict(input_shape=(dim,), units=units, num_layers=num_layers, seed=0)
    return tasks, x, y, shape


def keras_side(quick=False, batch_size=64):
    """keras_mtl's speeds on this process's backend, for every builder.

    Returns:
        dict builder name → `_side` dict.
    """
    tasks, x, y, shape = problem(quick, batch_size)
    repeats, rounds = schedule(quick)
    speeds = {}
    for name, builder in BUILDERS.items():
        model = builder(tasks, **shape)
        runs = [keras_speeds(model, x, y, batch_size, repeats) for _ in range(rounds)]
        speeds[name] = _side(model, runs)
    return speeds


def _side(model, runs):
    """`{"train", "step", "infer"}` (medians of `keras_speeds` runs), the
    model's `params` and this process's `peak_rss_mb`."""
    train, step, infer = medians(runs)
    return dict(
        train=train,
        step=step,
        infer=infer,
        params=model.count_params(),
        peak_rss_mb=peak_rss_mb(),
    )


def run(quick=False, batch_size=64, other_backends=OTHER_BACKENDS):
    """Runs the side by side; returns a list of `benchmarks.timing.record` dicts.

    keras_mtl on the torch backend is timed in this process, alternating with
    LibMTL over rounds; keras_mtl on each of `other_backends` is timed in a
    child process and compared with the same LibMTL medians.
    """
    HPS, Cross_stitch = import_libmtl()
    import torch

    if os.environ.get("BENCH_TORCH_THREADS"):  # e.g. 1 on a CPU shared with others
        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))
    others = {
        b: records_from_child(__file__, b, quick, batch_size, ("--keras-side",))
        for b in other_backends
    }
    architectures = {"HPS": HPS, "Cross_stitch": Cross_stitch}
    tasks, x, y, shape = problem(quick, batch_size)
    repeats, rounds = schedule(quick)
    setup = f"mlp(T={len(tasks)},units={shape['units']},layers={shape['num_layers']})"
    records = []
    for name, builder in BUILDERS.items():
        torch.manual_seed(0)
        peer = libmtl_model(
            architectures[PEERS[name]],
            tasks,
            shape["input_shape"][0],
            shape["units"],
            shape["num_layers"],
        )
        loop = TorchLoop(peer, x, y)
        model = builder(tasks, **shape)
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(keras_speeds(model, x, y, batch_size, repeats))
            theirs.append(_torch_speeds(loop, batch_size, repeats))
        sides = {"torch": _side(model, ours)}
        sides.update({b: speeds[name] for b, speeds in others.items()})
        peer_train, peer_step, peer_infer = medians(theirs)
        for backend, side in sides.items():
            records.append(
                record(
                    f"keras_mtl {name}",
                    f"libmtl {PEERS[name]}",
                    batch_size,
                    side["train"],
                    peer_train,
                    backend=backend,
                    setup=setup,
                    step_ms=side["step"] * 1e3,
                    baseline_step_ms=peer_step * 1e3,
                    inference_examples_per_s=side["infer"],
                    baseline_inference_examples_per_s=peer_infer,
                    inference_ratio=side["infer"] / peer_infer,
                    params=side["params"],
                    baseline_params=sum(p.numel() for p in peer.parameters()),
                    torch_threads=torch.get_num_threads(),
                    peak_rss_mb=side["peak_rss_mb"],
                )
            )
    return records


def main(argv=None):
    args = parse_module_args(
        __doc__, "libmtl_peer_benchmark.json", 64, argv, flags=("--keras-side",)
    )
    if args.keras_side:  # the child process of `run`: keras_mtl only
        write_json(keras_side(args.quick, args.batch_size), args.output)
        return 0
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
