"""The pattern of W&B's nested-parameters example (wandb/sweeps, examples/nested-params),
written anew: `--optimizer` is one string flag that W&B's agent fills with a Python repr of
the nested block, and `wandb.init(config=args)` replaces it with the nested dict."""

import argparse

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--project", type=str, default=None)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--batch_size", type=int, default=16)
parser.add_argument("--optimizer", type=str, default=None)

if __name__ == "__main__":
    args = parser.parse_args()
    wandb.init(project=args.project, config=args)
    for epoch in range(wandb.config["epochs"]):
        lr = wandb.config["optimizer"]["lr"]
        beta = wandb.config["optimizer"]["nadam"]["beta"]
        loss = 1 - (epoch / wandb.config["epochs"]) * lr * wandb.config["batch_size"] * beta
        wandb.log({"loss": loss})
    wandb.finish()
