"""One objective, logged either with the wandb package or with hypersweep's client, so a
test can check that a sweep sees exactly the same values through both."""

import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--y", type=float, required=True)
parser.add_argument("--logger", choices=("wandb", "hypersweep"), required=True)
args = parser.parse_args()

value = (args.x - 0.3) ** 2 + 2 * (args.y + 0.2) ** 2
if args.logger == "wandb":
    import wandb

    wandb.init(config=vars(args))
    wandb.log({"value": value + 1.0})
    wandb.log({"value": value})
else:
    import hypersweep

    run = hypersweep.init()
    run.log({"value": value + 1.0})
    run.log({"value": value})
