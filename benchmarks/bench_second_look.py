"""The second look (SECOND_LOOK, inference/second_look.py) on camera-like footage: the margin
between clips without a person and people with and without it, whether tiles find the small
distant person better than 512 on the whole frame, and what it costs over a day's clips.

    .venv/bin/python benchmarks/bench_second_look.py [--seeds 3] [--still 8] [--seconds 60]
        [--threshold 0.25] [--bands 0.15,0.05] [--person-share 0.1]
        [--looks centernet:512:onnxruntime,tiles:2:centernet:320:onnxruntime]

The footage is benchmarks/make_footage_set.py's (tests/scenes.py): per seed, `--still` minutes of
the still view (a cat at a person's aspect, a cut-off cat at the edge, a 12 px blob: no person)
and one minute each of a person crossing, one half hidden at the edge, and a 36 x 48 px distant
one, as `--seconds`-long clips. Each clip goes through the worker's first pass (`detect_clip`,
DETECTOR, 2 fps, MIN_CHANGE), then every look on its deciding frames (SECOND_LOOK_FRAMES, 3).

Printed per look: the margin (weakest person - best clip without one) of the first pass and of
the second look on every clip, with tp/fp/fn at the threshold and the distant person's scores;
then as the worker decides (`decide_twice`: the look only where the first-pass score is within
the band of the threshold) for each band, on a camera without rules and on one whose still view
was reviewed once ("no person, suppress similar" on each seed's first minute: its rules apply
to the later minutes, and the first minute is left out), the clips looked at, the margin and
tp/fp/fn; and the cost over a day's clip mix: `--person-share` of a camera's minutes have a
person (the three kinds alike), the rest are its still view. Cost = the looks' time (seek, decode,
detect, describe) over the first pass's detector time, both summed over that mix; the fraction of
clips looked at is the mix's share in the band. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference import defaults, suppression
from inference.detector import load_detector
from inference.pipeline import detect_clip
from inference.second_look import best_score, decide_twice, second_look_from_spec
from tests import scenes

KINDS = ("still", *scenes.PEOPLE)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)  # the rules never expire here


def first_pass(path: Path, detector, floor: float) -> dict:
    result = detect_clip(
        path,
        detector,
        sample_fps=defaults.SAMPLE_FPS,
        min_change=defaults.MIN_CHANGE,
        max_still_s=defaults.MAX_STILL_SECONDS,
        describe_min_score=floor,  # as the worker: descriptors from the rule floor up
    )
    score = max((best_score(f.boxes) for f in result.frames), default=0.0)
    return {"path": path, "frames": result.frames, "score": score, "detect_s": result.detect_s}


def rules_from(frames, *, threshold: float, band: float) -> list[suppression.Rule]:
    """What one "no person, suppress similar" review of a clip makes (as the replay makes them)."""
    groups = suppression.rules_from_false_detections(
        suppression.false_detections((f.boxes, f.descriptors, f.size) for f in frames),
        floor=suppression.rule_floor(threshold, band, defaults.SUPPRESSION_JITTER),
        max_rules=defaults.SUPPRESSION_MAX_RULES_PER_REVIEW,
    )
    return [
        suppression.Rule(id=i, box=g.box, descriptor=g.descriptor, similarity_min=suppression.similarity_for(g.box))
        for i, g in enumerate(groups)
    ]


def worker(clips: list[dict], look, *, threshold: float, band: float, floor: float, reviewed: bool) -> list[dict]:
    """Each clip decided as the worker decides it (decide_twice) on a camera with this threshold
    and band; with `reviewed`, the still view's first minute of each seed was reviewed "no
    person, suppress similar" (its decided frames make the rules) and the later minutes are decided
    under its rules (that first minute is left out of the figures)."""
    rules: dict[int, list] = {}
    out = []
    for c in clips:
        decision, looked = decide_twice(
            c["path"],
            c["frames"],
            second=look,
            describe_min_score=floor,
            rules=rules.get(c["seed"], []),
            threshold=threshold,
            review_band=band,
            now=NOW,
        )
        if reviewed and c["minute"] == 0:
            frames = looked.frames if looked is not None else c["frames"]
            rules[c["seed"]] = rules_from(frames, threshold=threshold, band=band)
            continue
        out.append({**c, "final": decision.score, "looked": looked is not None})
    return out


def margin(clips: list[dict], scores: list[float]) -> float:
    people = [s for c, s in zip(clips, scores) if c["person"]]
    others = [s for c, s in zip(clips, scores) if not c["person"]]
    return round(min(people) - max(others), 4)


def counts(clips: list[dict], scores: list[float], threshold: float) -> str:
    tp = sum(1 for c, s in zip(clips, scores) if c["person"] and s >= threshold)
    fp = sum(1 for c, s in zip(clips, scores) if not c["person"] and s >= threshold)
    return f"{tp}/{fp}/{sum(c['person'] for c in clips) - tp}"


def day_mix(clips: list[dict], spec: str, person_share: float) -> tuple[float, float]:
    """(fraction of a day's clips looked at, looks' time / first pass's detector time) over the mix."""
    weight = {"still": 1 - person_share, **{k: person_share / len(scenes.PEOPLE) for k in scenes.PEOPLE}}
    share = cost = first = 0.0
    for kind in KINDS:
        mine = [c for c in clips if c["kind"] == kind]
        share += weight[kind] * statistics.mean(c["looked"] for c in mine)
        cost += weight[kind] * statistics.mean(c[spec + ":s"] if c["looked"] else 0.0 for c in mine)
        first += weight[kind] * statistics.mean(c["detect_s"] for c in mine)
    return round(share, 4), round(cost / first, 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--still", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threshold", type=float, default=defaults.THRESHOLD)
    parser.add_argument("--bands", default=f"{defaults.REVIEW_BAND},0.1,0.05")
    parser.add_argument("--person-share", type=float, default=0.1)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--detector", default=defaults.DETECTOR)
    parser.add_argument("--looks", default="centernet:512:onnxruntime,tiles:2:centernet:320:onnxruntime")
    args = parser.parse_args()
    bands = [float(b) for b in args.bands.split(",")]
    floor = min(suppression.rule_floor(args.threshold, b, defaults.SUPPRESSION_JITTER) for b in bands)
    detector = load_detector(args.detector)
    looks = {spec: second_look_from_spec(spec, args.frames, load_detector) for spec in args.looks.split(",")}
    blank = np.zeros((scenes.SIZE[1], scenes.SIZE[0], 3), np.uint8)
    for d in (detector, *(look.detector for look in looks.values())):
        d.detect([blank])  # the first run of a session is slow: not a clip's cost
    clips: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for m, kind in enumerate([""] * args.still + list(scenes.PEOPLE)):
                path = Path(tmp) / f"s{seed}-{m}.mp4"
                scenes.write_minute_clip(path, m, person=kind, seed=seed, seconds=args.seconds)
                clip = {"seed": seed, "minute": m, "kind": kind or "still", "person": bool(kind)}
                clip.update(first_pass(path, detector, floor))
                for spec, look in looks.items():  # every look on every clip (kept: the worker's decisions reuse it)
                    t0 = look.seconds
                    frames = look.look(path, clip["frames"], describe_min_score=floor)
                    clip[spec] = max((best_score(f.boxes) for f in frames), default=0.0)
                    clip[spec + ":s"] = look.seconds - t0
                clips.append(clip)
                scores = " ".join(f"{spec} {clip[spec]:.3f}" for spec in looks)
                print(f"seed {seed} minute {m:2d} {clip['kind']:<8} first {clip['score']:.3f} {scores}", flush=True)
        out = report(args, clips, looks, bands, floor, detector)
    print(json.dumps(out))


def report(args, clips: list[dict], looks: dict, bands: list[float], floor: float, detector) -> dict:
    first = [c["score"] for c in clips]
    out: dict = {
        "clips": len(clips),
        "seconds": args.seconds,
        "threshold": args.threshold,
        "person_share": args.person_share,
        "detector": detector.version,
        "margin_first": margin(clips, first),
        "first_tp_fp_fn": counts(clips, first, args.threshold),
        "first_detect_s_per_clip": round(statistics.mean(c["detect_s"] for c in clips), 4),
        "distant_first": [round(c["score"], 4) for c in clips if c["kind"] == "distant"],
        "looks": {},
    }
    print(
        f"\n{len(clips)} clips of {args.seconds:g} s, {detector.version} at threshold {args.threshold}: first pass "
        f"margin {out['margin_first']:+.3f}, tp/fp/fn {out['first_tp_fp_fn']}, detector "
        f"{out['first_detect_s_per_clip'] * 1000:.0f} ms a clip; distant person {out['distant_first']}"
    )
    out["first_pass"] = {}
    for band in bands:  # the same cameras without the second look: what the rules alone do
        for reviewed in (False, True):
            decided = worker(clips, None, threshold=args.threshold, band=band, floor=floor, reviewed=reviewed)
            key = f"band {band}" + (", after one review" if reviewed else "")
            final = [c["final"] for c in decided]
            out["first_pass"][key] = b = {
                "margin": margin(decided, final),
                "tp_fp_fn": counts(decided, final, args.threshold),
            }
            print(f"  first pass alone, {key}: margin {b['margin']:+.3f}, tp/fp/fn {b['tp_fp_fn']}")
    for spec, look in looks.items():
        every = [c[spec] for c in clips]
        row: dict = {
            "detector": look.version,
            "margin_every_clip": margin(clips, every),
            "tp_fp_fn_every_clip": counts(clips, every, args.threshold),
            "look_s_per_clip": round(statistics.mean(c[spec + ":s"] for c in clips), 4),
            "distant": [round(c[spec], 4) for c in clips if c["kind"] == "distant"],
            "still_max": round(max(c[spec] for c in clips if not c["person"]), 4),
            "worker": {},
        }
        print(
            f"\n{spec} ({look.version}): look {row['look_s_per_clip'] * 1000:.0f} ms a clip; on every clip margin "
            f"{row['margin_every_clip']:+.3f}, tp/fp/fn {row['tp_fp_fn_every_clip']}, best still "
            f"{row['still_max']:.3f}; distant person {row['distant']}"
        )
        for band in bands:
            for reviewed in (False, True):
                decided = worker(clips, look, threshold=args.threshold, band=band, floor=floor, reviewed=reviewed)
                final = [c["final"] for c in decided]
                share, cost = day_mix(decided, spec, args.person_share)
                key = f"band {band}" + (", after one review" if reviewed else "")
                row["worker"][key] = b = {
                    "looked": sum(c["looked"] for c in decided),
                    "clips": len(decided),
                    "margin": margin(decided, final),
                    "tp_fp_fn": counts(decided, final, args.threshold),
                    "day_share_looked": share,
                    "day_cost": cost,
                }
                print(
                    f"  {key}: {b['looked']} of {b['clips']} clips looked at, margin {b['margin']:+.3f}, tp/fp/fn "
                    f"{b['tp_fp_fn']}; a day ({args.person_share:.0%} person minutes): {share:.1%} of clips looked "
                    f"at, +{cost:.1%} detector time"
                )
        out["looks"][spec] = row
    return out


if __name__ == "__main__":
    main()
