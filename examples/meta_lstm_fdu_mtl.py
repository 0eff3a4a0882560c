"""Meta-LSTM vs single-task LSTM vs hard sharing on the 16 FDU-MTL domains.

Also the transfer experiment of the paper: train the meta part on 15
domains, then train only the held-out domain's own P, Q, B and head
(`meta_lstm_transfer`), against a Meta-LSTM trained from scratch on it.

    KERAS_BACKEND=jax nice python examples/meta_lstm_fdu_mtl.py --seeds 0 1 2

Prints per-task and average test accuracy (mean ± std over seeds) and writes
the raw numbers as JSON. The defaults keep the CPU cost small (max length
100, vocabulary 10k, width 32, 2 epochs); see `--help`.

`--models ... mrn` adds a multilinear relationship network (Long et al.,
2017) on the same shared encoder as hard sharing (embedding, one LSTM of
`--units`, masked mean over time), with MRN's task-specific hidden and
output layers under the tensor-normal prior. Its learned 16 × 16 task
correlations (of Σ3, and of the task weights' deviations from their mean)
go into the JSON per seed and are drawn as heatmaps in `--mrn-output-dir`:

    KERAS_BACKEND=jax nice python examples/meta_lstm_fdu_mtl.py \
        --models meta_lstm hard_sharing mrn --seeds 0 1 2

`--models ... tree` puts a `TreeGroupedDense` output layer (Han & Zhang,
2015; the tree builder's defaults) on the same shared encoder; the tree it
learns over the 16 domains goes into the JSON and is drawn as a dendrogram
per seed in `--tree-output-dir`.
"""

import argparse
import json
import os
import time

import keras
import numpy as np
from tabulate import tabulate

from keras_mtl import Task
from keras_mtl.data.fdu_mtl import fdu_mtl
from keras_mtl.models import token_encoder
from keras_mtl.models.baselines import hard_sharing, single_task
from keras_mtl.models.meta_lstm import meta_lstm, meta_lstm_transfer
from keras_mtl.models.mrn import mrn, prior_layers
from keras_mtl.models.tree import tree
from keras_mtl.plotting import plot_task_correlation, plot_tree_dendrogram

# The movie-review domains (the other 12 review products, books and music).
MOVIE_DOMAINS = ("MR", "imdb", "dvd", "video")


def add_budget_arguments(parser):
    """The FDU-MTL budget of this table (seeds, epochs, sizes), shared with
    `meta_lstm_readout.py` so that both measure the same models."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=100)
    parser.add_argument("--vocab-size", type=int, default=10000)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--meta-units", type=int, default=16)
    parser.add_argument("--meta-vector-dim", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_budget_arguments(parser)
    parser.add_argument("--transfer-epochs", type=int, default=5)
    # Each domain alone gets 1/16 of the updates of one multi-task epoch.
    parser.add_argument("--single-task-epochs", type=int, default=None)
    parser.add_argument("--held-out", default="video")
    parser.add_argument(
        "--models",
        nargs="+",
        default=["meta_lstm", "hard_sharing", "single_task", "transfer"],
        help="also available: mrn, tree",
    )
    parser.add_argument("--output", default="meta_lstm_fdu_mtl.json")
    parser.add_argument("--mrn-covariances", default="all", choices=["all", "task"])
    parser.add_argument("--mrn-update-every", type=int, default=100)
    parser.add_argument("--mrn-prior-weight", type=float, default=1e-4)
    parser.add_argument(
        "--mrn-output-dir",
        default="fdu_mrn_results",
        help="where the MRN task-correlation heatmaps are written",
    )
    parser.add_argument(
        "--tree-output-dir",
        default="fdu_tree_results",
        help="where the learned trees are drawn as dendrograms",
    )
    return parser.parse_args(argv)


def concat_tests(data, domains):
    """All test sets of `domains` as one `(x, labels)` (one predict call)."""
    parts = [data.arrays("test", task=d) for d in domains]
    x = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    labels = np.concatenate([p[1][d] for p, d in zip(parts, domains)])
    return x, labels


def accuracies(predictions, x, labels, domains, task_of):
    """Per-domain accuracy; `task_of(m)` names the output read for domain m."""
    result = {}
    for m, domain in enumerate(domains):
        rows = x["task_id"] == m
        guess = predictions[task_of(m)][rows].argmax(-1)
        result[domain] = float(np.mean(guess == labels[rows]))
    return result


def subset(x, y, rows, task_names):
    return {k: v[rows] for k, v in x.items()}, {t: y[t][rows] for t in task_names}


def run_seed(data, args, seed, readouts=None):
    """Per-model per-domain accuracies; MRN's correlations go to `readouts`."""
    tasks, domains = data.tasks, [t.name for t in data.tasks]
    x, y = data.arrays("train")
    x_test, labels = concat_tests(data, domains)
    common = dict(
        vocab_size=data.vocab_size,
        embedding_dim=args.embedding_dim,
        units=args.units,
        seed=seed,
    )
    fit = dict(epochs=args.epochs, batch_size=args.batch_size, verbose=0)
    results = {}
    if "meta_lstm" in args.models:
        model = meta_lstm(
            tasks,
            meta_units=args.meta_units,
            meta_vector_dim=args.meta_vector_dim,
            **common,
        )
        model.fit(x, y, **fit)
        predictions = model.predict(x_test, batch_size=256, verbose=0)
        results["meta_lstm"] = accuracies(
            predictions, x_test, labels, domains, lambda m: domains[m]
        )
    token_models = {
        "hard_sharing": lambda: hard_sharing(
            tasks, encoder="lstm", num_layers=1, **common
        ),
        "mrn": lambda: mrn_model(data, args, seed),
        "tree": lambda: tree_model(data, args, seed),
    }
    token_readouts = {"mrn": mrn_readouts, "tree": tree_readouts}
    for name, build in token_models.items():
        if name not in args.models:
            continue
        model = build()
        model.fit(x["tokens"], y, **fit)
        predictions = model.predict(x_test["tokens"], batch_size=256, verbose=0)
        results[name] = accuracies(
            predictions, x_test, labels, domains, lambda m: domains[m]
        )
        if readouts is not None and name in token_readouts:
            readouts[name] = token_readouts[name](model, domains, args, seed)
    if "single_task" in args.models:
        epochs = args.single_task_epochs or args.epochs
        results["single_task"] = single_task_runs(
            data, common, dict(fit, epochs=epochs)
        )
    if "transfer" in args.models:
        results.update(transfer(data, args, seed, common, fit))
    return results


def shared_encoder(data, args, seed):
    """Hard sharing's encoder as a `backbone` for `mrn()` and `tree()`:
    embedding, LSTM, masked mean over time (`token_encoder`)."""
    keras.utils.set_random_seed(seed)
    return token_encoder(
        data.vocab_size,
        args.max_length,
        embedding_dim=args.embedding_dim,
        units=args.units,
    )


def mrn_model(data, args, seed):
    """MRN on the shared encoder (`shared_encoder`).

    On the pooled `units`-wide features sit MRN's task-specific hidden layer
    (`units` wide) and output layer, both under the prior (only the output
    layer with `--mrn-covariances task`).
    """
    return mrn(
        data.tasks,
        backbone=shared_encoder(data, args, seed),
        units=args.units,
        covariances=args.mrn_covariances,
        update_every=args.mrn_update_every,
        prior_weight=args.mrn_prior_weight,
        seed=seed,
    )


def tree_model(data, args, seed):
    """A `TreeGroupedDense` output layer (16 domains × 2 classes) on the shared
    encoder, with the tree builder's defaults (3 levels, λ = 0.01, 0.1, 1,
    proximal SGD at the learning rate)."""
    return tree(data.tasks, backbone=shared_encoder(data, args, seed), seed=seed)


def tree_readouts(model, domains, args, seed):
    """The learned partitions (root level first), their dendrogram, and the
    correlation of the tasks' leaf components (where the tasks differ when
    every level above the leaf is fused)."""
    os.makedirs(args.tree_output_dir, exist_ok=True)
    head = model.get_layer("tree_head")
    partitions = head.tree()
    plot_tree_dendrogram(
        partitions,
        os.path.join(args.tree_output_dir, f"fdu_tree_seed{seed}.png"),
        task_names=domains,
        title=f"TAT tree on FDU-MTL, seed {seed}",
    )
    named = [[[domains[t] for t in group] for group in level] for level in partitions]
    leaf = head.level_components()[0]
    return {
        "partitions": named,
        "groups_per_level": [len(p) for p in partitions],
        "leaf_correlation": np.corrcoef(leaf - leaf.mean(0)).tolist(),
    }


def movie_grouping(partition, domains, group=MOVIE_DOMAINS):
    """Per level: the groups holding movie domains, whether one group holds
    all of them (`together`) and whether it holds nothing else (`alone`)."""
    holding = [g for g in partition if any(d in group for d in g)]
    together = len(holding) == 1
    return {
        "groups": len(partition),
        "movie_group_sizes": [len(g) for g in holding],
        "together": together,
        "alone": together and len(holding[0]) == len(group),
    }


def mrn_readouts(model, domains, args, seed):
    """Σ3 and deviation correlations of every prior layer; heatmaps of each."""
    os.makedirs(args.mrn_output_dir, exist_ok=True)
    out = {}
    for layer in prior_layers(model):
        for readout, matrix in [
            ("covariance", layer.task_correlation()),
            ("deviation", layer.task_deviation_correlation()),
        ]:
            out[f"{layer.name}_{readout}"] = np.asarray(matrix).tolist()
            path = os.path.join(
                args.mrn_output_dir,
                f"fdu_mrn_{layer.name}_{readout}_seed{seed}.png",
            )
            what = "Σ3 correlation" if readout == "covariance" else "deviation corr."
            plot_task_correlation(
                matrix, path, domains, title=f"MRN {layer.name} {what}, seed {seed}"
            )
    return out


def movie_contrast(matrix, domains, group=MOVIE_DOMAINS):
    """Mean correlation within `group`, group-to-others and among the others."""
    matrix = np.asarray(matrix)
    inside = np.array([d in group for d in domains])
    off = ~np.eye(len(domains), dtype=bool)
    return {
        "within_movie": float(matrix[np.outer(inside, inside) & off].mean()),
        "movie_to_other": float(matrix[np.outer(inside, ~inside)].mean()),
        "within_other": float(matrix[np.outer(~inside, ~inside) & off].mean()),
    }


def nearest_neighbours(matrix, domains):
    """Each domain's most correlated other domain."""
    matrix = np.array(matrix, dtype="float64")
    np.fill_diagonal(matrix, -np.inf)
    return {d: domains[int(matrix[i].argmax())] for i, d in enumerate(domains)}


def correlation_report(readouts, domains, output_dir):
    """The movie-group contrast per seed and of the seed average (printed),
    and heatmaps of the seed averages."""
    keys = sorted({k for r in readouts for k in r})
    report = {}
    for key in keys:
        matrices = [np.array(r[key]) for r in readouts if key in r]
        mean = np.mean(matrices, axis=0)
        report[key] = {
            "per_seed": [movie_contrast(m, domains) for m in matrices],
            "seed_mean": movie_contrast(mean, domains),
            "nearest_of_seed_mean": nearest_neighbours(mean, domains),
        }
        print(f"MRN {key}: " + json.dumps(report[key]["seed_mean"]), flush=True)
        plot_task_correlation(
            mean,
            os.path.join(output_dir, f"fdu_mrn_{key}_seed_mean.png"),
            domains,
            title=f"MRN {key}, mean of {len(matrices)} seeds",
        )
    return report


def single_task_runs(data, common, fit):
    """One LSTM per domain, trained on that domain only.

    One compiled model is reused (re-initialised weights and optimizer
    state for every domain) so that the 16 runs share one compilation.
    """
    x, y = data.arrays("train")
    x_test, y_test = concat_tests(data, [t.name for t in data.tasks])
    model = single_task(
        [Task("domain", num_classes=2)], encoder="lstm", num_layers=1, **common
    )
    model.optimizer.build(model.trainable_variables)
    initial = model.get_weights()
    # The optimizer's fresh state, learning rate included (zeroing it all
    # would set the learning rate to 0 and leave every domain untrained).
    initial_state = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    scores = {}
    for m, task in enumerate(data.tasks):
        model.set_weights(initial)
        for variable, value in zip(model.optimizer.variables, initial_state):
            variable.assign(value)
        rows, test_rows = x["task_id"] == m, x_test["task_id"] == m
        model.fit(x["tokens"][rows], y[task.name][rows], **fit)
        guess = model.predict(x_test["tokens"][test_rows], batch_size=256, verbose=0)
        scores[task.name] = float(
            np.mean(guess["domain"].argmax(-1) == y_test[test_rows])
        )
    return scores


def transfer(data, args, seed, common, fit):
    """Meta part on 15 domains; the held-out one trains only its own weights."""
    domains = [t.name for t in data.tasks]
    held = domains.index(args.held_out)
    x, y = data.arrays("train")
    others = [t for t in data.tasks if t.name != args.held_out]
    keep = x["task_id"] != held
    x15, y15 = subset(x, y, keep, [t.name for t in others])
    x15["task_id"] = x15["task_id"] - (x15["task_id"] > held)  # re-index 0..14
    meta_args = dict(meta_units=args.meta_units, meta_vector_dim=args.meta_vector_dim)
    meta15 = meta_lstm(others, **meta_args, **common)
    meta15.fit(x15, y15, **fit)
    rows = x["task_id"] == held
    x_new, y_new = x["tokens"][rows], y[args.held_out][rows]
    x_test, y_test = data.arrays("test", task=args.held_out)
    new_task = Task(args.held_out, num_classes=2)
    tuned = dict(fit, epochs=args.transfer_epochs)
    out = {}
    for name, model in [
        ("transfer", meta_lstm_transfer(meta15, new_task, seed=seed)),
        ("scratch", meta_lstm([new_task], **meta_args, **common)),
    ]:
        model.fit(x_new, y_new, **tuned)
        guess = model.predict(x_test["tokens"], verbose=0)[args.held_out].argmax(-1)
        out[f"{name}_meta_lstm"] = {
            args.held_out: float(np.mean(guess == y_test[args.held_out]))
        }
    return out


def summary(runs, domains):
    """Rows `model, task..., average` with mean ± std over seeds."""
    models = sorted({m for run in runs for m in run})
    rows = []
    for model in models:
        per_seed = [run[model] for run in runs if model in run]
        tasks = [d for d in domains if d in per_seed[0]]
        cells = []
        for d in tasks:
            values = 100 * np.array([r[d] for r in per_seed])
            cells.append(f"{values.mean():.1f}±{values.std():.1f}")
        averages = 100 * np.array([np.mean([r[d] for d in tasks]) for r in per_seed])
        rows.append(
            [
                model,
                len(per_seed),
                averages.mean(),
                averages.std(),
                " ".join(f"{d}:{c}" for d, c in zip(tasks, cells)),
            ]
        )
    return rows


def main(argv=None):
    args = parse_args(argv)
    data = fdu_mtl(max_length=args.max_length, vocab_size=args.vocab_size)
    domains = [t.name for t in data.tasks]
    runs, readouts = [], []
    for seed in args.seeds:
        start = time.time()
        keras.utils.set_random_seed(seed)
        readouts.append({})
        runs.append(run_seed(data, args, seed, readouts[-1]))
        print(
            f"seed {seed}: {time.time() - start:.0f} s "
            + json.dumps(
                {m: float(np.mean(list(r.values()))) for m, r in runs[-1].items()}
            ),
            flush=True,
        )
    headers = ["model", "seeds", "avg acc %", "std", "per task (mean±std)"]
    print(tabulate(summary(runs, domains), headers=headers, floatfmt=".2f"))
    record = {"args": vars(args), "runs": runs}
    if "mrn" in args.models:
        mrn_runs = [r["mrn"] for r in readouts]
        record["mrn_correlations"] = {
            "domains": domains,
            "seeds": args.seeds,
            "per_seed": mrn_runs,
            "summary": correlation_report(mrn_runs, domains, args.mrn_output_dir),
        }
    if "tree" in args.models:
        trees = [r["tree"] for r in readouts]
        for seed, found in zip(args.seeds, trees):
            levels = [movie_grouping(p, domains) for p in found["partitions"]]
            found["movie_grouping"] = levels
            contrast = movie_contrast(found["leaf_correlation"], domains)
            print(
                f"tree seed {seed}: groups per level (root first) "
                f"{found['groups_per_level']}; movie domains together per level "
                f"{[level['together'] for level in levels]}; leaf correlation "
                + json.dumps(contrast),
                flush=True,
            )
        record["trees"] = {"domains": domains, "seeds": args.seeds, "per_seed": trees}
    with open(args.output, "w") as handle:
        json.dump(record, handle, indent=1)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
