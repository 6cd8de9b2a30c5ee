#!/bin/bash
# `zoomorph report`: a small run with pretraining (2 epochs) ends with the report; the
# page is well formed, every image beside it decodes, every section is there with data
# (the votes table's errors match numpy on the store); a store with only stamps gives a
# page whose other sections say what is missing; an unwritable page names its key. Then,
# where Debian's chromium is installed, a real browser opens the page headless: every
# image loads (naturalWidth > 0, checked by a script in a copy of the page), a page with
# one broken image is caught, and a screenshot is saved (build/tmp/e2e_report/*.png).
set -euo pipefail
source "$ZM_SOURCE_DIR/tests/e2e/lib.sh"
work=$(zt_workdir report)
cd "$work"
export OPENBLAS_NUM_THREADS=1
cfg=(-c "$ZM_SOURCE_DIR/config/demo.ini" --set simulate.bricks=2 --set simulate.galaxies_per_brick=40
     --set simulate.brick_size=1200 --set anomaly.evaluate= --set run.pretrain=true --set embed.weights=
     --set model.output="$work/model.h5" --set train.epochs=2 --set train.batch=16 --set train.micro_batch=8
     --set report.top_n=16)
zt_mpi 2 run "${cfg[@]}" > run.log 2>&1 || { cat run.log; exit 1; }
grep -qE "^  pretrain +ran " run.log
grep -q "report:    demo-report.html" run.log
# a learning curve (a made-up label with test rows: the small survey's rings have none)
# and a benchmark table join the page
$ZM_PYTHON - <<'PY'
import h5py
f = h5py.File("demo.h5", "r")
with open("lc.csv", "w") as o:
    o.write("ra,dec,ring,split\n")
    for i, (a, b) in enumerate(zip(f["galaxies/ra"][:], f["galaxies/dec"][:])):
        o.write(f"{a!r},{b!r},{int(i % 3 == 0)},{'test' if i % 4 == 0 else 'train'}\n")
PY
zt_mpi 2 finetune "${cfg[@]}" --learning-curve lc.csv --set finetune.lc_methods=frozen --set finetune.lc_sizes=10,20 \
  --set finetune.lc_seeds=1 --set finetune.lc_steps=20 > lc.log 2>&1 || { cat lc.log; exit 1; }
printf '| case | zoomorph | peer | ratio |\n|---|---|---|---|\n| a <benchmark> | 2.0 | 1.0 | 2.00 |\n' > bench.md
zt_mpi 1 report "${cfg[@]}" --set report.benchmarks="$work/bench.md" > report.log 2>&1 || { cat report.log; exit 1; }
grep -q '^| a &lt;benchmark&gt; | 2.0' demo-report.html
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/check_report.py" demo-report.html \
  --sections summary,stamps,pretrain,votes,similar,anomaly,finetune,learning-curve,benchmarks,catalogue \
  --with stamps,pretrain,votes,similar,anomaly,finetune,learning-curve,benchmarks,catalogue --store demo.h5
test -s demo-report_files/pretrain-loss.png -a -s demo-report_files/anomalies.png -a -s demo-report_files/learning-curve.png
# only stamps: the other sections say what is missing
mkdir bare && cd bare
cp -r ../demo-survey .
zt_mpi 2 run "${cfg[@]}" --set run.simulate=false --only plan,cutout,report > run.log 2>&1 || { cat run.log; exit 1; }
$ZM_PYTHON "$ZM_SOURCE_DIR/tests/reference/check_report.py" demo-report.html \
  --sections summary,stamps,pretrain,votes,similar,anomaly,finetune,catalogue --with stamps
test "$(grep -c 'class="missing"' demo-report.html)" -ge 6
echo "ok: a store with stamps only: the other sections say what is missing"
set +e
zt_mpi 1 report "${cfg[@]}" --set report.path=/nonexistent/dir/r.html > bad.log 2>&1; rc=$?
set -e
zt_expect_rc 1 $rc bad.log "config key [report] path: cannot create the figures' folder /nonexistent/dir/r_files"
cd "$work"

if ! command -v chromium > /dev/null; then
  echo "e2e report: ok (the browser check skipped: Debian's chromium is not installed; apt-get install chromium)"
  exit 0
fi
# a copy of the page with a script that reports, in the DOM, how many images loaded
probe() {  # probe PAGE OUT.html: copy with the script, in the same folder (relative paths)
  sed 's|</body>|<script>window.addEventListener("load",function(){var ok=0,bad=[];for(const i of document.images){if(i.complete\&\&i.naturalWidth>0)ok++;else bad.push(i.getAttribute("src"));}var p=document.createElement("pre");p.id="probe";p.textContent="IMAGES "+ok+" OK "+bad.length+" BROKEN "+bad.join(" ");document.body.appendChild(p);});</script></body>|' "$1" > "$2"
}
browse() {  # browse PAGE: the DOM after load
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=15000 \
    --dump-dom "file://$work/$1" 2> chromium.log
}
probe demo-report.html probe.html
nimg=$(grep -o '<img ' demo-report.html | wc -l)
browse probe.html > dom.html
grep -q "IMAGES $nimg OK 0 BROKEN" dom.html || { echo "FAIL: images did not all load in chromium"; grep -o 'IMAGES[^<]*' dom.html; tail chromium.log; exit 1; }
for s in summary stamps pretrain votes similar anomaly finetune learning-curve benchmarks catalogue; do
  grep -q "<section id=\"$s\"" dom.html || { echo "FAIL: section $s not in the browser's DOM"; exit 1; }
done
echo "ok: chromium loaded all $nimg images of the report"
# the check can fail: one image removed
sed 's|demo-report_files/stamps.png|demo-report_files/no-such.png|' demo-report.html > broken.html
probe broken.html probe-broken.html
browse probe-broken.html > dom-broken.html
grep -q "IMAGES $((nimg - 1)) OK 1 BROKEN demo-report_files/no-such.png" dom-broken.html || {
  echo "FAIL: the broken image was not caught"; grep -o 'IMAGES[^<]*' dom-broken.html; exit 1; }
echo "ok: a broken image is caught"
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --window-size=1200,3000 --screenshot="$work/report-screenshot.png" "file://$work/demo-report.html" 2>> chromium.log
$ZM_PYTHON - "$work/report-screenshot.png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
colours = len(set(im.resize((300, 750)).getdata()))
assert im.size == (1200, 3000) and colours > 50, (im.size, colours)
print(f"ok: screenshot {sys.argv[1]} ({im.size[0]}x{im.size[1]}, {colours} colours)")
PY
echo "e2e report: ok"
