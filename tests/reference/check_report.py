#!/usr/bin/env python3
"""Checks a zoomorph report (zoomorph report / zoomorph run) independently of zoomorph:
  - the HTML is well formed: every element closed in order (html.parser, void elements
    excepted), one <html>, <head>, <body>, no external reference (http:, https:, //);
  - every <img> refers to a file beside the page that exists and decodes as a PNG (PIL);
  - the sections named on the command line are there, and those that should have data
    (--with) show a figure or table rather than a "missing" note;
  - with --store, the mean absolute error per question in the votes table matches numpy
    on the store's votes and predictions (to 5e-4), and the summary table has a row per
    stage of /meta run_summary.
usage: check_report.py PAGE.html --sections a,b,c [--with a,b] [--store run.h5 --min-votes 3]
"""
import argparse, html.parser, os, sys

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.imgs, self.sections = [], [], [], {}
        self.current = None
        self.counts = {}
        self.rows, self.cells, self.in_cell, self.table_id = [], None, False, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for k in ("src", "href"):
            v = a.get(k) or ""
            if v.startswith(("http:", "https:", "//")):
                self.errors.append(f"external reference {v}")
        if tag == "section":
            self.current = a.get("id")
            self.sections[self.current] = {"img": 0, "missing": 0, "table": 0}
        if tag == "img":
            self.imgs.append(a.get("src"))
            if self.current:
                self.sections[self.current]["img"] += 1
        if tag in ("table", "pre") and self.current:  # a table, or a preformatted one
            self.sections[self.current]["table"] += 1
        if tag == "p" and a.get("class") == "missing" and self.current:
            self.sections[self.current]["missing"] += 1
        if tag == "tr":
            self.cells = []
        if tag in ("td", "th"):
            self.in_cell = True
            self.cells.append("")
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> at line {self.getpos()[0]} closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag == "section":
            self.current = None
        if tag in ("td", "th"):
            self.in_cell = False
        if tag == "tr" and self.cells is not None:
            self.rows.append((self.current, self.cells))
            self.cells = None

    def handle_data(self, data):
        if self.in_cell and self.cells:
            self.cells[-1] += data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--sections", required=True)
    ap.add_argument("--with", dest="with_", default="")
    ap.add_argument("--store")
    ap.add_argument("--min-votes", type=int, default=3)
    o = ap.parse_args()
    from PIL import Image
    p = Page()
    p.feed(open(o.page, encoding="utf-8").read())
    p.close()
    bad = list(p.errors)
    if p.stack:
        bad.append(f"unclosed elements: {p.stack}")
    for t in ("html", "head", "body", "title"):
        if p.counts.get(t) != 1:
            bad.append(f"<{t}> appears {p.counts.get(t, 0)} times")
    base = os.path.dirname(os.path.abspath(o.page))
    for src in p.imgs:
        path = os.path.join(base, src)
        try:
            with Image.open(path) as im:
                assert im.format == "PNG", im.format
                im.load()
                assert im.size[0] > 10 and im.size[1] > 10, im.size
        except Exception as e:  # noqa: BLE001 (any failure to decode is the finding)
            bad.append(f"image {src}: {e}")
    for s in o.sections.split(","):
        if s not in p.sections:
            bad.append(f"section {s} missing")
    for s in filter(None, o.with_.split(",")):
        d = p.sections.get(s)
        if not d or d["missing"] or not (d["img"] or d["table"]):
            bad.append(f"section {s} has no data: {d}")
    if o.store:
        import h5py, numpy as np
        f = h5py.File(o.store, "r")
        summary = f["meta"].attrs["run_summary"].decode().strip().split("\n")
        rows = [c for sec, c in p.rows if sec == "summary" and c[0] != "stage"]
        if [r[0] for r in rows] != [l.split("\t")[0] for l in summary]:
            bad.append(f"summary rows {[r[0] for r in rows]} vs run_summary {summary}")
        if "votes" in filter(None, o.with_.split(",")):
            k = f["labels/votes"][:].astype(np.float64)
            fr = f["predictions/vote_fraction"][:].astype(np.float64)
            has = f["labels/has_votes"][:].astype(bool)
            cols = f["labels/votes"].attrs["columns"].decode().split(",")
            table = {c[0]: c for sec, c in p.rows if sec == "votes" and c[0] != "question"}
            questions = []
            for c in cols:
                q = c.rsplit("_", 1)[0]
                if q not in questions:
                    questions.append(q)
            worst = 0
            for q in questions:
                idx = [i for i, c in enumerate(cols) if c.rsplit("_", 1)[0] == q]
                tot = k[:, idx].sum(1)
                ok = has & (tot >= o.min_votes) & np.isfinite(fr[:, idx[0]])
                n = int(ok.sum())
                if q not in table or int(table[q][1]) != n:
                    bad.append(f"votes table {q}: {table.get(q)}, numpy counts {n} galaxies")
                    continue
                if n:
                    mae = np.abs(k[ok][:, idx] / tot[ok, None] - fr[ok][:, idx]).mean()
                    worst = max(worst, abs(mae - float(table[q][2])))
            print(f"votes table: {len(questions)} questions, worst |MAE - numpy| = {worst:.2e}")
            if worst > 5e-4:
                bad.append(f"mean absolute error differs from numpy by {worst}")
    if bad:
        print("FAIL:\n  " + "\n  ".join(bad))
        sys.exit(1)
    print(f"report {o.page}: well formed, {len(p.imgs)} images decode, sections {sorted(p.sections)}")


main()
