#!/usr/bin/env bash
# Train and write every shipped model of gnn-i, gnn-p, gnn-c and gnn-direct (maxmin-assoc-bf): the
# weights and JSON sidecars in src/mmopt/problems/maxmin_assoc_bf/weights/ (about 70 minutes on one
# core; each `--out` names the shipped file, which `mmopt train` otherwise never replaces).
#
#     MMOPT_TRAIN_CACHE=~/.cache/mmopt nice -n 10 bash benchmarks/train_maxmin_gnn.sh [--seed 1 --quiet ...]
#
# Needs `mmopt` on PATH (the project's venv active). Options given are added to every call; the shipped
# models use the defaults: --seed 0, one torch thread, and the solvers' own budgets (gnn.py): 10,000
# instances of the `train` suite (+300 for validation; cached as .npz in MMOPT_TRAIN_CACHE when set),
# 150 epochs for GNN-I, GNN-P and direct, 80 for GNN-C, 20 for the fine-tuned N_u = 1 and 1024
# models, each capped at 30 CPU-minutes; the checkpoint with the best validation min rate is kept.
# Keep the order: later models start from earlier ones' weights.
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
W=src/mmopt/problems/maxmin_assoc_bf/weights
export MMOPT_TRAIN_THREADS=${MMOPT_TRAIN_THREADS:-1}

mmopt train --problem maxmin-assoc-bf --solver gnn-i --out "$W/gnn_i.pt" "$@"

mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=16 --out "$W/gnn_p_nu16.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=64 --out "$W/gnn_p_nu64.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=16 --out "$W/gnn_direct_nu16.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=64 --out "$W/gnn_direct_nu64.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=16 --out "$W/gnn_c_nu16.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=64 --out "$W/gnn_c_nu64.pt" "$@"

mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=1 --out "$W/gnn_p_nu1.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-p --param train_pilots=1024 --out "$W/gnn_p_nu1024.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=1 --out "$W/gnn_direct_nu1.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-direct --param train_pilots=1024 --out "$W/gnn_direct_nu1024.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=1 --out "$W/gnn_c_nu1.pt" "$@"
mmopt train --problem maxmin-assoc-bf --solver gnn-c --param train_pilots=1024 --out "$W/gnn_c_nu1024.pt" "$@"
