#!/usr/bin/env bash
# Issue 5's training figures on a GPU machine, in one go: a 20-photo 800-step clone, the
# trainer's steps per second at 512 px on an SD 1.5-shaped model (with each `Acceleration`
# choice flipped, and against the plain diffusers-style loop), the committed trainer as the
# "before" figure. JSON and the log go to $OUT.
#
#     OUT=gpu-out bench/gpu_check.sh        # from the repository root, on the GPU machine
#
# For a machine whose python3 has torch, peft and transformers but not diffusers, put wheels
# in .whl/ first (installed under /tmp/site). For the "before" figure, put the committed code
# in .gpu/baseline: `mkdir -p .gpu/baseline && git archive HEAD portrait bench | tar -x -C
# .gpu/baseline`. Nothing is downloaded.
set -u -o pipefail
OUT=${OUT:-gpu-out}
MODEL=${MODEL:-/tmp/sitter-sd15}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MODEL
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi

# `measure STEPS`: the trainer's figures over STEPS steps at 512 px, as JSON, from this tree
# or, with FIRST=folder, from the code in that folder (whose bench may count its rate from
# another step, hence the rate is counted here, as bench.train does now).
cat >/tmp/sitter_measure.py <<'PY'
import json, sys, time
from portrait.engine.training import TrainingConfig, train_lora
from bench.train import synthetic_photos
stamps = []
started = time.perf_counter()
result = train_lora(
    sys.argv[1], synthetic_photos(4), TrainingConfig(steps=int(sys.argv[2]), resolution=512),
    progress=lambda *_: stamps.append(time.perf_counter()),
)
print(json.dumps({
    "steps_per_s": (len(stamps) - 5) / (stamps[-1] - stamps[4]),
    "to_first_step_s": stamps[0] - started,
    "seconds": time.perf_counter() - started,
    "final_loss": result.final_loss,
}))
PY
measure() { PYTHONPATH=${FIRST:-$PWD}:${PYTHONPATH:-} python3 /tmp/sitter_measure.py "$MODEL" "$@"; }

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
        --format=csv
    python3 -c 'import sys, torch, diffusers, peft, transformers
print(sys.version.split()[0], "torch", torch.__version__, "diffusers", diffusers.__version__,
      "peft", peft.__version__, "transformers", transformers.__version__)'
    echo "== building the SD 1.5-shaped model"
    time python3 -c "from portrait.engine.tiny import build_full_sd15; build_full_sd15('$MODEL')"

    echo "== clone: 20 photos, 800 steps"
    python3 -m bench.train --json --tiny-steps 0 --sd15-steps 0 --clone --model-dir "$MODEL" \
        | tee "$OUT/clone.json"

    echo "== steps per second at 512 px: each acceleration flipped, fp32, the plain loop"
    python3 -m bench.train --json --tiny-steps 0 --sd15-steps 60 --model-dir "$MODEL" \
        --ablate cuda_graph channels_last | tee "$OUT/sd15.json"

    if [ -d .gpu/baseline ]; then
        echo "== before: the committed trainer"
        FIRST=$PWD/.gpu/baseline measure 60 | tee "$OUT/before.json"
    fi

    echo "== summary"
    python3 - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def read(name):
    path = out / f"{name}.json"
    lines = path.read_text().split("\n") if path.is_file() else []
    lines = [line for line in lines if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}
sd15, clone, before = (read(name) for name in ("sd15", "clone", "before"))
print("device:", sd15.get("device") or clone.get("device"))
runs = {**sd15.get("sd15", {}), "before (committed)": before}
for name, run in runs.items():
    if isinstance(run, dict) and run.get("steps_per_s"):
        line = f"  {name:<24} {run['steps_per_s']:7.2f} steps/s, {run['seconds']:6.1f} s in all"
        if "to_first_step_s" in run:
            line += f", first step after {run['to_first_step_s']:5.1f} s"
        if "adapter_rel_diff" in run:
            line += f", adapter off by {run['adapter_rel_diff']:.1e}"
        print(line)
if clone.get("clone"):
    c = clone["clone"]
    print(f"  clone, {c['photos']} photos, {c['steps']} steps: {c['seconds']:.1f} s "
          f"({c['steps_per_s']:.1f} steps/s, first step after {c['to_first_step_s']:.1f} s)")
PY
} 2>&1 | tee "$OUT/log"
