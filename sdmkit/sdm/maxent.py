"""MaxEnt as penalised, infinitely-weighted logistic regression (maxnet).

Phillips et al. (2017, *Ecography* 40:887-893) showed that Maxent equals an
inhomogeneous Poisson process, and that a logistic regression of presences
(weight 1) against background points (weight large, 100 in maxnet) with an L1
penalty fits it. maxnet fits with ``glmnet`` along a 200-step lambda path to
the last lambda; at that lambda glmnet minimises (its weights and penalty
factors rescaled as glmnet does)::

    sum_i w_i * logloss_i  +  n_p * sum_j reg_j * |beta_j|

with ``w`` = 1 for presences and 100 for background, ``n_p`` presences and
``reg_j`` maxnet's per-feature regularisation (:func:`maxnet_regularization`).
The problem is convex, so the path only matters as a route to the optimum.

Solver. :class:`MaxentModel` solves that problem directly, at maxnet's last
lambda, with a working-set proximal Newton method (as glmnet, celer and
skglm do): the features that violate the optimality conditions most join a
small working set; on it, the weighted quadratic model of the logistic loss
(a few hundred columns at most) is minimised *exactly* with feature-sign
search (Lee et al. 2007) and a backtracking line search takes the step;
then optimality is checked on all features again. Exact sub-problems matter
here: neighbouring hinge features are nearly collinear, which makes
coordinate descent (glmnet, liblinear) crawl. On Bradypus (2,042 features)
it reaches a lower objective than liblinear at tol=1e-9, in about 0.1 s.
Why not liblinear with the columns rescaled by the penalties (an exact
trick)? It was tried first: 2–5 s on Bradypus, and liblinear penalises the
intercept.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.linalg.blas import dsyrk
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._validation import ValidationError
from .features import MaxentFeatures

__all__ = ["MaxentModel", "maxnet_regularization"]

# maxnet.default.regularization: (presence counts, multipliers), linearly
# interpolated at the number of presences and held constant beyond the ends.
REGULARIZATION_TABLES = {
    "linear": ([0, 10, 30, 100], [1.0, 1.0, 0.2, 0.05]),
    "quadratic": ([0, 10, 17, 30, 100], [1.3, 0.8, 0.5, 0.25, 0.05]),
    "product": ([0, 10, 17, 30, 100], [2.6, 1.6, 0.9, 0.55, 0.05]),
    "hinge": ([0, 1], [0.5, 0.5]),
    "threshold": ([0, 100], [2.0, 1.0]),
    "categorical": ([0, 10, 17], [0.65, 0.5, 0.25]),
}
_MIN_PRESENCES = 5
_OUTPUTS = ("cloglog", "logistic")


def maxnet_regularization(
    F,
    kinds,
    presence,
    sample_weight=None,
    *,
    beta_multiplier=1.0,
    beta_lqp=1.0,
    beta_hinge=1.0,
    beta_threshold=1.0,
    beta_categorical=1.0,
    feature_range=None,
):
    """Per-feature regularisation of maxnet (``maxnet.default.regularization``).

    For feature ``j`` with standard deviation ``sd_j`` over the presences and
    ``n_p`` presences::

        reg_j = beta_multiplier * max(0.001 * range_j, hinge_j, threshold_j,
                                      sd_j * beta_class * table_class(n_p) / sqrt(n_p))

    where ``table_class`` interpolates maxnet's table of the feature's class
    (linear, quadratic and product features share the product table when
    there are products, else the quadratic table when there are quadratics,
    else the linear one), ``hinge_j = 0.5 * max(sd_j, 1/sqrt(n_p)) / sqrt(n_p)``
    for hinges (more regularisation for extreme hinges) and ``threshold_j = 1``
    for thresholds that are all 0 or all 1 on presences.

    Parameters
    ----------
    F : ndarray of shape (n_samples, n_features)
        Features of presence and background rows.
    kinds : array-like of str
        Feature class of each column (:attr:`MaxentFeatures.feature_kinds_`).
    presence : array-like of bool
        True for presence rows.
    sample_weight : array-like, optional
        Frequency weights: ``n_p`` is the sum of presence weights and ``sd``
        the weighted standard deviation (``ddof=1`` as R's ``sd``).
    beta_multiplier : float
        maxnet's ``regmult``, multiplies everything.
    beta_lqp, beta_hinge, beta_threshold, beta_categorical : float
        Extra multipliers of the class-table term, per class (as elapid).
    feature_range : (ndarray, ndarray), optional
        Per-feature (min, max) over all rows, if already known.

    Returns
    -------
    ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.maxent import maxnet_regularization
    >>> F = np.array([[0.0], [1.0], [0.0], [1.0], [0.5], [0.2]])
    >>> pres = np.array([1, 1, 1, 1, 0, 0], bool)
    >>> float(maxnet_regularization(F, ["linear"], pres)[0].round(4))
    0.2887
    """
    F = np.asarray(F, dtype=np.float64)
    kinds = np.asarray(kinds, dtype=object)
    presence = np.asarray(presence, dtype=bool)
    w = np.ones(len(F)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    Fp, wp = F[presence], w[presence]
    n_p = wp.sum()
    mean = wp @ Fp / n_p
    # sum of w (x - mean)^2 without an n x p temporary (features are in [0, 1])
    ss = np.einsum("i,ij,ij->j", wp, Fp, Fp) - n_p * mean**2
    sd = np.sqrt(np.maximum(ss / max(n_p - 1.0, 1e-12), 0.0))
    if (kinds == "product").any():
        lqp = "product"
    elif (kinds == "quadratic").any():
        lqp = "quadratic"
    else:
        lqp = "linear"
    beta = {
        "linear": beta_lqp,
        "quadratic": beta_lqp,
        "product": beta_lqp,
        "hinge": beta_hinge,
        "threshold": beta_threshold,
        "categorical": beta_categorical,
    }
    class_reg = np.zeros(F.shape[1])
    for kind in REGULARIZATION_TABLES:
        m = kinds == kind
        if m.any():
            table = lqp if kind in ("linear", "quadratic", "product") else kind
            xp, fp = REGULARIZATION_TABLES[table]
            class_reg[m] = beta[kind] * np.interp(n_p, xp, fp) / np.sqrt(n_p)
    hinge = np.where(kinds == "hinge", np.maximum(sd, 1 / np.sqrt(n_p)) * 0.5 / np.sqrt(n_p), 0.0)
    threshold = np.zeros(F.shape[1])
    t = np.flatnonzero(kinds == "threshold")
    if len(t):
        sub = Fp[:, t]
        lo, hi = sub.min(axis=0), sub.max(axis=0)
        threshold[t] = (lo == hi) & ((lo == 0) | (lo == 1))
    lo, hi = (F.min(axis=0), F.max(axis=0)) if feature_range is None else feature_range
    floor = 0.001 * (hi - lo)
    return beta_multiplier * np.maximum.reduce([floor, hinge, threshold, sd * class_reg])


class MaxentModel(ClassifierMixin, BaseEstimator):
    """MaxEnt species distribution model (maxnet), scikit-learn style.

    Fit on presence (``y == 1``) and background (``y == 0``) rows. Features
    are built by :class:`~sdmkit.sdm.features.MaxentFeatures`; coefficients
    minimise maxnet's penalised, infinitely-weighted logistic loss with a
    working-set proximal Newton solver (module docstring).

    Parameters
    ----------
    feature_classes : str, default="auto"
        Letters from ``"lqpht"`` or ``"auto"`` (maxnet's rule: <10 presences
        ``l``, <15 ``lq``, <80 ``lqh``, else ``lqpht``).
    beta_multiplier : float, default=1.0
        maxnet's ``regmult``: scales all regularisation.
    beta_lqp, beta_hinge, beta_threshold, beta_categorical : float, optional
        Per-class multipliers of the table term (None = 1).
    regularization : callable, optional
        maxnet's ``regfun``: ``regularization(F, kinds, presence,
        sample_weight)`` returns the per-feature regularisation ``reg`` (then
        times ``beta_multiplier``; the penalty is ``n_p * reg_j * |beta_j|``).
        Default :func:`maxnet_regularization` with the ``beta_*`` class
        multipliers.
    n_hinge, n_threshold : int, default=50
        Hinge and threshold knots per covariate.
    clamp : bool, default=True
        Clip covariates and features to their training range when predicting.
    background_weight : float, default=100.0
        Weight of each background row relative to a presence (maxnet: 100).
    add_presences_to_background : bool, default=True
        As maxnet's ``addsamplestobackground``: presences whose covariates
        match no background row are also added to the background.
    output : {"cloglog", "logistic"}, default="cloglog"
        What :meth:`predict_proba` returns (maxnet's ``type``). Named
        ``output``, not ``transform`` as in elapid, because scikit-learn takes
        any estimator with a ``transform`` attribute for a transformer.
    categorical : list of int or str, optional
        Categorical columns of an array ``X`` (DataFrame ``category`` columns
        are found on their own).
    tol : float, default=1e-6
        Stop when no optimality condition is violated by more than ``tol``
        (gradient in units of presence-averaged feature values, which lie in
        [0, 1]).
    max_iter : int, default=1000
        Most Newton steps.

    Attributes
    ----------
    classes_ : ndarray
        The two labels; ``classes_[1]`` marks presences.
    features_ : MaxentFeatures
        The fitted feature transformer.
    feature_names_ : ndarray of str
        Feature names (``features_.feature_names_``).
    coef_ : ndarray of shape (len(feature_names_),)
        Coefficient of each feature (0 for dropped and constant features).
    regularization_ : ndarray
        Per-feature regularisation ``reg`` (times ``beta_multiplier``).
    intercept_ : float
        Intercept of the logistic fit (not used for predictions, as in maxnet).
    alpha_ : float
        Normaliser: ``link = features @ coef_ + alpha_`` and
        ``exp(link)`` sums to 1 over the background.
    entropy_ : float
        Entropy of the raw output over the background.
    n_presence_ : float
        Number (weighted) of presences.
    n_iter_ : int
        Newton steps taken.

    Notes
    -----
    Outputs, as maxnet's ``predict.maxnet``: ``link``
    (:meth:`predict_link`), raw ``exp(link)`` (:meth:`predict_raw`; sums to 1
    over the training background, including the presences added to it),
    cloglog ``1 - exp(-exp(entropy + link))`` and logistic ``1 / (1 +
    exp(-entropy - link))`` (:meth:`predict_proba`, second column).
    :meth:`predict` says presence where that suitability exceeds 0.5, and
    :meth:`decision_function` is its log-odds (positive exactly there, as
    scikit-learn expects; monotone in the link, so rankings and AUCs agree).

    Sample weights are frequency weights: they multiply the loss of each row
    (background rows also get ``background_weight``), count in ``n_p`` and in the
    presence standard deviations of the regularisation, and weight the
    background normaliser. Rows with weight 0 are left out.

    Predictions compute only the features with non-zero coefficients (a few
    dozen of maxnet's thousands), in blocks of rows, so mapping a large raster
    takes little time and bounded memory.

    scikit-learn's estimator checks pass with one tag set: ``poor_score``
    (the 0.5 cloglog threshold of a presence–background model is no class
    boundary, so the training-accuracy check does not apply).

    Examples
    --------
    >>> import numpy as np
    >>> from sdmkit.sdm.maxent import MaxentModel
    >>> rng = np.random.default_rng(0)
    >>> bg = rng.uniform(-2, 2, size=(1000, 2))
    >>> pres = rng.normal([1, 0], 0.5, size=(100, 2))
    >>> X, y = np.vstack([pres, bg]), np.r_[np.ones(100), np.zeros(1000)]
    >>> m = MaxentModel(feature_classes="lq").fit(X, y)
    >>> p = m.predict_proba([[1.0, 0.0], [-1.5, 1.5]])[:, 1]
    >>> bool(p[0] > 0.5 > p[1])
    True
    """

    def __init__(
        self,
        feature_classes="auto",
        beta_multiplier=1.0,
        beta_lqp=None,
        beta_hinge=None,
        beta_threshold=None,
        beta_categorical=None,
        regularization=None,
        n_hinge=50,
        n_threshold=50,
        clamp=True,
        background_weight=100.0,
        add_presences_to_background=True,
        output="cloglog",
        categorical=None,
        tol=1e-6,
        max_iter=1000,
    ):
        self.feature_classes = feature_classes
        self.beta_multiplier = beta_multiplier
        self.beta_lqp = beta_lqp
        self.beta_hinge = beta_hinge
        self.beta_threshold = beta_threshold
        self.beta_categorical = beta_categorical
        self.regularization = regularization
        self.n_hinge = n_hinge
        self.n_threshold = n_threshold
        self.clamp = clamp
        self.background_weight = background_weight
        self.add_presences_to_background = add_presences_to_background
        self.output = output
        self.categorical = categorical
        self.tol = tol
        self.max_iter = max_iter

    # -------------------------------------------------------------------- fit
    def _check_params(self):
        if self.output not in _OUTPUTS:
            raise ValueError(
                f"output must be one of {_OUTPUTS}, got {self.output!r}; "
                f"the raw output is predict_raw()."
            )
        for name in ("beta_multiplier", "background_weight"):
            v = getattr(self, name)
            if not np.isscalar(v) or not v > 0:
                raise ValueError(f"{name} must be a positive number, got {v!r}.")

    def fit(self, X, y, sample_weight=None):
        """Fit the model on presence and background rows.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)
            Covariates; ``category`` columns are categorical.
        y : array-like of shape (n_samples,)
            1 presence, 0 background (any two labels: the larger is presence).
        sample_weight : array-like of shape (n_samples,), optional
            Frequency weights (see Notes).

        Returns
        -------
        self
        """
        self._check_params()
        if y is None:
            raise ValueError(
                "MaxentModel requires y to be passed, but the target y is None; pass y = 1 "
                "for presences and 0 for background points."
            )
        if not hasattr(X, "iloc"):
            X = check_array(
                X,
                accept_sparse=False,
                dtype=None if self.categorical else np.float64,
                ensure_all_finite=False,
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is "
                f"{y_type}; MaxentModel takes y = 1 presence, 0 background."
            )
        self.classes_, yi = np.unique(y, return_inverse=True)
        sw = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        keep = sw > 0
        counts = [int(((yi == k) & keep).sum()) for k in range(len(self.classes_))]
        if len(y) < 2:
            raise ValueError(
                f"MaxentModel needs presence and background rows, got n_samples = {len(y)}."
            )
        if len(self.classes_) != 2 or min(counts) == 0:
            raise ValueError(
                f"MaxentModel needs two classes with positive weight in y (1 presence, 0 "
                f"background); got {len(self.classes_)} class(es) {self.classes_.tolist()} "
                f"with {counts} rows of positive weight."
            )
        if counts[1] < _MIN_PRESENCES:
            raise ValidationError(
                f"MaxentModel needs at least {_MIN_PRESENCES} presence records (class "
                f"{self.classes_[1]!r}) with positive weight; got {counts[1]}. Gather more "
                f"records, or use a simpler model (a range map, or a GLM on fewer covariates)."
            )
        rows = np.flatnonzero(keep)
        Xk = X.iloc[rows] if hasattr(X, "iloc") else X[rows]
        yk, swk = yi[rows], sw[rows]

        self.features_ = MaxentFeatures(
            feature_classes=self.feature_classes,
            n_hinge=self.n_hinge,
            n_threshold=self.n_threshold,
            clamp=self.clamp,
            categorical=self.categorical,
        )
        is_pres = yk == 1
        dup = None
        if self.add_presences_to_background:
            dup = lambda cont, cats: _unmatched_presences(cont, cats, is_pres)  # noqa: E731
        F, extra = self.features_._fit(Xk, yk, swk, append_rows=dup)
        is_pres = np.r_[is_pres, np.zeros(len(extra), bool)]
        swk = np.r_[swk, swk[extra]]
        self.n_features_in_ = self.features_.n_features_in_
        if hasattr(self.features_, "feature_names_in_"):
            self.feature_names_in_ = self.features_.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_presence_ = float(swk[is_pres].sum())
        kinds = self.features_.feature_kinds_
        if self.regularization is None:
            one = lambda v: 1.0 if v is None else float(v)  # noqa: E731
            reg = maxnet_regularization(
                F,
                kinds,
                is_pres,
                swk,
                beta_lqp=one(self.beta_lqp),
                beta_hinge=one(self.beta_hinge),
                beta_threshold=one(self.beta_threshold),
                beta_categorical=one(self.beta_categorical),
                feature_range=(self.features_.feature_min_, self.features_.feature_max_),
            )
        else:
            reg = np.asarray(self.regularization(F, kinds, is_pres, swk), dtype=np.float64)
            if reg.shape != (F.shape[1],) or not (np.isfinite(reg) & (reg >= 0)).all():
                raise ValueError(
                    f"regularization must return {F.shape[1]} finite non-negative values, "
                    f"one per feature; got shape {reg.shape}."
                )
        reg = reg * float(self.beta_multiplier)
        self.regularization_ = reg
        w = swk * np.where(is_pres, 1.0, float(self.background_weight))
        with _one_blas_thread():
            self.coef_, self.intercept_, self.n_iter_ = _solve_l1_logistic(
                F,
                is_pres,
                w,
                self.n_presence_ * reg,
                tol=self.tol,
                max_iter=self.max_iter,
                varies=self.features_.feature_max_ > self.features_.feature_min_,
            )
        bg = ~is_pres
        eta = (F @ self.coef_)[bg]
        log_norm = logsumexp(eta, b=swk[bg])
        self.alpha_ = float(-log_norm)
        raw = np.exp(eta - log_norm)
        self.entropy_ = float(-np.sum(swk[bg] * raw * (eta - log_norm)))
        return self

    # ---------------------------------------------------------------- predict
    @property
    def feature_names_(self):
        check_is_fitted(self, "coef_")
        return self.features_.feature_names_

    def predict_link(self, X):
        """maxnet's link: ``features(X) @ coef_ + alpha_``, the log of the raw output.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "coef_")
        return self.features_._dot(X, self.coef_) + self.alpha_

    def predict_raw(self, X):
        """Raw (exponential) output ``exp(link)``; sums to 1 over the training background.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return np.exp(self.predict_link(X))

    def _shifted_link(self, X):
        """``entropy_ + link``: the cloglog exponent and the logistic log-odds."""
        return self.predict_link(X) + self.entropy_  # predict_link checks the fit first

    def _suitability(self, X):
        z = self._shifted_link(X)
        if self.output == "cloglog":
            return -np.expm1(-np.exp(z))
        return expit(z)

    def predict_proba(self, X):
        """Suitability in [0, 1] (cloglog by default, or logistic) and its complement.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)

        Returns
        -------
        ndarray of shape (n_samples, 2)
            ``[:, 1]`` is the suitability (``output``), ``[:, 0]`` is ``1 -`` it.
        """
        p = self._suitability(X)
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X):
        """Log-odds of the suitability: positive exactly where :meth:`predict` says presence.

        A monotone function of maxnet's link (:meth:`predict_link`): for
        ``output="logistic"`` it is ``entropy_ + link``; for ``"cloglog"``,
        ``logit(1 - exp(-exp(entropy_ + link)))``.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        z = self._shifted_link(X)
        if self.output == "logistic":
            return z
        with np.errstate(over="ignore"):
            ez = np.exp(z)
            # logit(1 - exp(-ez)) = log(-expm1(-ez)) + ez, ~ z + ez/2 for tiny ez
            big = np.log(-np.expm1(-np.maximum(ez, 1e-300))) + ez
        return np.where(ez < 1e-8, z + 0.5 * ez, big)

    def predict(self, X):
        """Presence label where the suitability exceeds 0.5, else the background label.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_covariates)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        presence = self.decision_function(X) > 0
        return self.classes_[presence.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        # a presence-only model: 0.5 on the cloglog scale is no class boundary,
        # so training accuracy on two blobs is not a meaningful test
        tags.classifier_tags.poor_score = True
        tags.input_tags.categorical = True
        return tags


def _unmatched_presences(cont, cats, is_pres) -> np.ndarray:
    """Row indices of presences whose covariates equal no background row (maxnet's test)."""
    catstr = [s.astype(str).to_numpy() for s in cats]
    key = [cont[i].tobytes() + "\x1f".join(c[i] for c in catstr).encode() for i in range(len(cont))]
    bg = {k for k, p in zip(key, is_pres) if not p}
    return np.array([i for i in np.flatnonzero(is_pres) if key[i] not in bg], dtype=np.int64)


def _one_blas_thread():
    """Run BLAS single-threaded: the matrices are small, and threads only contend."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class _ActiveCholesky:
    """Cholesky factor of ``H[A, A]`` for an ordered active set ``A``.

    Adding a feature is a rank-one extension (O(|A|^2)); removing features
    refactors. Falls back to least squares if a block is not positive definite.
    """

    def __init__(self, H, active):
        self.H = H
        self._set(list(active))

    def _set(self, active):
        self.A = active
        idx = np.asarray(active)
        try:
            self.L = cholesky(self.H[np.ix_(idx, idx)], lower=True)
        except LinAlgError:
            self.L = None

    def add(self, j):
        if self.L is None:
            return self._set([*self.A, j])
        h = self.H[np.asarray(self.A), j]
        ell = solve_triangular(self.L, h, lower=True)
        d2 = self.H[j, j] - ell @ ell
        if not d2 > 1e-12 * self.H[j, j]:
            return self._set([*self.A, j])
        n = len(self.A)
        L = np.zeros((n + 1, n + 1))
        L[:n, :n] = self.L
        L[n, :n] = ell
        L[n, n] = np.sqrt(d2)
        self.L, self.A = L, [*self.A, j]

    def remove(self, drop):
        self._set([i for i in self.A if i not in drop])

    def solve(self, rhs):
        if self.L is None:
            idx = np.asarray(self.A)
            return np.linalg.lstsq(self.H[np.ix_(idx, idx)], rhs, rcond=None)[0]
        return cho_solve((self.L, True), rhs)


def _lasso_qp(H, c, lam, u, max_steps, eps):
    """Minimise ``u'Hu/2 - c'u + sum lam|u|`` by feature-sign search (exact, small H).

    Lee, Battle, Raina & Ng (2007), *NIPS* 19, with one change: a feature that
    joins the active set first takes its exact coordinate step (a sure descent),
    so every feature-sign step starts from non-zero active coefficients and
    lowers the objective. Index 0 is the unpenalised intercept (``lam[0] ==
    0``), always active. ``u`` is the warm start. A relative 1e-8 ridge on the
    diagonal keeps the active blocks positive definite when features are
    collinear on the data (hinges and thresholds with no data between their
    knots); it changes the Newton step slightly, not the optimum of the outer
    problem. Each feature-sign step must lower the objective, otherwise
    (rounding) the search stops. Stops when no optimality condition is violated
    by more than ``eps``. Returns (u, number of features added).
    """
    dg = np.diag(H)
    H = H + np.diag(1e-8 * dg + 1e-12 * dg.max())
    u = u.copy()
    u[0] = u[0] if u[0] != 0 else 1e-300  # keep the intercept in the active set
    chol = _ActiveCholesky(H, np.flatnonzero(u))

    def q(v):
        return 0.5 * v @ (H @ v) - c @ v + lam @ np.abs(v)

    f_cur = q(u)
    for step in range(max_steps):
        grad = H @ u - c
        act = u != 0
        gap = np.where(act, -np.inf, np.abs(grad) - lam)
        j = int(np.argmax(gap))
        if gap[j] > eps:
            # exact coordinate step into the violating feature: a sure descent,
            # after which every active coefficient is non-zero
            u[j] = -np.sign(grad[j]) * gap[j] / H[j, j]
            f_cur = q(u)
            chol.add(j)
        elif np.abs(np.where(act, grad + lam * np.sign(u), 0.0)).max() <= eps:
            return u, step
        for _ in range(len(c) + 1):  # feature-sign steps until the signs are consistent
            A = np.asarray(chol.A)
            old = u[A]
            theta = np.sign(old)
            theta[A == 0] = 0.0
            new = chol.solve(c[A] - lam[A] * theta)
            delta = new - old
            cross = (np.sign(new) != theta) & (A != 0)
            ts = np.r_[1.0, old[cross] / (old[cross] - new[cross])]
            # objective along the segment: quadratic part in closed form, L1 part per t
            HA = H[np.ix_(A, A)]
            s1 = delta @ (HA @ old - c[A])
            s2 = delta @ (HA @ delta)
            lA = lam[A]
            fs = (
                f_cur
                - lA @ np.abs(old)
                + ts * s1
                + 0.5 * ts**2 * s2
                + np.abs(old + ts[:, None] * delta) @ lA
            )
            k = int(np.argmin(fs))
            v = u.copy()
            v[A] = old + ts[k] * delta
            if k > 0:
                v[A[cross][k - 1]] = 0.0
            v[0] = v[0] if v[0] != 0 else 1e-300
            f_new = q(v)
            if not f_new < f_cur:
                return u, step  # no descent left at machine precision
            u, f_cur = v, f_new
            if k == 0:
                break
            chol.remove({int(i) for i in A if u[i] == 0})
    return u, max_steps


def _gram(A):
    """``A.T @ A`` with BLAS syrk (half the work of a general product)."""
    U = dsyrk(1.0, A.T, trans=0)  # A.T is Fortran-ordered: no copy
    return np.triu(U) + np.triu(U, 1).T


def _objective(eta, y, w, lam, beta):
    return float(w @ (np.logaddexp(0.0, eta) - y * eta) + lam @ np.abs(beta))


def _violations(G, lam, beta):
    """KKT violation of each coefficient: distance of -G from lam * subdifferential of |beta|."""
    return np.where(beta != 0, np.abs(G + lam * np.sign(beta)), np.maximum(np.abs(G) - lam, 0.0))


def _distinct_columns(F, penalty, varies=None) -> np.ndarray:
    """Indices of the non-constant columns, one per group of identical columns.

    Of identical columns, the one with the smallest penalty is kept (the L1
    optimum puts no weight on the others). E.g. a linear feature equals the
    first forward and the last reverse hinge; thresholds with no data between
    their knots are equal.
    """
    keep = (F.max(axis=0) > F.min(axis=0)) if varies is None else varies.copy()
    # a random projection groups candidates (float32: immune to BLAS rounding order)
    sig = (np.random.default_rng(0).standard_normal(F.shape[0]) @ F).astype(np.float32)
    order = np.lexsort((penalty, sig))  # by signature, then by penalty
    rep = None
    for j in order[keep[order]]:
        if rep is not None and sig[j] == sig[rep] and np.array_equal(F[:, rep], F[:, j]):
            keep[j] = False
        else:
            rep = j
    return np.flatnonzero(keep)


def _solve_l1_logistic(F, is_pres, w, penalty, *, tol, max_iter, inner=0.1, varies=None):
    """Minimise ``sum_i w_i logloss_i + sum_j penalty_j |beta_j|``, intercept free.

    Working sets (features violating optimality, most violating first) and a
    proximal Newton method on each: the weighted quadratic model of the
    logistic loss is minimised exactly by feature-sign search, then a
    backtracking line search. Stops when every optimality violation, in units
    of presence-averaged feature values, is below ``tol``. Columns that are
    constant or exact duplicates of a column with a smaller-or-equal penalty
    stay at 0 (the optimum never needs them). Returns (coef, intercept, n_iter).
    """
    n, p = F.shape
    y = is_pres.astype(np.float64)
    excluded = np.ones(p, bool)
    excluded[_distinct_columns(F, penalty, varies)] = False
    lam = penalty
    beta = np.zeros(p)
    wy = w @ y
    scale = wy  # the presence weight: violations are in presence-averaged feature units
    b = float(np.log(wy / (w.sum() - wy)))
    eta = np.full(n, b)
    n_iter, converged = 0, False
    while n_iter < max_iter:
        r = w * (expit(eta) - y)
        viol = _violations(F.T @ r, lam, beta)
        viol[excluded] = 0.0
        worst = max(viol.max(initial=0.0), abs(r.sum()))
        if worst <= tol * scale:
            converged = True
            break
        support = beta != 0
        cand = np.flatnonzero(~support & (viol > 0))
        k = max(int(support.sum()), 20)
        # most violating relative to their penalty, plus the largest violation
        cand = np.union1d(
            cand[np.argsort(-viol[cand] / np.maximum(lam[cand], 1e-300), kind="stable")[:k]],
            [np.argmax(viol)],
        )
        W = np.union1d(np.flatnonzero(support), cand)
        X = np.column_stack([np.ones(n), F[:, W]])
        lam_w = np.r_[0.0, lam[W]]
        u = np.r_[b, beta[W]]
        f = _objective(eta, y, w, lam_w, u)
        progress = False
        while n_iter < max_iter:
            pr = expit(eta)
            r = w * (pr - y)
            g = X.T @ r
            v = _violations(g, lam_w, u)
            v[0] = abs(g[0])
            target = max(0.5 * tol * scale, inner * worst)
            if v.max() <= target:
                break
            n_iter += 1
            h = w * pr * (1.0 - pr)
            H = _gram(X * np.sqrt(h)[:, None])
            new, _ = _lasso_qp(
                H, H @ u - g, lam_w, u, max_steps=10 * len(u) + 10, eps=0.01 * target
            )
            d = new - u
            Xd = X @ d
            t, improved = 1.0, False
            for _ in range(40 if d.any() else 0):
                fn = _objective(eta + t * Xd, y, w, lam_w, u + t * d)
                if fn < f:
                    improved = True
                    break
                t *= 0.5
            if not improved:
                break
            u, eta, f = u + t * d, eta + t * Xd, fn
            progress = True
        b, beta[:] = float(u[0]), 0.0
        beta[W] = u[1:]
        if not progress:  # no descent left at machine precision
            break
    if not converged:
        why = (
            "could not lower the objective further"
            if n_iter < max_iter
            else (f"stopped after max_iter={max_iter} Newton steps")
        )
        warnings.warn(
            f"MaxentModel: the solver {why} before reaching tol={tol} (largest "
            f"optimality violation {worst / scale:.3g}); increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return beta, b, n_iter
