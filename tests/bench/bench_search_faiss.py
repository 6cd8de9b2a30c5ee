"""The faiss peer of bench_search (tests/bench/bench_search.sh): the same vectors and
queries, one thread, IndexFlatL2 and IndexIVFFlat (same nlist, 10 k-means iterations,
same nprobe values); recall@10 against faiss's own exact search; and how often
zoomorph's exact neighbours agree with faiss's.
usage: bench_search_faiss.py DIR N D NLIST NPROBE[,...]"""
import sys, time, resource
import numpy as np
import faiss
from benchutil import best_of  # noqa: E402

d_, n, d, nlist = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
nprobes = [int(v) for v in sys.argv[5].split(',')]
faiss.omp_set_num_threads(1)
x = np.fromfile(d_ + '/x.f32', dtype=np.float32).reshape(n, d)
q = np.fromfile(d_ + '/q.f32', dtype=np.float32).reshape(-1, d)
K = 10


flat = faiss.IndexFlatL2(d)
flat.add(x)
t, (_, gt) = best_of(lambda: flat.search(q, K))
print('faiss_flat_qps %.1f' % (len(q) / t))
ours = np.fromfile(d_ + '/exact_ids.i64', dtype=np.int64).reshape(-1, K)
agree = np.mean([len(set(a) & set(b)) / K for a, b in zip(ours, gt)])
print('exact_agreement %.4f' % agree)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
quant = faiss.IndexFlatL2(d)
ivf = faiss.IndexIVFFlat(quant, d, nlist)
ivf.cp.niter = 10
ivf.cp.seed = 1
t0 = time.perf_counter()
ivf.train(x)
ivf.add(x)
print('faiss_ivf_build_s %.2f' % (time.perf_counter() - t0))
print('faiss_rss_mb_peak %.0f' % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
for p in nprobes:
    ivf.nprobe = p
    t, (_, I) = best_of(lambda: ivf.search(q, K))
    rec = np.mean([len(set(a) & set(b)) / K for a, b in zip(I, gt)])
    print('faiss_ivf nprobe %d qps %.1f recall %.4f' % (p, len(q) / t, rec))
