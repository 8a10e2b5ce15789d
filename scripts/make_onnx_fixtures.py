#!/usr/bin/env python3
"""Writes the ONNX test fixtures of mtq-ml (issue 22) into crates/mtq-ml/tests/fixtures/onnx/.

    python3 -m venv /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install -r scripts/requirements-onnx-fixtures.txt
    /tmp/onnx-venv/bin/python scripts/make_onnx_fixtures.py [OUT_DIR]

Each model goes into its own directory, as MTQ loads it:

    NAME/model.onnx      the exported graph
    NAME/manifest.json   MTQ's manifest (kind "onnx"): features and their order, scaling, window,
                         layout, input and output names, label, version, training span
    NAME/expected.json   rows of MTQ's 17 pipeline features (unscaled, oldest first) and the
                         probability the exporting library itself computed for each window ending
                         at a row (sklearn's predict_proba, torch's forward), with the versions used

Models (all trained on deterministic, seeded synthetic data shaped like MTQ's feature set):

    rf         scikit-learn RandomForestClassifier, 100 trees, depth 4, all 17 features in
               pipeline order, exported with skl2onnx (zipmap off: a plain [N, 2] tensor)
    lstm       PyTorch LSTM, 8 units over a 16-bar window of 6 features (a subset, in an order of
               its own), standard scaling applied by MTQ, input [1, 16, 6] (batch first)
    gru        PyTorch GRU, 8 units over a 12-bar window of all 17 features, input [12, 1, 17]
               (sequence first), scaling declared as baked into the model (a first layer)
    lstm64     PyTorch LSTM, 64 units over a 64-bar window of the 17 features (the speed bench's
               model; also checked against torch)

The script is deterministic: run twice, it writes the same probabilities (the .onnx bytes may
differ between exporter versions).
"""

import json
import os
import sys
from datetime import datetime, timezone

import numpy as np

FEATURES = [
    "ret_1", "ret_3", "ret_12", "ret_24", "rsi_14", "macd_hist_over_price",
    "atr_14_over_price", "bb_20_pct_b", "bb_20_width", "adx_14", "ema_20_slope",
    "ema_50_slope", "session_tokyo", "session_london", "session_new_york", "htf_trend",
    "base_signal",
]
N = len(FEATURES)
SPAN_FROM = "2024-01-01T00:00:00Z"


def versions():
    import onnx
    import onnxruntime
    import skl2onnx
    import sklearn
    import torch
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
    }


def synthetic_rows(rng, n):
    """n rows of plausible feature values (H1 EURUSD-like scales), as a time series: each
    column is an AR(1) process around its level, sessions and the signal are discrete."""
    x = np.zeros((n, N))
    scale = np.array([1e-3, 1.7e-3, 3.5e-3, 5e-3, 0.12, 2e-4, 4e-4, 0.35, 4e-3, 0.1, 2e-4,
                      1e-4, 0, 0, 0, 1e-2, 0])
    level = np.array([0, 0, 0, 0, 0.5, 0, 1.2e-3, 0.5, 1e-2, 0.25, 0, 0, 0, 0, 0, 0, 0])
    state = np.zeros(N)
    for t in range(n):
        state = 0.8 * state + 0.6 * rng.standard_normal(N)
        x[t] = level + scale * state
        hour = t % 24
        x[t, 12] = 1.0 if hour < 9 else 0.0
        x[t, 13] = 1.0 if 7 <= hour < 16 else 0.0
        x[t, 14] = 1.0 if 12 <= hour < 21 else 0.0
        x[t, 16] = float(rng.choice([-1, 0, 0, 0, 1]))
    return x


def row_labels(rng, x):
    """A noisy rule over one row: momentum and RSI and the signal."""
    z = (x[:, 0] / 1e-3 + 0.6 * x[:, 2] / 3.5e-3 - 2.0 * (x[:, 4] - 0.5) + 0.5 * x[:, 16]
         + 0.8 * rng.standard_normal(len(x)))
    return (z > 0).astype(np.int64)


def window_labels(rng, x, window):
    """A noisy rule over a window: the mean ret_1 of its last quarter against its first."""
    q = max(1, window // 4)
    y = []
    for end in range(window - 1, len(x)):
        w = x[end - window + 1:end + 1]
        z = (w[-q:, 0].mean() - w[:q, 0].mean()) / 1e-3 + 0.3 * w[-1, 16] \
            + 0.5 * rng.standard_normal()
        y.append(1 if z > 0 else 0)
    return np.array(y, dtype=np.int64)


def manifest(name, features, scaling, window, layout, input_name, output, index, label, rows):
    return {
        "format": 1,
        "name": name,
        "version": "1",
        "kind": "onnx",
        "features": features,
        "scaling": scaling,
        "window": window,
        "label": label,
        "training": {
            "symbol": "SYNTHETIC",
            "timeframe": "H1",
            "strategy": "none",
            "from": SPAN_FROM,
            "to": "2024-06-01T00:00:00Z",
            "rows": rows,
        },
        "onnx": {
            "file": "model.onnx",
            "input": input_name,
            "layout": layout,
            "output": output,
            "output_index": index,
        },
        "metrics": None,
    }


def write(out, name, man, rows, probs, vers, extra):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({
            "generated_by": "scripts/make_onnx_fixtures.py",
            "versions": vers,
            "reference": extra,
            "window": man["window"],
            "rows": [[float(v) for v in r] for r in rows],
            "probabilities": [float(p) for p in probs],
        }, f)
        f.write("\n")
    print(f"{name}: {os.path.getsize(os.path.join(d, 'model.onnx'))} bytes of ONNX, "
          f"{len(probs)} expected probabilities")


def make_rf(out, vers):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(22)
    x = synthetic_rows(rng, 4000)
    y = row_labels(rng, x)
    # sklearn's trees compare float32 inputs; MTQ feeds the model float32 too.
    x32 = x.astype(np.float32)
    rf = RandomForestClassifier(n_estimators=100, max_depth=4, min_samples_leaf=20,
                                random_state=22, n_jobs=1)
    rf.fit(x32, y)
    onx = to_onnx(rf, initial_types=[("features", FloatTensorType([None, N]))],
                  options={id(rf): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    d = os.path.join(out, "rf")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    test = synthetic_rows(np.random.default_rng(23), 64)
    probs = rf.predict_proba(test.astype(np.float32))[:, 1]
    man = manifest("onnx-rf", FEATURES, {"kind": "none"}, 1, "rows", "features",
                   "probabilities", 1, {"kind": "forward_return", "horizon": 12,
                                        "threshold": 0.0005}, len(x))
    write(out, "rf", man, test, probs, vers, "sklearn RandomForestClassifier.predict_proba")


class SeqNet:
    """A recurrent layer over the window, its last output through a linear layer and a sigmoid."""

    @staticmethod
    def build(kind, features, hidden, batch_first, in_mean=None, in_std=None):
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                rnn = nn.LSTM if kind == "lstm" else nn.GRU
                self.rnn = rnn(features, hidden, batch_first=batch_first)
                self.head = nn.Linear(hidden, 1)
                if in_mean is not None:
                    self.register_buffer("mean", torch.tensor(in_mean, dtype=torch.float32))
                    self.register_buffer("std", torch.tensor(in_std, dtype=torch.float32))
                else:
                    self.mean = None

            def forward(self, x):
                if self.mean is not None:
                    x = (x - self.mean) / self.std
                out, _ = self.rnn(x)
                last = out[:, -1, :] if batch_first else out[-1, :, :]
                return torch.sigmoid(self.head(last))

        return Net()


def train_seq(net, xs, ys, batch_first, epochs, seed):
    import torch
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    lossf = torch.nn.BCELoss()
    xt = torch.tensor(xs, dtype=torch.float32)  # [B, W, F]
    yt = torch.tensor(ys, dtype=torch.float32).unsqueeze(1)
    if not batch_first:
        xt = xt.transpose(0, 1).contiguous()
    for _ in range(epochs):
        opt.zero_grad()
        loss = lossf(net(xt), yt)
        loss.backward()
        opt.step()
    return float(loss.detach())


def windows_of(x, window):
    return np.stack([x[e - window + 1:e + 1] for e in range(window - 1, len(x))])


def make_seq(out, vers, name, kind, feats, hidden, window, batch_first, mtq_scaling, seed,
             epochs, test_rows):
    import torch
    rng = np.random.default_rng(seed)
    x_all = synthetic_rows(rng, 1500)
    cols = [FEATURES.index(f) for f in feats]
    mean = x_all[:, cols].mean(axis=0)
    std = x_all[:, cols].std(axis=0)
    std[std == 0] = 1.0
    y = window_labels(rng, x_all, window)
    torch.manual_seed(seed)
    if mtq_scaling:
        net = SeqNet.build(kind, len(cols), hidden, batch_first)
        scaled = ((x_all[:, cols] - mean) / std).astype(np.float32)
    else:
        net = SeqNet.build(kind, len(cols), hidden, batch_first, mean, std)
        scaled = x_all[:, cols].astype(np.float32)
    loss = train_seq(net, windows_of(scaled, window), y, batch_first, epochs, seed)
    net.eval()
    test = synthetic_rows(np.random.default_rng(seed + 1), window + test_rows - 1)
    if mtq_scaling:
        # What MTQ does: (x - mean) / std in float64, then float32.
        tin = ((test[:, cols] - mean) / std).astype(np.float32)
    else:
        tin = test[:, cols].astype(np.float32)
    tw = torch.tensor(windows_of(tin, window))  # [B, W, F]
    with torch.no_grad():
        if batch_first:
            probs = net(tw)[:, 0].numpy()
        else:
            probs = net(tw.transpose(0, 1).contiguous())[:, 0].numpy()
    shape = (1, window, len(cols)) if batch_first else (window, 1, len(cols))
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(net, (torch.zeros(shape),), path, input_names=["window"],
                      output_names=["probability"], opset_version=17, dynamo=False)
    check_with_onnxruntime(path, "window", tw, batch_first, probs)
    scaling = ({"kind": "standard", "mean": [float(v) for v in mean],
                "std": [float(v) for v in std]} if mtq_scaling else {"kind": "in_model"})
    man = manifest(f"onnx-{name}", feats, scaling, window,
                   "batch_first" if batch_first else "sequence_first", "window", "probability",
                   0, {"kind": "forward_return", "horizon": 12, "threshold": 0.0005},
                   len(x_all))
    write(out, name, man, test, probs, vers,
          f"torch {kind.upper()} forward (eval, float32); training loss {loss:.4f}")


def check_with_onnxruntime(path, input_name, tw, batch_first, probs):
    """The exported graph agrees with torch (a sanity check of the export itself)."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for i in range(tw.shape[0]):
        one = tw[i:i + 1].numpy()
        if not batch_first:
            one = np.ascontiguousarray(one.transpose(1, 0, 2))
        p = sess.run(None, {input_name: one})[0].reshape(-1)[0]
        worst = max(worst, abs(float(p) - float(probs[i])))
    assert worst < 1e-6, f"{path}: onnxruntime differs from torch by {worst}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "crates", "mtq-ml", "tests",
        "fixtures", "onnx")
    vers = versions()
    make_rf(out, vers)
    lstm_feats = ["ret_1", "rsi_14", "ret_3", "base_signal", "atr_14_over_price", "adx_14"]
    make_seq(out, vers, "lstm", "lstm", lstm_feats, 8, 16, True, True, 31, 60, 24)
    make_seq(out, vers, "gru", "gru", FEATURES, 8, 12, False, False, 41, 60, 24)
    make_seq(out, vers, "lstm64", "lstm", FEATURES, 64, 64, True, True, 51, 15, 8)
    print("written at", datetime.now(timezone.utc).isoformat(timespec="seconds"), "into", out)


if __name__ == "__main__":
    main()
