#!/usr/bin/env python3
"""Writes tests/fixtures/stats.json: reference values for src/eval/stats.c.

References: scipy.stats.wilcoxon with its defaults (zero_method='wilcox', correction=False,
method='auto'), scipy.stats.rankdata for the rank-biserial correlation, statsmodels'
multipletests(method='holm'), the `krippendorff` package (level 'interval'), and a numpy
percentile bootstrap of the mean with B_REF resamples for the CI bounds.

Needs its own venv (not the test venv; the C tests only read the committed JSON):
  python3 -m venv ~/.cache/hone/venv-stats
  ~/.cache/hone/venv-stats/bin/pip install scipy numpy krippendorff statsmodels
  ~/.cache/hone/venv-stats/bin/python tests/ref/make_stats_fixture.py
Written with scipy 1.17.1, numpy 2.4.6, statsmodels 0.15.0, krippendorff 0.9.0 (rerunning reproduces the file byte for byte).
"""
import json, math, os, sys
import numpy as np
import scipy, scipy.stats as ss
import krippendorff
import statsmodels
from statsmodels.stats.multitest import multipletests

rng = np.random.default_rng(20261127)
out = {"versions": {"scipy": scipy.__version__, "numpy": np.__version__,
                    "statsmodels": statsmodels.__version__,
                    "krippendorff": getattr(krippendorff, "__version__", "?")}}

def num(x):
    x = float(x)
    return None if math.isnan(x) else x

def method_of(d):
    d = np.asarray(d, float)
    n = len(d)
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) != len(nz)
    zeros = (d == 0).any()
    if n > 50: return "normal"
    if not ties and not zeros: return "exact"
    if n <= 13: return "permutation"
    return "normal"

def wcase(name, d):
    d = [float(x) for x in d]
    r = ss.wilcoxon(d)
    a = np.asarray(d)
    nz = a[a != 0]
    if len(nz):
        rk = ss.rankdata(np.abs(nz))
        rp, rm = rk[nz > 0].sum(), rk[nz < 0].sum()
        rb = (rp - rm) / (rp + rm)
    else:
        rp = rm = 0.0
        rb = float("nan")
    return {"name": name, "d": d, "p": num(r.pvalue), "statistic": num(r.statistic),
            "r_plus": float(rp), "r_minus": float(rm), "rank_biserial": num(rb),
            "method": method_of(d)}

W = []
# exact: continuous, no ties, no zeros, n = 1..50
for n in [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40, 49, 50]:
    W.append(wcase(f"exact_n{n}", rng.normal(0.4, 1, n).round(6)))
W.append(wcase("exact_all_positive_n20", np.arange(1, 21) * 0.37))
W.append(wcase("exact_all_negative_n50", -np.arange(1, 51) * 1.1))
# permutation: n <= 13 with ties or zeros
W.append(wcase("perm_ties_n5", [1, 2, 2, 0, -1]))
W.append(wcase("perm_ties_n8", [0.5, 0.5, -0.5, 1, 2, 2, 2, -3]))
W.append(wcase("perm_zeros_n13", [0, 0, 1, 2, 3, -1, 4, 5, 6, -7, 8, 9, 10]))
W.append(wcase("perm_scores_n12", rng.integers(-3, 4, 12)))
W.append(wcase("perm_allzero_n5", [0, 0, 0, 0, 0]))
# normal approximation: ties / zeros with 13 < n <= 50; any n > 50
W.append(wcase("normal_ties_n14", rng.integers(-2, 5, 14)))
W.append(wcase("normal_zeros_n30", np.round(rng.normal(0.5, 1.5, 30))))
W.append(wcase("normal_ties_n50", rng.integers(-5, 8, 50) / 2))
W.append(wcase("normal_cont_n51", rng.normal(0.2, 1, 51)))
W.append(wcase("normal_cont_n200", rng.normal(-0.1, 1, 200)))
W.append(wcase("normal_ties_zeros_n120", rng.integers(-4, 6, 120)))
W.append(wcase("normal_allzero_n20", np.zeros(20)))
out["wilcoxon"] = W

# Holm
H = []
for n in [1, 2, 3, 5, 8, 12, 20]:
    p = rng.uniform(0, 0.2, n) ** 2
    H.append({"p": p.tolist(), "adj": multipletests(p, method="holm")[1].tolist()})
p = np.array([0.01, 0.04, 0.03, 0.005, 0.5, 0.04, 1.0, 0.0])
H.append({"p": p.tolist(), "adj": multipletests(p, method="holm")[1].tolist()})
out["holm"] = H

# Krippendorff's alpha (interval); rows = raters, columns = units, null = missing
A = []
def acase(m):
    m = np.asarray(m, float)
    a = krippendorff.alpha(reliability_data=m, level_of_measurement="interval")
    A.append({"ratings": [[num(x) for x in row] for row in m], "alpha": num(a)})
# Krippendorff's own textbook example (4 coders, 12 units, missing values)
acase([[1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
       [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
       [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
       [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan]])
for raters, units, miss in [(2, 12, 0.0), (3, 36, 0.1), (2, 144, 0.2), (5, 20, 0.3)]:
    truth = rng.integers(0, 11, units)
    m = np.clip(truth + rng.integers(-2, 3, (raters, units)), 0, 10).astype(float)
    m[rng.uniform(size=m.shape) < miss] = np.nan
    acase(m)
acase(rng.normal(5, 2, (3, 30)))  # no agreement at all: alpha near 0 (can be negative)
out["alpha"] = A

# Bootstrap percentile CI of the mean, level 0.95. C uses B_C resamples; the reference uses
# B_REF. A sample quantile of B draws has standard error sqrt(p (1 - p) / B) / f(x_p), f the
# density of the bootstrap distribution of the mean at the quantile (estimated from the
# reference draws as 2 delta / (Q(p + delta) - Q(p - delta)), delta = 0.01, and, as a
# cross-check, as the normal density phi(z_p) / sd; the smaller density is used, which
# gives the larger, conservative error). The C estimate and the reference differ by
# N(0, se_c^2 + se_ref^2); the tolerance is 4 such standard deviations.
B_C, B_REF, LEVEL = 10000, 200000, 0.95
Bs = []
def bcase(name, x):
    x = np.asarray(x, float)
    n = len(x)
    idx = rng.integers(0, n, (B_REF, n))
    means = x[idx].mean(axis=1)
    sd = means.std()
    case = {"name": name, "x": x.tolist(), "mean": float(x.mean()), "B": B_C, "level": LEVEL,
            "sd_boot": float(sd)}
    for key, p in [("lo", (1 - LEVEL) / 2), ("hi", (1 + LEVEL) / 2)]:
        q = float(np.percentile(means, 100 * p))
        dl = 0.01
        width = np.percentile(means, 100 * (p + dl)) - np.percentile(means, 100 * (p - dl))
        f_emp = 2 * dl / width if width > 0 else float("inf")
        f_norm = math.exp(-0.5 * ss.norm.ppf(p) ** 2) / math.sqrt(2 * math.pi) / sd
        f = min(f_emp, f_norm)
        se = math.sqrt(p * (1 - p) * (1 / B_C + 1 / B_REF)) / f
        case[key] = q
        case["tol_" + key] = 4 * se
    Bs.append(case)
bcase("normal_n12", rng.normal(1, 2, 12))
bcase("normal_n50", rng.normal(0, 1, 50))
bcase("expon_n30", rng.exponential(2, 30))
bcase("scores_n36", rng.integers(0, 11, 36))
bcase("diffs_n12", rng.integers(-4, 7, 12) / 3)
bcase("normal_n200", rng.normal(5, 3, 200))
out["bootstrap"] = Bs

path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stats.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, allow_nan=False)
    f.write("\n")
print(f"wrote {path}: {len(W)} wilcoxon, {len(H)} holm, {len(A)} alpha, {len(Bs)} bootstrap cases")
