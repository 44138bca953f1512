"""Compiled inner loops of the ROS2 steps (rosenbrock.py): one step is a handful of 8x8 operations,
so in numpy each step pays ~20 calls' overhead (~50 us) for ~1 us of arithmetic; compiled with
numba (already a project dependency for the PTU decoder) the same step costs about a microsecond.

The arithmetic is rosenbrock.py's, operation for operation: the Jacobian of the pair term is
assembled from the process list (stoichiometry x rate constant, donor and acceptor levels), the
W matrix I - gamma h J is LU-factorised with partial pivoting once per step and every stage (and
every column of the variational stages) is a solve with that factorisation.
"""
from __future__ import annotations

import math

import numba
import numpy as np

#: status codes of the kernels (rosenbrock.py turns them into exceptions with a message)
OK, SINGULAR, TOO_MANY_STEPS = 0, 1, 2


@numba.njit(cache=True)
def _rhs(y, matrix, stoich_k, donor, acceptor, out):  # noqa: ANN001, ANN202 (numba kernel)
    n = y.shape[0]
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += matrix[i, j] * y[j]
        out[i] = total
    for p in range(donor.shape[0]):
        rate = y[donor[p]] * y[acceptor[p]]
        for i in range(n):
            out[i] += stoich_k[i, p] * rate


@numba.njit(cache=True)
def _pair_jacobian(v, stoich_k, donor, acceptor, out):  # noqa: ANN001, ANN202
    """d/dy of the pair term at v (bilinear: also d/dy [J(y) w] contracted with v)."""
    n = v.shape[0]
    out[:, :] = 0.0
    for p in range(donor.shape[0]):
        d, a = donor[p], acceptor[p]
        va, vd = v[a], v[d]
        for i in range(n):
            out[i, d] += stoich_k[i, p] * va
            out[i, a] += stoich_k[i, p] * vd


@numba.njit(cache=True)
def _lu(a, piv):  # noqa: ANN001, ANN202
    """In-place LU with partial pivoting (LAPACK's row-interchange convention); False if singular."""
    n = a.shape[0]
    for k in range(n):
        p = k
        largest = abs(a[k, k])
        for i in range(k + 1, n):
            if abs(a[i, k]) > largest:
                largest = abs(a[i, k])
                p = i
        if largest == 0.0 or not math.isfinite(largest):
            return False
        piv[k] = p
        if p != k:
            for j in range(n):
                a[k, j], a[p, j] = a[p, j], a[k, j]
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            factor = a[i, k]
            for j in range(k + 1, n):
                a[i, j] -= factor * a[k, j]
    return True


@numba.njit(cache=True)
def _solve(lu, piv, b):  # noqa: ANN001, ANN202
    """Solve in place with a factorisation from _lu."""
    n = b.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            b[k], b[p] = b[p], b[k]
    for i in range(n):
        for j in range(i):
            b[i] -= lu[i, j] * b[j]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            b[i] -= lu[i, j] * b[j]
        b[i] /= lu[i, i]


@numba.njit(cache=True)
def _factor_w(jac, gamma_h, w, piv):  # noqa: ANN001, ANN202
    n = jac.shape[0]
    for i in range(n):
        for j in range(n):
            w[i, j] = -gamma_h * jac[i, j]
        w[i, i] += 1.0
    return _lu(w, piv)


@numba.njit(cache=True)
def _stages(y, h, gamma, matrix, stoich_k, donor, acceptor, jac, w, piv, k1, k2, mid, scratch):  # noqa: ANN001, ANN202
    """k1, k2 of one ROS2 step from y (jac = J(y) filled, w/piv its factorised W); False if W is singular."""
    n = y.shape[0]
    _pair_jacobian(y, stoich_k, donor, acceptor, jac)
    for i in range(n):
        for j in range(n):
            jac[i, j] += matrix[i, j]
    if not _factor_w(jac, gamma * h, w, piv):
        return False
    _rhs(y, matrix, stoich_k, donor, acceptor, k1)
    _solve(w, piv, k1)
    for i in range(n):
        mid[i] = y[i] + h * k1[i]
    _rhs(mid, matrix, stoich_k, donor, acceptor, scratch)
    for i in range(n):
        k2[i] = scratch[i] - 2.0 * k1[i]
    _solve(w, piv, k2)
    return True


@numba.njit(cache=True)
def adaptive_grid_kernel(y0, matrix, stoich_k, donor, acceptor, length_s, first_step_s, gamma, rtol, atol,  # noqa: ANN001, ANN201, E501
                         max_growth, min_shrink, max_steps):
    """Step end points chosen by local error control (rosenbrock.adaptive_grid): (status, ends, states)."""
    n = y0.shape[0]
    y = y0.copy()
    jac, w = np.empty((n, n)), np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    k1, k2, mid, scratch = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    capacity = 64
    ends = np.empty(capacity)
    states = np.empty((capacity, n))
    count = 0
    t, h = 0.0, min(first_step_s, length_s)
    attempts = 0
    while length_s - t > 1e-12 * length_s:
        attempts += 1
        if attempts > max_steps:
            return TOO_MANY_STEPS, ends[:count], states[:count]
        h = min(h, length_s - t)
        if not _stages(y, h, gamma, matrix, stoich_k, donor, acceptor, jac, w, piv, k1, k2, mid, scratch):
            return SINGULAR, ends[:count], states[:count]
        error = 0.0
        finite = True
        for i in range(n):
            e = abs(0.5 * h * (k1[i] + k2[i])) / (atol + rtol * abs(y[i]))
            if not math.isfinite(e):
                finite = False
            elif e > error:
                error = e
        if not finite:               # a step far too long for a fast transient
            h *= min_shrink
            continue
        factor = 0.9 / math.sqrt(max(error, 1e-12))
        if error > 1.0 and h > 1e-9:
            h *= max(min_shrink, factor)
            continue
        for i in range(n):
            y[i] += h * (1.5 * k1[i] + 0.5 * k2[i])
        t += h
        if count == capacity:
            capacity *= 2
            grown_ends = np.empty(capacity)
            grown_states = np.empty((capacity, n))
            grown_ends[:count] = ends[:count]
            grown_states[:count] = states[:count]
            ends, states = grown_ends, grown_states
        ends[count] = t
        states[count] = y
        count += 1
        h *= min(max_growth, max(min_shrink, factor))
    ends[count - 1] = length_s
    return OK, ends[:count], states[:count]


@numba.njit(cache=True)
def run_segment_kernel(y0, matrix, stoich_k, donor, acceptor, grid, gamma, with_jacobian):  # noqa: ANN001, ANN201
    """Advance y0 over the step end points ``grid`` (rosenbrock.run_segment): (status, states, phi)."""
    n = y0.shape[0]
    states = np.empty((grid.shape[0] + 1, n))
    states[0] = y0
    y = y0.copy()
    phi = np.eye(n)
    jac, w, jac_mid = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    pair, rhs_matrix, d1, d2 = np.empty((n, n)), np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    k1, k2, mid, scratch, column = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    t_prev = 0.0
    for s in range(grid.shape[0]):
        h = grid[s] - t_prev
        t_prev = grid[s]
        if not _stages(y, h, gamma, matrix, stoich_k, donor, acceptor, jac, w, piv, k1, k2, mid, scratch):
            return SINGULAR, states, phi
        if with_jacobian:
            gamma_h = gamma * h
            # d1 = W^-1 (J(y) + gamma h J_pair(k1)) phi
            _pair_jacobian(k1, stoich_k, donor, acceptor, pair)
            for i in range(n):
                for j in range(n):
                    pair[i, j] = jac[i, j] + gamma_h * pair[i, j]
            _solve_columns(w, piv, pair, phi, d1, column)
            # d2 = W^-1 (gamma h J_pair(k2) phi + J(mid) (phi + h d1) - 2 d1)
            _pair_jacobian(mid, stoich_k, donor, acceptor, jac_mid)
            for i in range(n):
                for j in range(n):
                    jac_mid[i, j] += matrix[i, j]
            _pair_jacobian(k2, stoich_k, donor, acceptor, pair)
            for i in range(n):
                for j in range(n):
                    total = 0.0
                    for m in range(n):
                        total += gamma_h * pair[i, m] * phi[m, j] + jac_mid[i, m] * (phi[m, j] + h * d1[m, j])
                    rhs_matrix[i, j] = total - 2.0 * d1[i, j]
            for j in range(n):
                for i in range(n):
                    column[i] = rhs_matrix[i, j]
                _solve(w, piv, column)
                for i in range(n):
                    d2[i, j] = column[i]
            for i in range(n):
                for j in range(n):
                    phi[i, j] += h * (1.5 * d1[i, j] + 0.5 * d2[i, j])
        for i in range(n):
            y[i] += h * (1.5 * k1[i] + 0.5 * k2[i])
        states[s + 1] = y
    return OK, states, phi


@numba.njit(cache=True)
def _solve_columns(w, piv, a, b, out, column):  # noqa: ANN001, ANN202
    """out = W^-1 (a @ b), column by column."""
    n = a.shape[0]
    for j in range(n):
        for i in range(n):
            total = 0.0
            for m in range(n):
                total += a[i, m] * b[m, j]
            column[i] = total
        _solve(w, piv, column)
        for i in range(n):
            out[i, j] = column[i]
