"""What a fit costs beyond its epochs: a one-epoch fit against one epoch of a 20-epoch fit.

The digits' 64-32-10 network (tanh, softmax, cross-entropy), SGD with
momentum 0.9 at batch 32, shuffled, with default threads. Every fit pays
once for what surrounds its epochs: checking the data, the loss it starts
from (for the warning that training made the network worse), and at the end
whether training left the gradient exactly 0 (the stuck check, which the
last epoch's loss pass answers from the output layer's gradient unless that
is 0). The ratio is a cost: a one-epoch fit over a twentieth of a 20-epoch
fit; 1 would be no end costs at all.

Before timing, the two fits are checked to agree: the 20-epoch fit's first
epoch is the one-epoch fit (same start, same seed), loss for loss.
"""

import matnn
from matnn import digits

from .harness import Result, Timing

TITLE = "a one-epoch fit vs one epoch of a 20-epoch fit (digits, 64-32-10, batch 32)"
ORDER = 62

HIDDEN, BATCH, SEED, LEARNING_RATE, MOMENTUM = 32, 32, 0, 0.05, 0.9
EPOCHS, QUICK_EPOCHS = 20, 2
TARGET = ("<=", 1.3)


def run(bench):
    try:
        split = digits.load(SEED)
    except ImportError as exc:
        print(f"  skipped: {exc}")
        return
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    for dtype in bench.dtypes:
        X, y = split.X_train.astype(dtype), split.y_train
        net = matnn.Network.from_sizes([64, HIDDEN, 10], ["tanh", "softmax"],
                                       loss="cross_entropy", seed=SEED, dtype=dtype)
        start = net.params.copy()

        def fit(n_epochs):
            net.params[...] = start
            return net.fit(X, y, epochs=n_epochs, batch_size=BATCH, seed=SEED,
                           optimizer=matnn.SGD(LEARNING_RATE, momentum=MOMENTUM))

        one, many = fit(1).loss, fit(epochs).loss
        ok = bool(one[0] == many[0])
        how = "first epoch's loss equal" if ok else f"first epoch's loss {one[0]!r} vs {many[0]!r}"
        a = b = None
        if ok:
            a, whole = bench.time_pair(lambda: fit(1), "one-epoch fit",
                                       lambda: fit(epochs), f"{epochs}-epoch fit")
            b = Timing(f"{epochs}-epoch fit / {epochs}", whole.median / epochs,
                       [r / epochs for r in whole.runs], whole.number)
        yield Result(
            "shortfit", dtype.name, f"1 epoch vs 1/{epochs} of {epochs} epochs", ok, how,
            n_samples=X.shape[0], a=a, b=b, target=TARGET,
            metrics={"matnn_threads": matnn.get_num_threads()},
            note="ratio is a cost: one-epoch fit / one epoch of a longer fit",
        )
