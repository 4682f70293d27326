"""Adjacency graphs: validation, alignment, components and the BYM2 scaling factor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sdmkit import ValidationError
from sdmkit.forecast.graph import (
    align_adjacency,
    bym2_scaling_factor,
    check_adjacency,
    connected_components,
    graph_edges,
    graph_summary,
)

# --------------------------------------------------------------------------- graphs


def path(n: int) -> np.ndarray:
    return np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)


def ring(n: int) -> np.ndarray:
    A = path(n)
    A[0, -1] = A[-1, 0] = 1
    return A


def lattice(nx: int, ny: int) -> sp.csr_matrix:
    px, py = sp.csr_matrix(path(nx)), sp.csr_matrix(path(ny))
    return (sp.kron(px, sp.identity(ny)) + sp.kron(sp.identity(nx), py)).tocsr()


def eigen_scale(A) -> float:
    """Independent route: eigen-decomposition of the ICAR precision (no jitter)."""
    A = np.asarray(A.toarray() if sp.issparse(A) else A, float)
    lam, V = np.linalg.eigh(np.diag(A.sum(1)) - A)
    lam, V = lam[1:], V[:, 1:]  # connected: one zero eigenvalue (the constant vector)
    return float(np.exp(np.mean(np.log((V**2) @ (1.0 / lam)))))


# Scotland lip cancer, the connected 56-district graph of the Stan BYM2 case study
# (stan-dev/example-models, knitr/car-iar-poisson/bym2.data.R), 1-based node pairs.
# Its scaling factor there was computed with R-INLA (inla.qinv with the jitter):
SCOTLAND_INLA = 0.485317494985636
SCOTLAND_NODE1 = [
    1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 7, 7, 7, 7, 9, 9, 9, 9, 9, 10, 10, 11, 13,
    13, 14, 14, 14, 15, 15, 15, 16, 16, 16, 16, 17, 17, 18, 18, 18, 18, 18, 20, 21, 21, 23, 23,
    23, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 26, 26, 26, 27, 27, 27, 28, 28, 29, 29,
    29, 30, 30, 30, 30, 30, 31, 31, 31, 31, 32, 33, 33, 34, 34, 34, 34, 34, 34, 34, 35, 35, 36,
    36, 36, 37, 37, 38, 38, 38, 38, 38, 39, 39, 40, 40, 40, 41, 41, 41, 42, 42, 44, 44, 45, 46,
    46, 47, 47, 47, 48, 49, 49, 49, 51, 52, 55,
]  # fmt: skip
SCOTLAND_NODE2 = [
    5, 9, 11, 19, 7, 10, 6, 12, 18, 20, 28, 11, 12, 13, 19, 8, 10, 13, 16, 17, 11, 17, 19, 23,
    29, 16, 22, 12, 17, 19, 31, 32, 35, 25, 29, 50, 17, 21, 22, 29, 19, 29, 20, 28, 33, 55, 56,
    55, 29, 50, 29, 34, 36, 37, 39, 27, 30, 31, 44, 47, 48, 55, 56, 26, 29, 29, 42, 43, 31, 32,
    55, 33, 45, 34, 43, 50, 38, 42, 44, 45, 56, 32, 35, 46, 47, 35, 45, 56, 39, 40, 42, 43, 51,
    52, 54, 37, 46, 37, 39, 41, 41, 46, 42, 44, 49, 51, 54, 40, 41, 41, 49, 52, 46, 49, 53, 43,
    51, 48, 49, 56, 47, 53, 48, 49, 53, 49, 52, 53, 54, 54, 54, 56,
]  # fmt: skip


def scotland() -> sp.csr_matrix:
    i = np.array(SCOTLAND_NODE1) - 1
    j = np.array(SCOTLAND_NODE2) - 1
    A = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(56, 56))
    return (A + A.T).tocsr()


# --------------------------------------------------------------------------- scaling factor


def test_scotland_matches_the_published_inla_value():
    A = scotland()
    assert A.nnz == 2 * 132
    s = bym2_scaling_factor(A)
    assert np.allclose(s, s[0])
    assert s[0] == pytest.approx(SCOTLAND_INLA, rel=1e-8)


@pytest.mark.parametrize(
    "A", [path(7), ring(9), lattice(5, 4), scotland()], ids=["path", "ring", "grid", "scotland"]
)
def test_sparse_dense_and_eigen_routes_agree(A):
    sparse = bym2_scaling_factor(A)
    dense = bym2_scaling_factor(A, method="dense")
    assert np.allclose(sparse, dense, rtol=1e-9)
    # the jitter (as in INLA) moves the value by ~1e-7 relative, no more
    assert sparse[0] == pytest.approx(eigen_scale(A), rel=1e-5)


@pytest.mark.parametrize("n", [3, 10, 57])
def test_ring_has_the_closed_form_value(n):
    # ring eigenvalues 2 - 2 cos(2πk/n); every node's variance is (n² - 1) / (12 n)
    # (INLA's jitter moves it by ~1e-6 relative at n = 57)
    assert bym2_scaling_factor(ring(n))[0] == pytest.approx((n**2 - 1) / (12 * n), rel=1e-5)


def test_two_nodes():
    # Q = [[1, -1], [-1, 1]]; x = (a, -a), var(x1 - x2) = 1 → var(a) = 1/4
    assert bym2_scaling_factor(path(2)) == pytest.approx([0.25, 0.25], rel=1e-6)


def test_islands_get_scale_one_and_components_are_scaled_separately():
    g1, g2 = lattice(4, 3), ring(6)
    A = sp.block_diag([sp.csr_matrix((1, 1)), g1, sp.csr_matrix((1, 1)), g2]).tocsr()
    s = bym2_scaling_factor(A)
    assert s[0] == 1.0 and s[13] == 1.0
    assert np.allclose(s[1:13], bym2_scaling_factor(g1)[0])
    assert np.allclose(s[14:], bym2_scaling_factor(ring(6))[0])
    assert bym2_scaling_factor(g1)[0] != pytest.approx(bym2_scaling_factor(ring(6))[0])
    summary = graph_summary(A)
    assert summary["n_nodes"].tolist() == [1, 12, 1, 6]
    assert summary["n_edges"].tolist() == [0, 17, 0, 6]
    assert summary["scaling_factor"].iloc[[0, 2]].tolist() == [1.0, 1.0]
    assert summary["first_node"].tolist() == [0, 1, 13, 14]
    assert summary.dtypes["n_nodes"] == "int64"


def test_only_islands():
    assert bym2_scaling_factor(np.zeros((3, 3))).tolist() == [1.0, 1.0, 1.0]


def test_scaling_is_invariant_to_node_order():
    A = scotland()
    perm = np.random.default_rng(0).permutation(56)
    assert np.allclose(bym2_scaling_factor(A[perm][:, perm]), bym2_scaling_factor(A))


def test_scaled_icar_variances_have_geometric_mean_one():
    A = lattice(6, 5).toarray()
    s = bym2_scaling_factor(A)[0]
    Q = np.diag(A.sum(1)) - A
    var = np.diag(np.linalg.pinv(Q)) / s  # the scaled field φ / sqrt(s)
    assert np.exp(np.mean(np.log(var))) == pytest.approx(1.0, rel=1e-6)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        bym2_scaling_factor(path(3), method="lu")


# --------------------------------------------------------------------------- validation


def test_check_adjacency_accepts_arrays_sparse_and_frames():
    A = path(4)
    for a in (A, sp.coo_matrix(A), pd.DataFrame(A), A.astype(int).tolist()):
        out = check_adjacency(a)
        assert sp.isspmatrix_csr(out) and out.dtype == np.float64 and out.nnz == 6


@pytest.mark.parametrize(
    ("A", "match"),
    [
        (np.ones((2, 3)), "square"),
        (np.zeros((0, 0)), "square"),
        (np.ones(3), "2-D"),
        (np.array([[0, 2.0], [2.0, 0]]), r"0/1.*rows \[0, 1\]"),
        (np.array([[0, np.nan], [np.nan, 0]]), "0/1"),
        (np.array([[1, 1], [1, 0]]), r"zero diagonal.*rows \[0\]"),
        (np.array([[0, 1, 0], [0, 0, 1], [0, 1, 0]]), r"not symmetric: rows \[0, 1\]"),
        ("abc", "numeric"),
    ],
)
def test_check_adjacency_errors_name_the_rows(A, match):
    with pytest.raises(ValidationError, match=match):
        check_adjacency(A)


def test_connected_components_numbers_by_first_appearance():
    A = np.zeros((5, 5))
    A[1, 3] = A[3, 1] = A[0, 4] = A[4, 0] = 1
    n, labels = connected_components(A)
    assert n == 3
    assert labels.tolist() == [0, 1, 2, 1, 0]


def test_graph_edges_upper_triangle():
    n1, n2 = graph_edges(ring(4))
    assert list(zip(n1.tolist(), n2.tolist())) == [(0, 1), (0, 3), (1, 2), (2, 3)]


def test_align_adjacency_reorders_and_checks_labels():
    A = path(3)  # a - b - c
    out = align_adjacency(A, ["c", "a", "b"], ["a", "b", "c"]).toarray()
    assert out.tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 0]]
    # default labels: sorted locations
    assert align_adjacency(A, ["b", "a", "c"]).toarray()[0].tolist() == [0, 1, 1]
    frame = pd.DataFrame(A, index=["x", "y", "z"], columns=["x", "y", "z"])
    assert align_adjacency(frame, ["z", "y", "x"]).toarray().tolist() == A[::-1, ::-1].tolist()


def test_align_adjacency_mismatch_is_a_clear_error():
    A = path(3)
    with pytest.raises(ValidationError, match=r"without a node: \[d\].*without a location: \[c\]"):
        align_adjacency(A, ["a", "b", "d"], ["a", "b", "c"])
    with pytest.raises(ValidationError, match="3 rows but 2 node labels"):
        align_adjacency(A, ["a", "b"], ["a", "b"])
    with pytest.raises(ValidationError, match="4 locations vs 3 graph nodes"):
        align_adjacency(A, ["a", "b", "c", "d"], ["a", "b", "c"])
    with pytest.raises(ValidationError, match="repeat"):
        align_adjacency(A, ["a", "b", "c"], ["a", "a", "c"])
    with pytest.raises(ValidationError, match="same labels"):
        align_adjacency(pd.DataFrame(A, index=list("abc"), columns=list("cba")), list("abc"))


# --------------------------------------------------------------------------- real data


@pytest.mark.data("brazil_microregions")
def test_brazil_microregions_scaling_factors():
    from sdmkit.datasets import load_brazil_microregions

    m = load_brazil_microregions()
    summary = graph_summary(m.adjacency)
    assert summary["n_nodes"].tolist() == [557, 1]
    assert summary["n_edges"].tolist() == [1548, 0]
    island = int(summary["first_node"].iloc[1])
    assert island == 193 and m.regions["code"].iloc[island] == "26019"  # Fernando de Noronha
    s = bym2_scaling_factor(m.adjacency)
    assert s[island] == 1.0
    main = np.flatnonzero(np.arange(558) != island)
    assert np.allclose(s[main], s[0])
    assert s[0] == pytest.approx(eigen_scale(m.adjacency[main][:, main]), rel=1e-5)
    assert s[0] == pytest.approx(0.5627, abs=1e-4)
