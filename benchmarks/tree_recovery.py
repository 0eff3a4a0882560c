"""Experiment: does TAT recover planted 3-level trees? (linear tasks, GIST)

Each draw plants a tree over T linear tasks (T = 8: two groups of four;
T = 12: three groups of four): task t's weights are
`root + group_{t // 4} + pair_{t // 2}`, so the two tasks of a pair are
identical. Every task gets its own inputs and Gaussian label noise. The
model is `TreeMTL(num_layers=0).solve` (GIST with the constrained prox) and a
draw counts as recovered when the learned partitions are exactly
root = all tasks, middle = the groups, leaf = the pairs. Settings: the
paper's objective, and "TAT + ridge" (`component_l2`, not in the paper).

    python -m benchmarks.tree_recovery [--quick] [--paper] [--ridge]
        [--output tree_recovery.json]

(`--paper` / `--ridge`: only that setting; default both.)
"""

import time

import numpy as np
from tabulate import tabulate

from benchmarks.timing import parse_module_args, write_json
from keras_mtl.layers.tree_grouped_dense import partitions_from_components
from keras_mtl.tree_solver import (
    LinearTasks,
    TreeObjective,
    constraint_violation,
    gist,
    initial_components,
)

SETTINGS = {
    "paper": {"fusion_weights": [0.1, 1.0, 10.0], "component_l2": 0.0},
    "TAT + ridge": {"fusion_weights": [0.1, 0.3, 3.0], "component_l2": 0.3},
}


def planted_tree(seed, num_tasks=8, dim=5, per_task=60, noise=0.05):
    """Per-task inputs (with a bias column) and labels, and the true partitions."""
    rng = np.random.default_rng(seed)
    groups = num_tasks // 4
    root = rng.normal(size=dim)
    group = 3.0 * rng.normal(size=(groups, dim))
    pair = rng.normal(size=(num_tasks // 2, dim))
    weights = np.stack([root + group[t // 4] + pair[t // 2] for t in range(num_tasks)])
    x = [
        np.c_[rng.normal(size=(per_task, dim)), np.ones(per_task)]
        for _ in range(num_tasks)
    ]
    y = [
        xi[:, :dim] @ w + noise * rng.normal(size=per_task) for xi, w in zip(x, weights)
    ]
    truth = [
        [list(range(num_tasks))],
        [list(range(4 * g, 4 * g + 4)) for g in range(groups)],
        [[2 * p, 2 * p + 1] for p in range(num_tasks // 2)],
    ]
    return x, y, truth


def fit_draw(seed, num_tasks, noise, setting, max_iterations=200):
    x, y, truth = planted_tree(seed, num_tasks=num_tasks, noise=noise)
    loss = LinearTasks(x, y)
    objective = TreeObjective(loss, **SETTINGS[setting])
    start = initial_components(loss, 3, "split")
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


def run(quick=False, settings=tuple(SETTINGS)):
    draws = 3 if quick else 10
    rows = []
    for setting in settings:
        for num_tasks in (8,) if quick else (8, 12):
            for noise in (0.05,) if quick else (0.05, 0.3):
                start = time.perf_counter()
                fits = [fit_draw(s, num_tasks, noise, setting) for s in range(draws)]
                levels = np.sum([f["levels_ok"] for f in fits], axis=0)
                rows.append(
                    {
                        "setting": setting,
                        "num_tasks": num_tasks,
                        "noise": noise,
                        "draws": draws,
                        "recovered": int(sum(f["recovered"] for f in fits)),
                        "root_ok": int(levels[0]),
                        "middle_ok": int(levels[1]),
                        "leaf_ok": int(levels[2]),
                        "groups_per_draw": [f["groups"] for f in fits],
                        "max_violation": max(f["violation"] for f in fits),
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(rows[-1], flush=True)
    return rows


def main(argv=None):
    args = parse_module_args(
        __doc__, "tree_recovery.json", 0, argv, flags=("--paper", "--ridge")
    )
    chosen = [name for name, on in zip(SETTINGS, (args.paper, args.ridge)) if on]
    rows = run(args.quick, tuple(chosen or SETTINGS))
    keys = ("setting", "num_tasks", "noise", "draws", "recovered")
    table = [
        [r[k] for k in keys] + [r["root_ok"], r["middle_ok"], r["leaf_ok"]]
        for r in rows
    ]
    print(tabulate(table, headers=list(keys) + ["root ok", "middle ok", "leaf ok"]))
    write_json({"settings": SETTINGS, "rows": rows}, args.output)


if __name__ == "__main__":
    main()
