"""Train a small MLP on scikit-learn's bundled digits data; log validation accuracy per epoch.

Hyperparameters arrive as command-line flags (the sweep passes --name=value), so the same
script runs by hand: python train.py --learning_rate=0.01 --hidden=64
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import hypersweep


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learning_rate", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    run = hypersweep.init(config=vars(args))
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data, digits.target, test_size=0.25, random_state=args.seed, stratify=digits.target
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        learning_rate_init=args.learning_rate,
        alpha=args.alpha,
        # Batches are cut below; sklearn's "auto" batch size then takes each whole (one
        # gradient step per partial_fit), where a fixed one would warn on the last, short one.
        batch_size="auto",
        random_state=args.seed,
    )
    classes = np.unique(digits.target)
    rng = np.random.default_rng(args.seed)
    best = 0.0
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for start in range(0, len(order), args.batch_size):
                batch = order[start : start + args.batch_size]
                model.partial_fit(x_train[batch], y_train[batch], classes=classes)
        accuracy = model.score(x_val, y_val)
        best = max(best, accuracy)
        run.log({"val_accuracy": accuracy, "train_loss": model.loss_}, step=epoch)
        print(f"epoch {epoch}: val_accuracy {accuracy:.4f} loss {model.loss_:.4f}")
    run.summary["best_val_accuracy"] = best
    run.finish()


if __name__ == "__main__":
    main()
