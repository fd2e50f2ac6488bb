"""Does the recommendation find planted segments -- and no segments in noise?

Each scenario plants ``k`` segments (or none) in 3,000 synthetic customers, runs the
comparison (k-means and Gaussian mixtures on the scaled features, k = 2..8) and the
SAME rule the reports use (:func:`segkit.clustering.recommend.select`), and prints,
beside it, what single criteria choose on the same data: silhouette, Calinski-
Harabasz, GMM-BIC, the gap statistic (Tibshirani, Walther & Hastie 2001, uniform
reference) and prediction strength alone (largest k with mean >= 0.8).

Usage::

    python benchmarks/recovery.py            # all scenarios, 3,000 customers
    python benchmarks/recovery.py --n 1000 --only sep3,noise --rules ch,silhouette

A scenario counts as found when the chosen k is the planted k and the structure is
not "none"; the no-structure scenarios count as right when the structure is "none"
(and, for single criteria, never, since each always names a k).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segkit.clustering.compare import compare_candidates
from segkit.clustering.recommend import RANK_BY, RANK_RULES, recommend, select
from segkit.clustering.sampling import thread_limit
from segkit.clustering.selection import candidate_model, null_reference
from segkit.clustering.stability import prediction_strength
from segkit.config import DEFAULTS


@dataclass(frozen=True)
class Scenario:
    """One planted data set: ``k`` blobs (0: none) and how they are made."""

    name: str
    k: int
    description: str
    dims: int = 6
    separation: float = 7.0  # minimum distance between centres, in within-SDs
    weights: tuple[float, ...] = ()
    anisotropy: float = 1.0  # ratio of the longest to the shortest axis
    noise_features: int = 0
    categorical: int = 0  # one-hot columns derived from the segment (with noise)
    null: str = ""  # "gaussian" or "uniform": no segments at all
    extra: dict = field(default_factory=dict)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("sep2", 2, "2 well separated"),
    Scenario("sep3", 3, "3 well separated"),
    Scenario("sep5", 5, "5 well separated"),
    Scenario("sep8", 8, "8 well separated", dims=8),
    Scenario("weak3", 3, "3 weakly separated", separation=4.5),
    Scenario("weak5", 5, "5 weakly separated", separation=4.5),
    Scenario("aniso3", 3, "3 anisotropic (axes 1:3)", anisotropy=3.0, separation=9),
    Scenario("aniso4", 4, "4 anisotropic (axes 1:2.5)", anisotropy=2.5, separation=9),
    Scenario("unequal4", 4, "4 unequal (50/25/15/10 %)", weights=(50, 25, 15, 10)),
    Scenario("unequal6", 6, "6 unequal (35..5 %)", weights=(35, 25, 15, 12, 8, 5)),
    Scenario("noisy5", 5, "5 in 4 dims + 6 noise features", dims=4, noise_features=6),
    Scenario("mixed4", 4, "4, numeric + 2 categorical", dims=4, categorical=2),
    Scenario("sep7", 7, "7 well separated", dims=8),
    # the hard tier: centres only 3-3.5 within-SDs apart (neighbours overlap)
    Scenario("weak4", 4, "4 weak (3.5 SDs apart)", separation=3.5),
    Scenario("weak6", 6, "6 weak (3 SDs apart)", separation=3.0),
    Scenario(
        "weakuneq4",
        4,
        "4 weak (3.5 SDs) unequal (45/30/15/10 %)",
        separation=3.5,
        weights=(45, 30, 15, 10),
    ),
    Scenario(
        "weaknoisy4",
        4,
        "4 weak (3.5 SDs) in 4 dims + 4 noise features",
        dims=4,
        separation=3.5,
        noise_features=4,
    ),
    Scenario("gauss", 0, "no structure: one Gaussian", null="gaussian"),
    Scenario("uniform", 0, "no structure: uniform box", null="uniform"),
)


def make_scenario(
    scenario: Scenario, n: int = 3000, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Standardised features (index customer_id) and the planted labels."""
    rng = np.random.default_rng(seed)
    if scenario.null:
        cov = np.diag(np.linspace(1.0, 3.0, scenario.dims))
        X = (
            rng.multivariate_normal(np.zeros(scenario.dims), cov, size=n)
            if scenario.null == "gaussian"
            else rng.uniform(-1, 1, size=(n, scenario.dims)) * np.sqrt(np.diag(cov))
        )
        truth = np.zeros(n, dtype=int)
    else:
        k, d = scenario.k, scenario.dims
        centres = _centres(k, d, scenario.separation, rng)
        weights = np.asarray(scenario.weights or np.ones(k), dtype=float)
        truth = rng.choice(k, size=n, p=weights / weights.sum())
        truth = np.sort(truth)  # stable order; shuffled below with the rows
        X = np.empty((n, d))
        for c in range(k):
            rows = truth == c
            Z = rng.normal(size=(rows.sum(), d))
            if scenario.anisotropy != 1.0:
                scales = np.geomspace(scenario.anisotropy, 1.0, d)
                q, _ = np.linalg.qr(rng.normal(size=(d, d)))
                Z = (Z * scales / np.sqrt(scenario.anisotropy)) @ q
            X[rows] = centres[c] + Z
        if scenario.noise_features:
            spread = X.std(0).mean()
            X = np.hstack(
                [X, rng.normal(scale=spread, size=(n, scenario.noise_features))]
            )
        order = rng.permutation(n)
        X, truth = X[order], truth[order]
    X = (X - X.mean(0)) / X.std(0)
    if scenario.categorical:
        for j in range(scenario.categorical):
            levels = 3
            value = np.where(
                rng.uniform(size=n) < 0.85,
                (truth + j) % levels,
                rng.integers(0, levels, size=n),
            )
            X = np.hstack([X, np.eye(levels)[value]])
    index = pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id")
    columns = [f"f{j}" for j in range(X.shape[1])]
    return pd.DataFrame(X, index=index, columns=columns), truth


def _centres(k: int, d: int, separation: float, rng) -> np.ndarray:
    """k centres at least ``separation`` apart, packed as tightly as that allows."""
    box = separation * max(1.0, k ** (1 / d)) * 0.9
    for _ in range(200):
        centres = [rng.uniform(-box, box, size=d)]
        for _ in range(5000):
            if len(centres) == k:
                break
            candidate = rng.uniform(-box, box, size=d)
            if np.min(np.linalg.norm(np.asarray(centres) - candidate, axis=1)) >= (
                separation
            ):
                centres.append(candidate)
        if len(centres) == k:
            return np.asarray(centres)
        box *= 1.1
    raise RuntimeError(f"could not place {k} centres {separation} apart")


def clustering_settings(**changes) -> dict:
    """The default ``clustering`` section, cut down to k-means + GMM on scaled."""
    clustering = copy.deepcopy(dict(DEFAULTS["clustering"]))
    clustering.update(
        algorithms=["kmeans", "gmm"],
        representations=["scaled"],
        k_min=2,
        k_max=8,
        metric_sample=3000,
    )
    clustering.update(changes)
    return clustering


def _gap_choice(table: pd.DataFrame, null: pd.DataFrame, n_rows: int, refs: int) -> int:
    """Tibshirani's rule: smallest k with Gap(k) >= Gap(k+1) - s(k+1), k-means."""
    km = table[table["algorithm"] == "kmeans"].set_index("n_segments")
    ref = null.set_index("k")
    ks = [k for k in ref.index if k in km.index]
    gap = {k: ref.at[k, "logw_uniform"] - np.log(km.at[k, "wcss"] * n_rows) for k in ks}
    s = {k: ref.at[k, "logw_uniform_sd"] * np.sqrt(1 + 1 / refs) for k in ks}
    for k, k1 in zip(ks, ks[1:], strict=False):
        if gap[k] >= gap[k1] - s[k1]:
            return int(k)
    return int(ks[-1])


def run_scenario(
    scenario: Scenario,
    *,
    n: int = 3000,
    seed: int = 0,
    rules: tuple[str, ...] = (RANK_BY,),
    clustering: dict | None = None,
) -> dict:
    """Everything one printed row needs, for the rule(s) and each single criterion."""
    with thread_limit(n):
        return _run(scenario, n=n, seed=seed, rules=rules, clustering=clustering)


def _run(
    scenario: Scenario,
    *,
    n: int,
    seed: int,
    rules: tuple[str, ...],
    clustering: dict | None,
) -> dict:
    frame, truth = make_scenario(scenario, n, seed)
    clustering = clustering or clustering_settings()
    start = time.perf_counter()
    table = compare_candidates(frame, clustering=clustering, seed=seed).table
    scored, rec, extras = select(table, frame, clustering, seed=seed, rank_by=rules[0])
    out = {"scenario": scenario.name, "planted": scenario.k}

    def ari_of(candidate: str) -> float:
        model = candidate_model(candidate, clustering, seed=seed).fit(frame)
        return float(adjusted_rand_score(truth, model.labels_.to_numpy()))

    for rule in rules:
        if rule != rules[0]:
            _, rec = recommend(
                table,
                clustering,
                rank_by=rule,
                assessment=extras["assessment"],
                null=extras["null"],
            )
        k = int(scored.set_index("candidate").at[rec["winner"], "n_segments"])
        out[f"{rule}_k"] = k
        out[f"{rule}_structure"] = rec["structure"]
        out[f"{rule}_ari"] = ari_of(rec["winner"])
        out[f"{rule}_candidate"] = rec["winner"]
    out["seconds"] = time.perf_counter() - start
    models = table[table["algorithm"] != "rfm"]
    km = models[models["algorithm"] == "kmeans"]
    gmm = models[models["algorithm"] == "gmm"]
    picks = {
        "silhouette": km.loc[km["silhouette"].idxmax(), "candidate"],
        "ch": km.loc[km["calinski_harabasz"].idxmax(), "candidate"],
        "gmm_bic": gmm.loc[gmm["bic"].idxmin(), "candidate"],
    }
    null = extras["null"]
    s_refs = int(rec["constraints"]["null_refs"])
    n_rows = min(int(rec["constraints"]["refit_sample"]), len(frame))
    if null is not None and len(null) == len(km):
        picks["gap"] = f"kmeans/scaled/{_gap_choice(table, null, n_rows, s_refs)}"
    else:
        full = null_reference(
            frame, range(2, 9), n_refs=s_refs, sample_size=n_rows, seed=seed
        )
        picks["gap"] = f"kmeans/scaled/{_gap_choice(table, full, n_rows, s_refs)}"
    ps = prediction_strength(
        candidate_model("kmeans/scaled/2", clustering, seed=seed),
        frame,
        k_values=range(2, 9),
        n_splits=10,
        sample_size=2000,
        random_state=seed,
    )
    passing = ps.loc[ps["strength"] >= 0.8, "k"]
    picks["ps"] = f"kmeans/scaled/{int(passing.max()) if len(passing) else 2}"
    for name, candidate in picks.items():
        out[f"{name}_k_only"] = int(candidate.rsplit("/", 1)[1])
        out[f"{name}_ari_only"] = ari_of(candidate)
    return out


def _found(row: dict, k_col: str, structure_col: str | None) -> bool:
    if row["planted"] == 0:
        return structure_col is not None and row[structure_col] == "none"
    if structure_col is not None and row[structure_col] == "none":
        return False
    return row[k_col] == row["planted"]


def summarise(rows: list[dict], rules: tuple[str, ...]) -> pd.DataFrame:
    """One line per method: planted k found (structured scenarios), mean ARI, noise."""
    planted = [r for r in rows if r["planted"] > 0]
    nulls = [r for r in rows if r["planted"] == 0]
    lines = []
    for rule in rules:
        lines.append(
            {
                "method": f"rule ({rule})",
                "found": sum(
                    _found(r, f"{rule}_k", f"{rule}_structure") for r in planted
                ),
                "of": len(planted),
                "mean_ari": np.mean([r[f"{rule}_ari"] for r in planted]),
                "noise_says_none": sum(r[f"{rule}_structure"] == "none" for r in nulls),
                "noise_sets": len(nulls),
            }
        )
    for name in ("silhouette", "ch", "gmm_bic", "gap", "ps"):
        lines.append(
            {
                "method": f"{name} only",
                "found": sum(_found(r, f"{name}_k_only", None) for r in planted),
                "of": len(planted),
                "mean_ari": np.mean([r[f"{name}_ari_only"] for r in planted]),
                "noise_says_none": 0,
                "noise_sets": len(nulls),
            }
        )
    return pd.DataFrame(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="customers per scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument(
        "--rules",
        default=RANK_BY,
        help=f"comma-separated rankings of qualified candidates ({', '.join(RANK_RULES)})",
    )
    args = parser.parse_args(argv)
    rules = tuple(r for r in args.rules.split(",") if r)
    wanted = set(filter(None, args.only.split(",")))
    rows = []
    for scenario in SCENARIOS:
        if wanted and scenario.name not in wanted:
            continue
        row = run_scenario(scenario, n=args.n, seed=args.seed, rules=rules)
        rows.append(row)
        rule = rules[0]
        print(
            f"{scenario.name:9s} planted {scenario.k}  rule k {row[f'{rule}_k']} "
            f"ARI {row[f'{rule}_ari']:.3f} {row[f'{rule}_structure']:5s} "
            + " ".join(
                f"{r}:{row[f'{r}_k']}/{row[f'{r}_structure']}" for r in rules[1:]
            )
            + f" | sil {row['silhouette_k_only']} ch {row['ch_k_only']} "
            f"bic {row['gmm_bic_k_only']} gap {row['gap_k_only']} "
            f"ps {row['ps_k_only']}  ({row['seconds']:.0f} s)",
            flush=True,
        )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    columns = ["scenario", "planted"]
    for rule in rules:
        columns += [f"{rule}_k", f"{rule}_ari", f"{rule}_structure"]
    for name in ("silhouette", "ch", "gmm_bic", "gap", "ps"):
        columns += [f"{name}_k_only", f"{name}_ari_only"]
    print(table[columns].round(3).to_string(index=False))
    summary = summarise(rows, rules)
    print(summary.round(3).to_string(index=False))
    main_line = summary.iloc[0]
    print(
        f"summary: planted k found in {main_line['found']} of {main_line['of']}, "
        f"mean ARI {main_line['mean_ari']:.3f}; no-structure sets called 'none': "
        f"{main_line['noise_says_none']} of {main_line['noise_sets']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
