"""Experiment: does TAT recover planted 3-level trees? (linear tasks, GIST)

Each draw plants a tree over T linear tasks (T = 8: two groups of four;
T = 12: three groups of four): task t's weights are
`root + scale · group_{t // 4} + pair_{t // 2}` (scale 3 unless told), so the
two tasks of a pair are identical. Every task gets its own inputs and Gaussian
label noise. The model is `TreeMTL(num_layers=0).solve` (GIST with the
constrained prox) and a draw counts as recovered when the learned partitions
are exactly root = all tasks, middle = the groups, leaf = the pairs.

Settings (all but "paper" are not in the paper):

- "paper": the paper's objective, λ = (0.1, 1, 10).
- "TAT + ridge": `component_l2` (an uncentered ridge on the levels below
  the root).
- "TAT + centered ridge": the ridge on `C_h − mean_i C_h`, and a middle gap
  relative to the data, `λ_2 − λ_1 = c · γ · median_{i<j} ‖ŵ_i − ŵ_j‖ / T`
  (ŵ: per-task ridge solutions).
- "adaptive": the same plus per-pair weights `median_d / ‖ŵ_i − ŵ_j‖`
  (adaptive fused lasso, `TreeMTL.solve(pair_weights="adaptive")`).
- "default": `TreeMTL.solve`'s default, `tree_solver.adaptive_objective`
  (as "adaptive" with λ_1 = 0.02, a gap of 0.4, and at the middle level pair
  weights from the cophenetic distances of an average-linkage tree of the
  tasks' ridge solutions, to the power 10; Euclidean distances cubed until
  2026-12-03).

Why the middle level fails with one λ per level (measured by `--sweep`): on
exact data the middle level is a convex clustering of the tasks. It separates
the groups when ‖Δg‖ > T·δ/γ (Δg: difference of the groups' mean weights,
δ = λ_2 − λ_1) and keeps a group of m tasks whole when the split inside it
has ‖Δp‖ < m·δ/γ. Both hold only when ‖Δg‖/T > max ‖Δp‖/4, i.e. when the
group scale is about T/4 times the pair scale: 6 of 10 draws at scale 3 with
T = 8, 2 of 10 with T = 12.

    python -m benchmarks.tree_recovery [--quick] [--paper] [--ridge]
        [--centered] [--adaptive] [--default] [--separated] [--sweep]
        [--grid] [--split-only] [--output tree_recovery.json]

(`--paper` / `--ridge` / `--centered` / `--adaptive` / `--default`: only those
settings; default all. `--separated`: every draw redrawn until its group
margin (`group_margin`) is at least 1.5. `--split-only`: the grid without
the "root" start. `--sweep`: also the exact-data threshold sweep (a few minutes).
`--grid`: the settings over group scale 3/6/10, 60/500 samples per task,
two noise levels, T = 8 and 12, "split" and "root" starts (an hour or more).)
"""

import time

import numpy as np
from tabulate import tabulate

from benchmarks.timing import parse_module_args, write_json
from keras_mtl.layers.tree_grouped_dense import partitions_from_components
from keras_mtl.tree_solver import (
    LinearTasks,
    TreeObjective,
    adaptive_objective,
    adaptive_pair_weights,
    constraint_violation,
    gist,
    initial_components,
    pair_differences,
    pair_indices,
    ridge_pair_distances,
)

SETTINGS = {
    "paper": {"fusion_weights": [0.1, 1.0, 10.0], "component_l2": 0.0},
    "TAT + ridge": {"fusion_weights": [0.1, 0.3, 3.0], "component_l2": 0.3},
    "TAT + centered ridge": {
        "fusion_weights": [0.2, None, 10.0],
        "component_l2": 0.1,
        "centered": True,
        "relative_gap": 0.8,
    },
    "adaptive": {
        "fusion_weights": [0.05, None, 10.0],
        "component_l2": 0.1,
        "centered": True,
        "relative_gap": 0.8,
        "adaptive_power": 1.0,
    },
    "default": {"recipe": "tree_solver.adaptive_objective (TreeMTL.solve default)"},
}
FLAGS = ("--paper", "--ridge", "--centered", "--adaptive", "--default")
SEPARATION = 1.5  # the `--separated` draws' least group margin


def make_objective(loss, setting):
    """The objective of a setting; data-relative λ_2 and pair weights."""
    spec = SETTINGS[setting]
    if setting == "default":
        return adaptive_objective(loss, 3)
    if not spec.get("centered"):
        return TreeObjective(loss, spec["fusion_weights"], spec["component_l2"])
    distances = ridge_pair_distances(loss)
    num_tasks, gamma = loss.gram.shape[0], spec["component_l2"]
    leaf, _, root = spec["fusion_weights"]
    gap = spec["relative_gap"] * gamma * float(np.median(distances)) / num_tasks
    weights = np.array([leaf, leaf + gap, root])
    if "adaptive_power" in spec:
        power = spec["adaptive_power"]
        pair = adaptive_pair_weights(loss, power, distances=distances)
        weights = weights[:, None] * pair[None]
    return TreeObjective(loss, weights, gamma, centered=True)


def group_margin(weights):
    """Least distance between tasks of different groups over the largest
    distance between tasks of one group (groups of 4 consecutive tasks)."""
    first, second = pair_indices(len(weights))
    d = np.linalg.norm(pair_differences(weights), axis=-1)
    same = first // 4 == second // 4
    return float(d[~same].min() / d[same].max())


def planted_weights(rng, num_tasks, dim, scale, min_margin):
    """`root + scale · group + pair` task weights, redrawn until the groups'
    margin is at least `min_margin`."""
    groups = num_tasks // 4
    while True:
        root = rng.normal(size=dim)
        group = scale * rng.normal(size=(groups, dim))
        pair = rng.normal(size=(num_tasks // 2, dim))
        weights = np.stack(
            [root + group[t // 4] + pair[t // 2] for t in range(num_tasks)]
        )
        if min_margin is None or group_margin(weights) >= min_margin:
            return weights


def planted_tree(
    seed, num_tasks=8, dim=5, per_task=60, noise=0.05, scale=3.0, min_margin=None
):
    """Per-task inputs (with a bias column) and labels, and the true partitions.

    `min_margin`: redraw the weights until `group_margin` reaches it (None:
    any draw)."""
    rng = np.random.default_rng(seed)
    weights = planted_weights(rng, num_tasks, dim, scale, min_margin)
    x = [
        np.c_[rng.normal(size=(per_task, dim)), np.ones(per_task)]
        for _ in range(num_tasks)
    ]
    y = [
        xi[:, :dim] @ w + noise * rng.normal(size=per_task) for xi, w in zip(x, weights)
    ]
    return x, y, true_partitions(num_tasks)


def true_partitions(num_tasks):
    return [
        [list(range(num_tasks))],
        [list(range(4 * g, 4 * g + 4)) for g in range(num_tasks // 4)],
        [[2 * p, 2 * p + 1] for p in range(num_tasks // 2)],
    ]


def fit_draw(
    seed,
    num_tasks,
    noise,
    setting,
    max_iterations=200,
    per_task=60,
    scale=3.0,
    init="split",
    min_margin=None,
):
    x, y, truth = planted_tree(
        seed,
        num_tasks=num_tasks,
        noise=noise,
        per_task=per_task,
        scale=scale,
        min_margin=min_margin,
    )
    loss = LinearTasks(x, y)
    objective = make_objective(loss, setting)
    start = initial_components(loss, 3, init)
    result = gist(
        objective, start, max_iterations=max_iterations, tol=1e-6, prox_tol=1e-8
    )
    c = result["components"]
    partitions = partitions_from_components(c, 1e-6)
    return {
        "levels_ok": [p == q for p, q in zip(partitions, truth)],
        "recovered": partitions == truth,
        "groups": [len(p) for p in partitions],
        "violation": constraint_violation(c),
        "iterations": result["iterations"],
    }


def cell(setting, num_tasks, noise, draws, **kwargs):
    """One row: a setting on `draws` draws of one data configuration."""
    start = time.perf_counter()
    fits = [fit_draw(s, num_tasks, noise, setting, **kwargs) for s in range(draws)]
    levels = np.sum([f["levels_ok"] for f in fits], axis=0)
    return {
        "setting": setting,
        "num_tasks": num_tasks,
        "noise": noise,
        "per_task": kwargs.get("per_task", 60),
        "scale": kwargs.get("scale", 3.0),
        "init": kwargs.get("init", "split"),
        "min_margin": kwargs.get("min_margin"),
        "draws": draws,
        "recovered": int(sum(f["recovered"] for f in fits)),
        "root_ok": int(levels[0]),
        "middle_ok": int(levels[1]),
        "leaf_ok": int(levels[2]),
        "groups_per_draw": [f["groups"] for f in fits],
        "max_violation": max(f["violation"] for f in fits),
        "seconds": time.perf_counter() - start,
    }


def run(quick=False, settings=tuple(SETTINGS), min_margin=None):
    draws = 3 if quick else 10
    rows = []
    for setting in settings:
        for num_tasks in (8,) if quick else (8, 12):
            for noise in (0.05,) if quick else (0.05, 0.3):
                rows.append(
                    cell(setting, num_tasks, noise, draws, min_margin=min_margin)
                )
                print(rows[-1], flush=True)
    return rows


def run_grid(settings, quick=False, min_margin=None, inits=("split", "root")):
    """Recovery vs group scale, samples per task, noise, T and start."""
    draws = 3 if quick else 10
    rows = []
    for setting in settings:
        for init in inits:
            for num_tasks in (8, 12):
                for scale in (3.0, 6.0, 10.0):
                    for per_task in (60, 500):
                        for noise in (0.05, 0.3):
                            rows.append(
                                cell(
                                    setting,
                                    num_tasks,
                                    noise,
                                    draws,
                                    scale=scale,
                                    per_task=per_task,
                                    init=init,
                                    min_margin=min_margin,
                                )
                            )
                            print(rows[-1], flush=True)
    return rows


def threshold_sweep(
    num_tasks=8,
    ratios=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
    draws=10,
    kappa=100.0,
    gamma=1.0,
    leaf=0.1,
    root=10.0,
):
    """Exact data (Gram κI, no noise): observed middle partition vs the
    convex-clustering thresholds, over δ/γ = `ratios` (δ = λ_2 − λ_1).

    Predicted: the groups separate iff min ‖Δg‖ > T·δ/γ (Δg between group
    means; for T = 12 the closest pair of groups, an approximation), and
    then group g splits in two pairs iff ‖Δp_g‖ > 4·δ/γ.
    """
    rows = []
    groups = num_tasks // 4
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        w_root = rng.normal(size=5)
        w_group = 3.0 * rng.normal(size=(groups, 5))
        w_pair = rng.normal(size=(num_tasks // 2, 5))
        w = np.stack(
            [w_root + w_group[t // 4] + w_pair[t // 2] for t in range(num_tasks)]
        )
        x = [np.sqrt(5 * kappa) * np.eye(5) for _ in range(num_tasks)]
        loss = LinearTasks(x, [xi @ wi for xi, wi in zip(x, w)])
        means = np.stack([w[4 * g : 4 * g + 4].mean(0) for g in range(groups)])
        dg = min(
            np.linalg.norm(means[a] - means[b])
            for a in range(groups)
            for b in range(a + 1, groups)
        )
        dp = [float(np.linalg.norm(w[4 * g] - w[4 * g + 2])) for g in range(groups)]
        for ratio in ratios:
            lams = [leaf, leaf + ratio * gamma, root]
            objective = TreeObjective(loss, lams, gamma, centered=True)
            start = initial_components(loss, 3, "split")
            c = gist(objective, start, max_iterations=600, tol=1e-8, prox_tol=1e-9)
            partitions = partitions_from_components(c["components"], 1e-6)
            split = dg > num_tasks * ratio
            predicted = groups + sum(d > 4 * ratio for d in dp) if split else 1
            rows.append(
                {
                    "seed": seed,
                    "ratio": ratio,
                    "min_group_gap": float(dg),
                    "pair_gaps": dp,
                    "predicted_middle": int(predicted),
                    "observed": [len(p) for p in partitions],
                    "recovered": partitions == true_partitions(num_tasks),
                }
            )
    return rows


def main(argv=None):
    extra = ("--sweep", "--grid", "--separated", "--split-only")
    args = parse_module_args(
        __doc__, "tree_recovery.json", 0, argv, flags=FLAGS + extra
    )
    on = (args.paper, args.ridge, args.centered, args.adaptive, args.default)
    chosen = [name for name, flag in zip(SETTINGS, on) if flag] or list(SETTINGS)
    margin = SEPARATION if args.separated else None
    rows = run(args.quick, tuple(chosen), margin)
    if args.grid:
        gridded = [s for s in chosen if s == "default" or SETTINGS[s].get("centered")]
        inits = ("split",) if args.split_only else ("split", "root")
        rows += run_grid(gridded, args.quick, margin, inits)
    keys = (
        "setting",
        "num_tasks",
        "noise",
        "per_task",
        "scale",
        "init",
        "min_margin",
        "draws",
        "recovered",
    )
    table = [
        [r[k] for k in keys] + [r["root_ok"], r["middle_ok"], r["leaf_ok"]]
        for r in rows
    ]
    print(tabulate(table, headers=list(keys) + ["root ok", "middle ok", "leaf ok"]))
    out = {"settings": SETTINGS, "rows": rows}
    if args.sweep:
        out["threshold_sweep"] = sweep = threshold_sweep(draws=3 if args.quick else 10)
        hits = sum(r["observed"][1] == r["predicted_middle"] for r in sweep)
        print(f"threshold sweep: middle level as predicted in {hits}/{len(sweep)}")
    write_json(out, args.output)


if __name__ == "__main__":
    main()
