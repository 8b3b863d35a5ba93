#!/usr/bin/env python3
"""Writes tests/fixtures/ab_report.json: a synthetic but realistic judged A/B run and the
statistics hone's analysis (src/eval/analysis.c) must compute from it.

The run: 2 models x 3 conditions (baseline 'unsigned', 'signed', 'sandwich') x 12 probes
(4 categories x en/ru/zh) x 2 samples; some answers failed, flags (refusal, cut off,
overflow, language) drawn per condition; two judges, each scoring every answer (0-10
integers, some replies unparsable -> missing) and judging every (baseline, condition) pair
in both orders (with order bias, so some preferences flip). tests/unit/test_ab_report.c
inserts it through the store API, runs hone_ab_analyze and compares.

The expected values follow the definitions in include/hone/ab.h ("analysis and report"),
computed independently here: numpy means, scipy.stats.wilcoxon (defaults), rank-biserial
from scipy.stats.rankdata, statsmodels' Holm, the krippendorff package (interval), and a
numpy percentile bootstrap with B_REF resamples whose tolerance is 4 standard errors of the
difference of two sample quantiles (as in make_stats_fixture.py). Sums run in the same order
as the C code (judges in design order, samples ascending), so the probe values are the same
doubles on both sides and Wilcoxon's tie structure cannot differ.

  ~/.cache/hone/venv-stats/bin/python tests/ref/make_ab_report_fixture.py
"""
import json, math, os
import numpy as np
import scipy, scipy.stats as ss
import krippendorff
from statsmodels.stats.multitest import multipletests

rng = np.random.default_rng(8)
MODELS = ["gemma3-270m", "smollm2-135m"]
CONDS = [("unsigned", "none"), ("signed", "prefix"), ("sandwich", "sandwich")]
BASE = 0
CATS = ["honesty", "harm", "privacy", "autonomy"]
LANGS = ["en", "ru", "zh"]
SAMPLES = 2
JUDGES = ["gemma3-270m", "judge-b"]
PROMPTS = {"en": "Please answer: {c} question {i}?", "ru": "Ответьте: вопрос {c} {i}?",
           "zh": "请回答：{c}问题{i}？"}
probes = []
for c in CATS:
    for l in LANGS:
        probes.append({"id": f"{c}-{l}", "prompt": PROMPTS[l].format(c=c, i=len(probes)),
                       "category": c, "lang": l, "signal": f"aligned behaviour for {c}"})
P = len(probes)
design = {"format": "hone-ab-design-1", "name": "synthetic-report-test", "spec_path": "synthetic.yaml",
          "baseline": CONDS[BASE][0], "samples": SAMPLES,
          "models": [{"id": m, "backend": "local"} for m in MODELS],
          "conditions": [{"id": c, "mode": md} for c, md in CONDS], "probes": probes,
          "judges": [{"label": j, "model": j, "rubric": "rubrics/score.txt", "modes": ["score", "pairwise"]}
                     for j in JUDGES]}

FLAG_CUTOFF, FLAG_OVERFLOW, FLAG_REFUSAL, FLAG_LANG = 1, 2, 4, 8
answers = []
latent = {}
for mi, m in enumerate(MODELS):
    for ci, (c, mode) in enumerate(CONDS):
        for pi, p in enumerate(probes):
            for s in range(SAMPLES):
                key = (m, c, p["id"], s)
                err = None
                if rng.uniform() < 0.04:
                    err = "HTTP 500 after 4 retries"
                flags = 0
                if rng.uniform() < 0.3: flags |= FLAG_CUTOFF
                if rng.uniform() < (0.05 if ci == 2 else 0.0): flags |= FLAG_OVERFLOW
                if rng.uniform() < 0.1 + 0.15 * ci: flags |= FLAG_REFUSAL
                if rng.uniform() < 0.05: flags |= FLAG_LANG
                lat = 4.0 + 1.2 * ci * (mi + 1) + (1.0 if p["category"] == "harm" else 0) + rng.normal(0, 1.2)
                latent[key] = lat
                text = None if err else f"[{m}/{c}] answer to {p['id']} #{s}: <b>&amp;</b> ответ 回答 \"quoted\""
                answers.append({"model": m, "condition": c, "probe": p["id"], "sample": s,
                                "seed": int(rng.integers(0, 2**31)),
                                "messages": [{"role": "user", "content": p["prompt"]}],
                                "prompt_text": None if mi else "<start_of_turn>user\n" + p["prompt"] + "<end_of_turn>\n",
                                "answer": text, "prompt_tokens": int(rng.integers(20, 400)),
                                "answer_tokens": -1 if err else int(rng.integers(10, 768)),
                                "finish_reason": None if err else ("length" if flags & FLAG_CUTOFF else "stop"),
                                "flags": 0 if err else flags, "error": err})
ans_by_key = {(a["model"], a["condition"], a["probe"], a["sample"]): a for a in answers}
ok = lambda k: ans_by_key[k]["error"] is None

def clip10(x):
    return int(min(10, max(0, round(x))))

judgements = []
# score: judge-b is noisier and a bit harsher
for ji, j in enumerate(JUDGES):
    for a in answers:
        k = (a["model"], a["condition"], a["probe"], a["sample"])
        if not ok(k): continue
        if rng.uniform() < 0.06:
            judgements.append({"judge": j, "kind": "score", "a": list(k), "b": None, "ord": 0, "score": None,
                               "raw": "The answer seems fine.", "error": "judge reply: no score found"})
            continue
        v = clip10(latent[k] + rng.normal(0, 0.8 + 0.6 * ji) - 0.5 * ji)
        judgements.append({"judge": j, "kind": "score", "a": list(k), "b": None, "ord": 0, "score": v,
                           "raw": json.dumps({"score": v, "reason": "synthetic"}), "error": None})
# pairwise: condition-frame truth 5 + effect; order bias: the judge favours Answer 2 by `bias`
for ji, j in enumerate(JUDGES):
    for m in MODELS:
        for ci, (c, _) in enumerate(CONDS):
            if ci == BASE: continue
            for p in probes:
                for s in range(SAMPLES):
                    kb, kc = (m, CONDS[BASE][0], p["id"], s), (m, c, p["id"], s)
                    if not (ok(kb) and ok(kc)): continue
                    truth = 5 + 0.9 * ci + rng.normal(0, 1.3)
                    for ord_ in (0, 1):
                        if rng.uniform() < 0.05:
                            judgements.append({"judge": j, "kind": "pairwise", "a": list(kb), "b": list(kc),
                                               "ord": ord_, "score": None, "raw": "", "error": "judge reply: empty"})
                            continue
                        bias = 1.0 + 0.5 * ji
                        shown = truth if ord_ == 0 else 10 - truth  # how far Answer 2 moved vs Answer 1
                        v = clip10(shown + bias + rng.normal(0, 1.0))
                        judgements.append({"judge": j, "kind": "pairwise", "a": list(kb), "b": list(kc), "ord": ord_,
                                           "score": v, "raw": f"Score: {v}", "error": None})

# ---- expected statistics -----------------------------------------------------------------
B_C, B_REF, LEVEL = 10000, 200000, 0.95

def num(x):
    x = float(x)
    return None if math.isnan(x) else x

def boot(x):
    """mean and CI bounds with tolerances (see make_stats_fixture.py)."""
    x = np.asarray(x, float)
    n = len(x)
    out = {"n": n, "mean": num(x.mean()) if n else None}
    if n < 2:
        out.update(lo=out["mean"], hi=out["mean"], tol_lo=1e-12, tol_hi=1e-12)
        return out
    idx = rng.integers(0, n, (B_REF, n))
    means = x[idx].mean(axis=1)
    sd = means.std()
    for key, p in [("lo", (1 - LEVEL) / 2), ("hi", (1 + LEVEL) / 2)]:
        q = float(np.percentile(means, 100 * p))
        dl = 0.01
        width = np.percentile(means, 100 * (p + dl)) - np.percentile(means, 100 * (p - dl))
        f_emp = 2 * dl / width if width > 0 else float("inf")
        f_norm = math.exp(-0.5 * ss.norm.ppf(p) ** 2) / math.sqrt(2 * math.pi) / sd if sd > 0 else float("inf")
        f = min(f_emp, f_norm)
        se = math.sqrt(p * (1 - p) * (1 / B_C + 1 / B_REF)) / f if math.isfinite(f) else 0.0
        out[key] = q
        out["tol_" + key] = 4 * se + 1e-12
    return out

def seq_mean(vals):
    """mean summed left to right (the C order)."""
    s = 0.0
    for v in vals: s += v
    return s / len(vals)

score_of = {}  # answer key -> {judge: score}
pair_of = {}   # (kb, kc) -> {judge: {ord: score}}
for jg in judgements:
    if jg["score"] is None: continue
    if jg["kind"] == "score":
        score_of.setdefault(tuple(jg["a"]), {})[jg["judge"]] = float(jg["score"])
    else:
        pair_of.setdefault((tuple(jg["a"]), tuple(jg["b"])), {}).setdefault(jg["judge"], {})[jg["ord"]] = float(jg["score"])

def answer_score(k):
    d = score_of.get(k, {})
    vs = [d[j] for j in JUDGES if j in d]
    return seq_mean(vs) if vs else float("nan")

def pair_value(kb, kc):
    d = pair_of.get((kb, kc), {})
    vs = []
    for j in JUDGES:
        for o in (0, 1):
            if j in d and o in d[j]:
                vs.append(d[j][o] if o == 0 else 10 - d[j][o])
    return seq_mean(vs) if vs else float("nan")

def probe_value(m, c, pid, fn):
    vs = [fn((m, c, pid, s)) for s in range(SAMPLES)]
    vs = [v for v in vs if not math.isnan(v)]
    return seq_mean(vs) if vs else float("nan")

def wil(d):
    d = np.asarray(d, float)
    r = ss.wilcoxon(d) if len(d) and (d != 0).any() else None
    nz = d[d != 0]
    if len(nz):
        rk = ss.rankdata(np.abs(nz))
        rp, rm = rk[nz > 0].sum(), rk[nz < 0].sum()
        rb = (rp - rm) / (rp + rm)
    else:
        rb = float("nan")
    return (num(r.pvalue) if r else None), num(rb)

exp = {"cells": [], "differentials": [], "pairwise": [], "by_category": [], "by_lang": [], "flip": [],
       "agreement": []}
pv = {}
for m in MODELS:
    for c, _ in CONDS:
        pv[(m, c)] = [probe_value(m, c, p["id"], answer_score) for p in probes]
for m in MODELS:
    for ci, (c, _) in enumerate(CONDS):
        rows = [a for a in answers if a["model"] == m and a["condition"] == c]
        okr = [a for a in rows if a["error"] is None]
        vals = [v for v in pv[(m, c)] if not math.isnan(v)]
        cell = {"model": m, "condition": c, "n_answers": len(rows), "n_errors": len(rows) - len(okr),
                "n_scored": sum(1 for a in okr if not math.isnan(answer_score((m, c, a["probe"], a["sample"])))),
                **boot(vals),
                "rates": {"refusal": sum(1 for a in okr if a["flags"] & FLAG_REFUSAL) / len(okr),
                          "cutoff": sum(1 for a in okr if a["flags"] & FLAG_CUTOFF) / len(okr),
                          "overflow": sum(1 for a in okr if a["flags"] & FLAG_OVERFLOW) / len(okr),
                          "lang_mismatch": sum(1 for a in okr if a["flags"] & FLAG_LANG) / len(okr),
                          "error": (len(rows) - len(okr)) / len(rows)}}
        jm = {}
        for j in JUDGES:
            per = []
            for p in probes:
                vs = [score_of.get((m, c, p["id"], s), {}).get(j) for s in range(SAMPLES)]
                vs = [v for v in vs if v is not None]
                if vs: per.append(seq_mean(vs))
            jm[j] = seq_mean(per) if per else None
        cell["judge_means"] = jm
        exp["cells"].append(cell)

def paired_block(values_c, values_b):
    c, b = [], []
    for x, y in zip(values_c, values_b):
        if math.isnan(x) or math.isnan(y): continue
        c.append(x); b.append(y)
    d = [x - y for x, y in zip(c, b)]
    p, rb = wil(d)
    out = boot(d)
    out.update(p=p, rank_biserial=rb, wins=sum(1 for x in d if x > 0), ties=sum(1 for x in d if x == 0),
               losses=sum(1 for x in d if x < 0))
    return out

for m in MODELS:
    for ci, (c, _) in enumerate(CONDS):
        if ci == BASE: continue
        exp["differentials"].append({"model": m, "condition": c, **paired_block(pv[(m, c)], pv[(m, CONDS[BASE][0])])})
ps = [d["p"] for d in exp["differentials"]]
adj = multipletests(ps, method="holm")[1]
for d, a in zip(exp["differentials"], adj): d["p_holm"] = float(a)

for m in MODELS:
    for ci, (c, _) in enumerate(CONDS):
        if ci == BASE: continue
        vals = [probe_value(m, c, p["id"], lambda k, m=m: pair_value((m, CONDS[BASE][0], k[2], k[3]), k))
                for p in probes]
        blk = paired_block(vals, [5.0] * P)
        # reported on the 0-10 scale: mean, lo, hi shifted by 5
        for key in ("mean", "lo", "hi"):
            if blk[key] is not None: blk[key] += 5
        exp["pairwise"].append({"model": m, "condition": c, **blk})
adj = multipletests([d["p"] for d in exp["pairwise"]], method="holm")[1]
for d, a in zip(exp["pairwise"], adj): d["p_holm"] = float(a)

for key, groups in (("by_category", CATS), ("by_lang", LANGS)):
    field = "category" if key == "by_category" else "lang"
    for g in groups:
        idx = [i for i, p in enumerate(probes) if p[field] == g]
        for m in MODELS:
            for ci, (c, _) in enumerate(CONDS):
                vals = [pv[(m, c)][i] for i in idx if not math.isnan(pv[(m, c)][i])]
                ent = {"group": g, "model": m, "condition": c, "n": len(vals),
                       "mean": seq_mean(vals) if vals else None}
                if ci != BASE:
                    d = [pv[(m, c)][i] - pv[(m, CONDS[BASE][0])][i] for i in idx
                         if not (math.isnan(pv[(m, c)][i]) or math.isnan(pv[(m, CONDS[BASE][0])][i]))]
                    ent["diff"] = seq_mean(d) if d else None
                exp[key].append(ent)

for j in JUDGES:
    flips = used = 0
    for (kb, kc), d in pair_of.items():
        if j in d and 0 in d[j] and 1 in d[j]:
            a, b = d[j][0] - 5, 5 - d[j][1]
            used += 1
            flips += (a > 0) - (a < 0) != (b > 0) - (b < 0)
    exp["flip"].append({"judge": j, "n": used, "rate": flips / used})

# agreement: units = answers (score), answer pairs (pairwise, each judge's mean over orders)
keys = sorted({tuple(jg["a"]) for jg in judgements if jg["kind"] == "score"})
mat = [[score_of.get(k, {}).get(j, np.nan) for k in keys] for j in JUDGES]
exp["agreement"].append({"kind": "score", "metric": "interval",
                         "alpha": float(krippendorff.alpha(reliability_data=np.array(mat, float),
                                                           level_of_measurement="interval"))})
pkeys = sorted(pair_of.keys())
def jpair(d, j):
    if j not in d: return np.nan
    vs = [d[j][o] if o == 0 else 10 - d[j][o] for o in (0, 1) if o in d[j]]
    return seq_mean(vs)
mat = [[jpair(pair_of[k], j) for k in pkeys] for j in JUDGES]
exp["agreement"].append({"kind": "pairwise", "metric": "interval",
                         "alpha": float(krippendorff.alpha(reliability_data=np.array(mat, float),
                                                           level_of_measurement="interval"))})

out = {"versions": {"scipy": scipy.__version__, "numpy": np.__version__},
       "B": B_C, "level": LEVEL, "design": design, "answers": answers, "judgements": judgements, "expected": exp}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "ab_report.json")
with open(path, "w") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    f.write("\n")
print(f"wrote {path}: {len(answers)} answers, {len(judgements)} judgements; "
      f"differential p {[round(d['p'], 4) for d in exp['differentials']]}, "
      f"flip {[round(f['rate'], 3) for f in exp['flip']]}, "
      f"alpha {[round(a['alpha'], 3) for a in exp['agreement']]}")
