"""The hnswlib peer of bench_search (tests/bench/bench_search.sh): the same vectors and
queries as zoomorph and faiss; an HNSW graph (Debian python3-hnswlib, L2, M 16,
ef_construction 200, random seed 100) built on one thread; the batch of queries (k = 10,
one thread) at each ef; recall@10 against zoomorph's exact neighbours (exact_ids.i64,
which the faiss peer checks against faiss's own exact search).
usage: bench_search_hnsw.py DIR N D EF[,...]"""
import sys, time, resource
import numpy as np
import hnswlib
from benchutil import best_of  # noqa: E402

d_, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
efs = [int(v) for v in sys.argv[4].split(',')]
K, M, EF_CONSTRUCTION = 10, 16, 200
x = np.fromfile(d_ + '/x.f32', dtype=np.float32).reshape(n, d)
q = np.fromfile(d_ + '/q.f32', dtype=np.float32).reshape(-1, d)
gt = np.fromfile(d_ + '/exact_ids.i64', dtype=np.int64).reshape(-1, K)
if len(gt) != len(q):
    sys.exit('bench_search_hnsw: %s/exact_ids.i64 has %d rows, expected %d (one per query)' % (d_, len(gt), len(q)))


rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
index = hnswlib.Index(space='l2', dim=d)
index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION, random_seed=100)
index.set_num_threads(1)
t0 = time.perf_counter()
index.add_items(x, np.arange(n), num_threads=1)
print('hnsw_build_s %.2f' % (time.perf_counter() - t0))
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print('hnsw_rss_mb_data %.0f' % rss0)
print('hnsw_rss_mb_peak %.0f' % rss1)
for ef in efs:
    index.set_ef(max(ef, K))
    t, (I, _) = best_of(lambda: index.knn_query(q, k=K, num_threads=1))
    rec = np.mean([len(set(a) & set(b)) / K for a, b in zip(I.astype(np.int64), gt)])
    print('hnsw ef %d qps %.1f recall %.4f' % (ef, len(q) / t, rec))
