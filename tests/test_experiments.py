"""The experiments' result files reproduce: each script's smallest configuration, run
again, gives the numbers its result file holds for that part of the run (every part of
a run draws from its own seed), and the file records its configuration and code
version."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _smallest(script):
    """What ``script --smallest`` prints, parsed."""
    out = subprocess.run(
        [sys.executable, str(script), "--smallest"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out[out.index("{") :])


def test_real_data_smallest_configuration_reproduces_its_results():
    script = ROOT / "experiments" / "real_data.py"
    stored = json.loads((ROOT / "results" / "real_data.json").read_text())
    config = stored["configuration"]
    assert {"sets", "powers", "draws", "seed", "seeds"} <= set(config)
    assert len(stored["code_version"]["commit"]) == 40
    again = _smallest(script)
    for name, entry in again.items():
        full = stored["sets"][name]
        rows = [full["N"].index(N) for N in entry["N"]]
        for metric, values in entry["theory"].items():
            want = full["theory"][metric]
            want = want if metric == "best" else [want[r] for r in rows]
            # the same code on the same numbers; 1e-9 relative leaves room for another
            # BLAS kernel's rounding of d x d eigen-decompositions (~ d eps kappa)
            np.testing.assert_allclose(values, want, rtol=1e-9)
        for source in ("real", "clone", "radial"):
            for metric, values in entry[source].items():
                want = [full[source][metric][r][: len(values[0])] for r in rows]
                np.testing.assert_allclose(values, want, rtol=1e-9)


def test_real_regularization_smallest_configuration_reproduces_its_results():
    script = ROOT / "experiments" / "real_regularization.py"
    stored = json.loads((ROOT / "results" / "real_regularization.json").read_text())
    config = stored["configuration"]
    assert {"ratios", "draws", "seed", "seeds", "grids"} <= set(config)
    assert len(stored["code_version"]["commit"]) == 40
    again = _smallest(script)
    full = stored["result"]
    rows = [full["N"].index(N) for N in again["N"]]
    for mode, theory in again["theory"].items():
        for key, values in theory.items():
            want = [full["theory"][mode][key][r] for r in rows]
            # the optima come from a bounded search to 1e-5 in ln x: the same search on
            # the same numbers, so rounding only
            np.testing.assert_allclose(values, want, rtol=1e-9)
    for mode, sources in again["sims"].items():
        for source, values in sources.items():
            want = [full["sims"][mode][source][r][: len(values[0])] for r in rows]
            np.testing.assert_allclose(values, want, rtol=1e-9)


def test_networks_smallest_configuration_reproduces_its_results():
    """The networks' training runs in float32 under XLA, whose rounding may differ from
    one CPU to another, and a training path that differs by one rounding drifts to
    another network of the same law: a re-run is then a new draw of the same seed
    distribution. Each re-run number is compared with the stored one within 5.5 times
    the spread over the stored seeds (the difference of two draws has variance
    2 sd^2; 5.5 sd is 3.9 of its standard deviations, a false-alarm rate of 1e-4 per
    comparison); the closed-form model runs in float64 numpy and must agree to
    rounding."""
    script = ROOT / "experiments" / "networks.py"
    stored = json.loads((ROOT / "results" / "networks.json").read_text())
    config = stored["configuration"]
    assert {"dims", "ratios", "seeds", "epochs", "seed_rule", "versions"} <= set(config)
    assert {"jax", "optax"} <= set(config["versions"])
    assert len(stored["code_version"]["commit"]) == 40
    out = subprocess.run(
        [sys.executable, str(script), "--smallest", "--workers", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    again = json.loads(out[out.index("{") :])["rows"]
    full = {}
    for row in stored["rows"]:
        t = row["task"]
        if t["part"] == "transition":
            full.setdefault((t["model"], t["d"], t["N"]), {})[t["seed"]] = row["result"]
    assert again
    for row in again:
        t, result = row["task"], row["result"]
        seeds = full[t["model"], t["d"], t["N"]]
        for metric in ("median_ratio", "fitted_kl"):
            values = [r[metric] for r in seeds.values()]
            want = seeds[t["seed"]][metric]
            if t["model"] == "closed":
                np.testing.assert_allclose(result[metric], want, rtol=1e-6)
            else:
                spread = np.std(values, ddof=1)
                assert abs(result[metric] - want) <= 5.5 * spread, (t, metric)


def test_networks_cache_key_covers_the_constants():
    """A cached configuration is reused only by a run with the same constants: changing
    any hyperparameter the runs read (here the batch of the networks, the Adam-trained
    linear model's steps) changes the key."""
    code = (
        "import json, networks as n\n"
        "task = {'part': 'transition', 'd': 16, 'N': 8, 'seed': 0, 'model': 'shared'}\n"
        "keys = [n._key(task)]\n"
        "n.CONSTANTS['batch'] += 1\n"
        "keys.append(n._key(task))\n"
        "n.CONSTANTS['linear']['n_steps'] += 1\n"
        "keys.append(n._key(task))\n"
        "keys.append(n._key({**task, 'seed': 1}))\n"
        "print(json.dumps(keys))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT / "experiments",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    keys = json.loads(out)
    assert len(set(keys)) == len(keys), keys
