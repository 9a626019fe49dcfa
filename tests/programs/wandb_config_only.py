"""A W&B script that reads its hyperparameters only from `wandb.config` (no argparse).
Prints the W&B run's grouping so tests can check what the agent set."""

import math

import wandb

run = wandb.init()
lr, layers = wandb.config.lr, wandb.config.layers
print("wandb-run", run.group, run.name, run.project, run.settings.mode, flush=True)
for epoch in range(3):
    val_loss = (math.log10(lr) + 2) ** 2 + 0.1 * layers + 1 / (epoch + 1)
    wandb.log({"val_loss": val_loss, "epoch": epoch})
