#!/usr/bin/env bash
# Train and write every shipped model of gnn-i, gnn-p, gnn-c and gnn-direct (maxmin-assoc-bf): the
# weights and JSON sidecars in src/mmopt/problems/maxmin_assoc_bf/weights/ (hours on a CPU).
#
#     nice -n 10 bash benchmarks/train_maxmin_gnn.sh [more `mmopt train` options, e.g. --seed 1 --quiet]
#
# Needs `mmopt` on PATH (the project's venv active). Options given are added to every call; the shipped
# models use the defaults: --seed 0, and the solvers' own budgets (gnn.py): 3000 instances of the
# `train` suite, 25 epochs for GNN-I and GNN-P, 20 for direct, 10 for GNN-C, 6 for the fine-tuned
# N_u = 1 and 1024 models. Keep the order: later models start from earlier ones' weights.
# GNN-I first (one model for every N_u); GNN-P, direct and GNN-C at the base N_u = 16 and 64 (from
# scratch; GNN-C from the trained GNN-I and GNN-P); then N_u = 1 and 1024, each fine-tuned from the
# nearest base model (1 from 16, 1024 from 64). To train some models only, run their lines.
#
# Evaluation (replaces benchmarks/eval_maxmin_gnn.py): mean gap to the certified optimum and median
# inference time per solver (other suites: pilots-1, pilots-16, ...; one N_u's model for every
# instance: --param gnn-p.train_pilots=16):
#     mmopt run --suite paper --problems maxmin-assoc-bf --solvers gnn-i,gnn-p,gnn-c,gnn-direct
#     mmopt table --suite paper --problems maxmin-assoc-bf
set -euo pipefail

mmopt train --problem maxmin-assoc-bf --solver gnn-i "$@"

mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=16 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=64 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=16 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=64 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=16 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=64 "$@"

mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=1 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=1024 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=1 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=1024 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=1 "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=1024 "$@"
