"""Tests for DeepMaxent (sdmkit.sdm.neural): the normalised Poisson loss and the estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy.stats import spearmanr  # noqa: E402

from sdmkit._validation import ValidationError  # noqa: E402
from sdmkit.datasets.simulate import environment_grid, virtual_species  # noqa: E402
from sdmkit.sdm.neural import DeepMaxent, maxent_loss  # noqa: E402

SMALL = dict(hidden=32, n_blocks=1, device="cpu", progress=False)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- loss


def test_maxent_loss_by_hand():
    f = torch.tensor([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0], [-1.0, 0.5]])
    c = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    dom = torch.tensor([[True, False], [True, True], [False, True], [True, True]])
    lse0 = math.log(math.e + math.e**2 + math.e**-1)  # sites 0, 1, 3
    lse1 = math.log(math.e**-1 + math.e**3 + math.e**0.5)  # sites 1, 2, 3
    l0 = -(1.0 + 2 * 2.0) / 3 + lse0
    l1 = -3.0 + lse1
    assert float(maxent_loss(f, c, dom)) == pytest.approx((3 * l0 + 1 * l1) / 4, rel=1e-6)
    assert float(maxent_loss(f, c, dom, species_weight="equal")) == pytest.approx(
        (l0 + l1) / 2, rel=1e-6
    )
    # no domain: every site
    full0 = math.log(sum(math.exp(v) for v in (1.0, 2.0, 0.0, -1.0)))
    full1 = math.log(sum(math.exp(v) for v in (0.0, -1.0, 3.0, 0.5)))
    expect = (3 * (-(5.0) / 3 + full0) + (-3.0 + full1)) / 4
    assert float(maxent_loss(f, c)) == pytest.approx(expect, rel=1e-6)
    # a species without records in the batch is left out
    c2 = c.clone()
    c2[:, 1] = 0
    assert float(maxent_loss(f, c2, dom)) == pytest.approx(l0, rel=1e-6)
    assert float(maxent_loss(f, torch.zeros_like(c))) == 0.0


def test_maxent_loss_gradient_is_model_minus_empirical_distribution():
    """d L_s / d f_js = softmax over the domain - empirical distribution of the records."""
    rng = np.random.default_rng(0)
    f = torch.tensor(rng.normal(size=(7, 1)), requires_grad=True)
    c = torch.tensor([[0.0], [2.0], [1.0], [0.0], [0.0], [1.0], [0.0]], dtype=torch.float64)
    dom = torch.tensor([[True], [True], [True], [False], [True], [True], [False]])
    maxent_loss(f, c, dom).backward()
    z = f.detach().numpy().ravel()
    m = dom.numpy().ravel()
    p = np.where(m, np.exp(z - z[m].max()), 0.0)
    p /= p.sum()
    np.testing.assert_allclose(f.grad.numpy().ravel(), p - c.numpy().ravel() / 4, atol=1e-12)


# --------------------------------------------------------------------------- estimator


@pytest.fixture(scope="module")
def community():
    """4 virtual species, presence-only records with a shared sampling bias."""
    env = environment_grid((36, 28), random_state=1)
    values = env.to_numpy()
    cells = values.reshape(3, -1).T
    valid = np.isfinite(cells).all(1)
    index = np.full(cells.shape[0], -1)
    index[valid] = np.arange(valid.sum())
    ncols = values.shape[2]
    out = {}
    for strength in (0.0, 3.0):
        counts = np.zeros((valid.sum(), 4))
        truth = []
        for i in range(4):
            vs = virtual_species(
                env,
                prevalence=0.2,
                n_presence_absence=5,
                n_presence_only=150,
                bias_strength=strength,
                random_state=10 + i,
            )
            rc = vs.presence_only["row"].to_numpy() * ncols + vs.presence_only["col"].to_numpy()
            np.add.at(counts[:, i], index[rc], 1.0)
            truth.append(vs.probability.to_numpy().ravel()[valid])
        out[strength] = (counts, np.column_stack(truth))
    return cells[valid], out


def _rho(m, X, truth):
    p = m.predict_proba(X)
    return [spearmanr(p[:, j], truth[:, j]).statistic for j in range(truth.shape[1])]


def test_deepmaxent_ranks_true_probability(community):
    X, sims = community
    counts, truth = sims[0.0]
    # random-background domain: every cell, as Maxent with the whole region as background
    m = DeepMaxent(batch_size=None, epochs=150, lr=5e-3, random_state=0, **SMALL)
    m.fit(X, counts)
    p = m.predict_proba(X)
    assert p.shape == (len(X), 4) and np.all((p >= 0) & (p <= 1))
    rho = _rho(m, X, truth)
    assert min(rho) > 0.6, rho
    assert m.loss_curve_[-1] < m.loss_curve_[0]
    # the normaliser and entropy describe a proper distribution over the domain
    dens = np.exp(m.predict_log_density(X))
    np.testing.assert_allclose(dens.sum(0), 1.0, rtol=1e-4)
    assert np.all((m.entropy_ > 0) & (m.entropy_ <= np.log(len(X)) + 1e-9))


def test_deepmaxent_recovers_the_true_site_distribution():
    """Records drawn from a known softmax over sites: the fitted density matches it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 2))
    F = np.column_stack([1.5 * X[:, 0] - X[:, 1] ** 2, -X[:, 0] + 0.5 * X[:, 1]])
    P = np.exp(F - F.max(0))
    P /= P.sum(0)
    counts = np.column_stack([rng.multinomial(3000, P[:, j]) for j in range(2)]).astype(float)
    m = DeepMaxent(batch_size=None, epochs=200, lr=1e-2, random_state=0, **SMALL)
    m.fit(X, counts)
    dens = np.exp(m.predict_log_density(X))
    total_variation = 0.5 * np.abs(dens - P).sum(0)
    assert np.all(total_variation < 0.07), total_variation
    for j in range(2):
        assert np.corrcoef(np.log(dens[:, j]), np.log(P[:, j]))[0, 1] > 0.95


def test_domain_mask_excludes_sites(community):
    """A site outside every domain does not change the fit; one inside does."""
    X, sims = community
    counts, _ = sims[0.0]
    kw = dict(batch_size=None, epochs=3, lr=1e-2, random_state=0, **SMALL)
    extra = np.vstack([X, X[:1] + 5.0])
    c_extra = np.vstack([counts, np.zeros((1, 4))])
    dom = np.ones(c_extra.shape, bool)
    dom[-1] = False
    base = DeepMaxent(**kw).fit(X, counts)
    masked = DeepMaxent(**kw).fit(extra, c_extra, domain=dom)
    inside = DeepMaxent(**kw).fit(extra, c_extra)
    # standardisation differs with the extra row; compare the training curves
    assert masked.loss_curve_ != inside.loss_curve_
    assert np.isfinite(base.log_norm_).all() and np.isfinite(masked.log_norm_).all()
    # the masked site contributes nothing to the normaliser
    f = masked.predict_logits(extra)
    np.testing.assert_allclose(
        masked.log_norm_, np.logaddexp.reduce(f[:-1], axis=0), rtol=1e-6, atol=1e-6
    )


def test_deepmaxent_validation_and_determinism(community):
    X, sims = community
    counts, _ = sims[0.0]
    kw = dict(batch_size=256, epochs=2, **SMALL)
    a = DeepMaxent(random_state=3, **kw).fit(X, counts)
    b = DeepMaxent(random_state=3, **kw).fit(X, counts)
    np.testing.assert_array_equal(a.predict_proba(X[:20]), b.predict_proba(X[:20]))
    assert a.predict(X[:3]).shape == (3,)
    with pytest.raises(ValidationError, match="no records"):
        DeepMaxent(**kw).fit(X, np.column_stack([counts, np.zeros(len(X))]))
    dom = np.ones(counts.shape, bool)
    dom[np.argmax(counts[:, 0]), 0] = False
    with pytest.raises(ValidationError, match="outside the species' domain"):
        DeepMaxent(**kw).fit(X, counts, domain=dom)
    with pytest.raises(ValidationError, match="finite and >= 0"):
        DeepMaxent(**kw).fit(X, -counts)
    with pytest.raises(ValueError, match="species_weight"):
        DeepMaxent(species_weight="sites", **kw).fit(X, counts)
    with pytest.raises(ValueError, match="one row per"):
        DeepMaxent(**kw).fit(X, counts[:-1])
