"""The guide's style: argparse flags, `wandb.init(config=vars(args))`, `wandb.log`."""

import argparse

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--optimizer", type=str, default="sgd")
args = parser.parse_args()

wandb.init(config=vars(args))
bonus = 0.05 if args.optimizer == "adam" else 0.0
for epoch in range(3):
    accuracy = 0.5 + bonus + (0.1 if args.lr == 0.01 else 0.0) + 0.01 * epoch
    wandb.log({"accuracy": accuracy})
wandb.finish()
