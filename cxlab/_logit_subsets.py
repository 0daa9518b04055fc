"""All-subsets logistic regression: the engine of logistic dominance analysis in cxlab.drivers.

Exact general dominance of a pseudo-R² (Azen & Traxel 2009) needs the maximised log-likelihood
ℓ(S) of the logistic model on every subset S of the 2^p players. statsmodels fits one model per
call (2^p Python-level fits); no maintained library fits all subsets at once, so it is written
here, in numpy, as:

1. **Pattern table.** Identical rows (drivers and outcome) are merged, their weights summed —
   exact, since ℓ is a weighted sum over rows. Survey ratings often collapse a lot; when they do
   not, nothing is lost.
2. **Batched Newton steps.** The subsets of one size are fitted together: their coefficients are
   an m × b matrix (m = columns + intercept) with zeros for absent columns, so one BLAS product
   gives every linear predictor (K × b), one the gradients ``X'w(y − μ)`` and one the Hessians
   of all column pairs ``Q'(w μ(1−μ))`` (Q: products of column pairs). The Hessian only steers the
   step and is formed in single precision when the drivers are well conditioned; gradient and
   ℓ are double, so the optimum is the same.
3. **Warm starts from nested models.** β(S) starts at β(S−i) + β(S−j) − β(S−i−j), the
   second-order inclusion–exclusion of the nested fits already made (i, j: two players of S).
4. **Stopping on the Newton decrement** λ² = g'H⁻¹g ≤ ``tol``·|ℓ0|, reporting
   ℓ̂ = ℓ(β) + λ²/2 (the quadratic model's maximum; error O(λ³)); step halving when ℓ falls.

The subsets of a size are split into chunks processed on up to two threads (numpy and BLAS
release the GIL); BLAS itself is kept to one thread meanwhile.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Newton decrement (relative to |ℓ0|) below which a fit counts as converged.
DECREMENT_TOL = 1e-9
MAX_ITER = 100
#: Columns of the linear predictor per batch: K × b doubles should stay in cache.
_BATCH_CELLS = 400_000


def single_blas_thread():
    """Context keeping BLAS to one thread (threadpoolctl, installed with scikit-learn). On a
    shared 2-core machine a multi-threaded BLAS on many small products spins more than it
    computes (a 16 x 10,000 by 10,000 x 231 product: 0.01 s on one thread, 0.6 s on two)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:         # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _threads() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:          # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(2, n))


class LogitSubsets:
    """Maximised log-likelihoods of logistic models on subsets of players.

    ``X`` (n × q) drivers in player order, ``y`` 0/1, ``w`` case weights (> 0), ``sizes``
    columns per player. Weights are normalised to sum to n (as the pseudo-R² use n).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, sizes, threads=None):
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        w = np.asarray(w, float)
        self.n = float(len(w))
        w = w * (self.n / w.sum())
        self.sizes = list(sizes)
        self.p = len(self.sizes)
        self.owner = np.repeat(np.arange(self.p), self.sizes)
        # pattern table: identical (x, y) rows merged, weights summed
        Zr = np.column_stack([X, y])
        uniq, inv = np.unique(Zr, axis=0, return_inverse=True)
        if len(uniq) < 0.9 * len(Zr):
            X, y = uniq[:, :-1], uniq[:, -1]
            w = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
        self.K = len(w)
        mu_x = (w @ X) / self.n
        sd = np.sqrt((w @ (X - mu_x) ** 2) / self.n)
        sd[sd == 0] = 1.0
        X1 = np.column_stack([np.ones(self.K), (X - mu_x) / sd])
        self.m = X1.shape[1]
        self.X1 = np.ascontiguousarray(X1)
        self.Xwt = np.ascontiguousarray((X1 * w[:, None]).T)          # m × K
        self.c = self.Xwt @ y                                         # X'(w y)
        self.a = w * (1 - y)                                          # ℓ = −a'η − w'log1p(e^−η)
        self.w = w
        f4 = np.float32
        self.X1_32, self.Xwt_32 = self.X1.astype(f4), self.Xwt.astype(f4)
        self.a32, self.w32 = self.a.astype(f4), w.astype(f4)
        self.iu, self.ju = np.triu_indices(self.m)
        Qt = (X1[:, self.iu] * X1[:, self.ju] * w[:, None]).T
        G = self.Xwt @ X1
        lam = np.linalg.eigvalsh(G[1:, 1:]) if self.m > 1 else np.ones(1)
        single = lam[0] > 1e-4 * lam[-1]          # well conditioned: float32 Hessians suffice
        self.Qwt = np.ascontiguousarray(Qt, dtype=np.float32 if single else float)
        self.single = single
        ybar = float(w @ y) / self.n
        self.ybar = ybar
        self.ll0 = self.n * (ybar * np.log(ybar) + (1 - ybar) * np.log(1 - ybar))
        self.b0 = np.log(ybar / (1 - ybar))
        self.tol = DECREMENT_TOL * abs(self.ll0)
        self.threads = _threads() if threads is None else int(threads)
        self.max_abs_beta = 0.0
        self.not_converged = 0
        self._cache: dict[int, tuple[np.ndarray, float]] = {}

    # ------------------------------------------------------------------ masks and columns

    def column_mask(self, masks: np.ndarray) -> np.ndarray:
        """(b, m) booleans: intercept and the columns of the players in each bitmask."""
        masks = np.asarray(masks, np.int64)
        cols = ((masks[:, None] >> self.owner[None, :]) & 1).astype(bool)
        return np.column_stack([np.ones(len(masks), bool), cols])

    # ------------------------------------------------------------------ Newton on a batch

    def _loglik(self, neta: np.ndarray, E: np.ndarray, single: bool = False) -> np.ndarray:
        """ℓ per column, given −η and E = exp(−η): ℓ = −a'η − w'log1p(E), a = w(1 − y)."""
        a, w = (self.a32, self.w32) if single else (self.a, self.w)
        ll = (a @ neta - w @ np.log1p(E)).astype(float)
        bad = ~np.isfinite(ll)
        if bad.any():                                 # η < −709 somewhere: the stable form
            nb = neta[:, bad].astype(float)
            ll[bad] = self.a @ nb - self.w @ np.logaddexp(0.0, nb)
        return ll

    def fit(self, M: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maximum likelihood for column masks ``M`` (b, m) from starting values ``beta``.

        Returns (β (b, m), ℓ̂ (b,)). Absent columns keep coefficient 0.
        """
        b = len(M)
        step = max(1, int(_BATCH_CELLS // max(self.K, 1)))
        chunks = [slice(s, min(s + step, b)) for s in range(0, b, step)]
        beta = np.where(M, beta, 0.0)
        out_b = np.empty_like(beta)
        out_l = np.empty(b)

        def run(sl):
            H = None
            b1 = beta[sl]
            if self.single:        # single-precision iterations, then double to finish
                b1, _, H, _ = self._fit_chunk(M[sl], b1, 10 * self.tol, single=True)
            out_b[sl], out_l[sl], _, failed = self._fit_chunk(M[sl], b1, self.tol, H=H)
            return failed

        with single_blas_thread():
            if self.threads > 1 and len(chunks) > 1:
                with ThreadPoolExecutor(self.threads) as ex:
                    failed = sum(ex.map(run, chunks))
            else:
                failed = sum(run(sl) for sl in chunks)
        self.not_converged += failed
        self.max_abs_beta = max(self.max_abs_beta, float(np.abs(out_b[:, 1:]).max(initial=0)))
        return out_b, out_l

    def _hessians(self, V: np.ndarray, M: np.ndarray) -> np.ndarray:
        """Hessians (a, m, m) from V = μ(1 − μ) (K × a); absent columns get an identity block."""
        m = self.m
        Hp = (self.Qwt @ V.astype(self.Qwt.dtype, copy=False)).T.astype(float)
        H = np.empty((len(M), m, m))
        H[:, self.iu, self.ju] = Hp
        H[:, self.ju, self.iu] = Hp
        H *= M[:, :, None] & M[:, None, :]
        H[:, np.arange(m), np.arange(m)] += ~M
        return H

    def _fit_chunk(self, M: np.ndarray, beta: np.ndarray, tol: float, H=None,
                   single: bool = False):
        """Newton iterations for one batch until the decrement is ≤ ``tol``. The Hessian is
        recomputed at the start (unless ``H`` is given) and whenever the decrement did not fall
        tenfold (else the previous one is reused: a chord step). ``single``: linear predictors,
        μ and gradients in float32 (half the memory traffic) — used to get close; the final
        iterations, ℓ and the decrement are always double. Returns (β, ℓ̂, H, number of fits
        that did not converge)."""
        b, m = M.shape
        dt = np.float32 if single else np.float64
        X1, Xwt = (self.X1_32, self.Xwt_32) if single else (self.X1, self.Xwt)
        rel = 1e-5 if single else 1e-12          # ℓ noise of the precision used
        beta = beta.copy()
        ll_out = np.full(b, np.nan)
        beta_out = beta.copy()
        ll_prev = np.full(b, -np.inf)
        dec_prev = np.full(b, np.inf)
        step_prev = np.zeros((b, m))
        fresh = np.full(b, H is None)            # Hessian to be recomputed at this iterate
        H = np.zeros((b, m, m)) if H is None else H.copy()
        halvings = np.zeros(b, int)
        act = np.arange(b)
        failed = 0
        for it in range(MAX_ITER):
            neta = X1 @ (-beta[act].T).astype(dt)                # −η, K × a
            with np.errstate(over="ignore"):        # e^−η = inf: μ = 0, ℓ by the stable form
                E = np.exp(neta)
            ll = self._loglik(neta, E, single)
            np.add(E, 1.0, out=E)
            np.reciprocal(E, out=E)                              # μ
            worse = (ll < ll_prev[act] - rel * np.abs(ll_prev[act])) & (halvings[act] < 40)
            need = fresh[act] & ~worse
            if need.any():
                Ma = M[act[need]]
                mu = E[:, need]
                H[act[need]] = self._hessians(mu - mu * mu, Ma)
            g = (self.c[:, None] - Xwt @ E).T * M[act]            # a × m
            Ha = H[act]
            try:
                st = np.linalg.solve(Ha, g[..., None])[..., 0]
            except np.linalg.LinAlgError:
                st = _safe_solve(Ha, g)
            dec = np.einsum("ij,ij->i", g, st)
            # a step that lowered ℓ: halve it and evaluate again (with a fresh Hessian)
            wi = act[worse]
            if len(wi):
                step_prev[wi] *= 0.5
                beta[wi] -= step_prev[wi]
                halvings[wi] += 1
                fresh[wi] = True
            ok = ~worse
            last = it == MAX_ITER - 1
            conv = ok & ((dec <= tol) | last)
            ci = act[conv]
            beta_out[ci] = beta[ci] + st[conv]
            ll_out[ci] = ll[conv] + 0.5 * dec[conv]
            if last:
                failed = int(((dec > tol) & ok).sum() + worse.sum())
                wi2 = act[worse]
                beta_out[wi2] = beta[wi2]
                ll_out[wi2] = ll[worse]
                break
            move = ok & ~conv
            mi = act[move]
            fresh[mi] = dec[move] > 0.1 * dec_prev[mi]          # slow: recompute the Hessian
            dec_prev[mi] = dec[move]
            ll_prev[mi] = ll[move]
            step_prev[mi] = st[move]
            beta[mi] += st[move]
            halvings[mi] = 0
            act = act[~conv]
            if len(act) == 0:
                break
        return beta_out, ll_out, H, failed

    # ------------------------------------------------------------------ all subsets / some

    def all_subsets(self) -> np.ndarray:
        """ℓ̂ of every subset of players, indexed by bitmask (bit j set = player j in)."""
        p = self.p
        P = 1 << p
        masks = np.arange(P, dtype=np.int64)
        pc = np.zeros(P, np.int64)
        for j in range(p):
            pc += (masks >> j) & 1
        beta = np.zeros((P, self.m))
        beta[0, 0] = self.b0
        ll = np.empty(P)
        ll[0] = self.ll0
        for k in range(1, p + 1):
            ms = masks[pc == k]
            init = self._warm(ms, beta)
            b, l_ = self.fit(self.column_mask(ms), init)
            beta[ms] = b
            ll[ms] = l_
        return ll

    @staticmethod
    def _warm(ms: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """β(S−i) + β(S−j) − β(S−i−j) for the highest two players i, j of S (β(S−i) alone when
        |S| = 1)."""
        top = np.floor(np.log2(ms)).astype(np.int64)
        hi = np.int64(1) << top
        rest = ms - hi
        has2 = rest > 0
        top2 = np.where(has2, np.floor(np.log2(np.maximum(rest, 1))).astype(np.int64), 0)
        hi2 = np.where(has2, np.int64(1) << top2, 0)
        init = beta[ms - hi].copy()
        init[has2] += beta[(ms - hi2)[has2]] - beta[(ms - hi - hi2)[has2]]
        return init

    def prefix_loglik(self, perms: np.ndarray) -> np.ndarray:
        """ℓ̂ of every prefix of each player order in ``perms`` (N × p) as an N × (p+1) array
        (column k: the first k players). Prefixes are fitted level by level, each started from
        its parent prefix's coefficients; fits are cached by bitmask across calls."""
        perms = np.asarray(perms, np.int64)
        N, p = perms.shape
        pre = np.concatenate([np.zeros((N, 1), np.int64),
                              np.cumsum(np.int64(1) << perms, axis=1)], axis=1)
        out = np.empty((N, p + 1))
        out[:, 0] = self.ll0
        parent = np.zeros((N, self.m))
        parent[:, 0] = self.b0
        cache = self._cache
        if len(cache) > 400_000:
            cache.clear()
        for k in range(1, p + 1):
            uniq, first, inv = np.unique(pre[:, k], return_index=True, return_inverse=True)
            todo = np.array([u not in cache for u in uniq.tolist()], bool)
            if todo.any():
                b, ll = self.fit(self.column_mask(uniq[todo]), parent[first[todo]])
                for u, bb, lv in zip(uniq[todo].tolist(), b, ll):
                    cache[u] = (bb, lv)
            got = [cache[u] for u in uniq.tolist()]
            out[:, k] = np.array([g[1] for g in got])[inv.ravel()]
            parent = np.array([g[0] for g in got])[inv.ravel()]
        return out

    def values(self, masks: np.ndarray) -> np.ndarray:
        """ℓ̂ for the given bitmasks (fitted from the null model's coefficients)."""
        masks = np.asarray(masks, np.int64)
        out = np.empty(len(masks))
        zero = masks == 0
        out[zero] = self.ll0
        if (~zero).any():
            init = np.zeros(((~zero).sum(), self.m))
            init[:, 0] = self.b0
            _, out[~zero] = self.fit(self.column_mask(masks[~zero]), init)
        return out


def _safe_solve(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve each system, least squares where singular."""
    out = np.empty_like(g)
    for i in range(len(H)):
        try:
            out[i] = np.linalg.solve(H[i], g[i])
        except np.linalg.LinAlgError:
            out[i] = np.linalg.lstsq(H[i], g[i], rcond=None)[0]
    return out
