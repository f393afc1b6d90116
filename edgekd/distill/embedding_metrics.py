"""How closely a student's sentence embeddings agree with its teacher's, on the same held-out sentences.

Inputs are embeddings as arrays (N, D) (student) and (N, D') (teacher), row i of both for sentence i; they need
not be normalised. Three numbers, each unitless:

- ``mean_cosine``: mean over sentences of cos(student_i, teacher_i), in [-1, 1]; needs D == D'.
- ``pairwise_spearman``: Spearman rank correlation between the student's and the teacher's cosine similarities of
  all N(N-1)/2 sentence pairs i < j (the upper triangle), in [-1, 1]: whether the student ranks pairs of sentences
  as similar in the teacher's order, which is what retrieval and clustering use. D may differ from D'.
- ``nn_agreement``: share of sentences whose nearest other sentence (highest cosine, j != i) is the same for
  student and teacher, in [0, 1].
"""

from __future__ import annotations

import numpy as np

from edgekd.errors import EdgekdError


def _check(student: np.ndarray, teacher: np.ndarray, same_dim: bool) -> tuple[np.ndarray, np.ndarray]:
    s, t = np.asarray(student, np.float64), np.asarray(teacher, np.float64)
    if s.ndim != 2 or t.ndim != 2 or len(s) != len(t):
        raise EdgekdError(f"embeddings must be (N, D) arrays for the same N sentences, got {s.shape} and {t.shape}")
    if same_dim and s.shape[1] != t.shape[1]:
        raise EdgekdError(f"mean cosine needs embeddings of one dimension, got {s.shape[1]} and {t.shape[1]}")
    if len(s) < 3:
        raise EdgekdError(f"embedding agreement needs at least 3 sentences, got {len(s)}")
    if not (np.isfinite(s).all() and np.isfinite(t).all()):
        raise EdgekdError("embeddings contain NaN or infinite values")
    return s, t


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, N) cosine similarities, float64."""
    u = _unit(np.asarray(x, np.float64))
    return u @ u.T


def mean_cosine(student: np.ndarray, teacher: np.ndarray) -> float:
    """Mean over rows of the cosine between student row i (N, D) and teacher row i (N, D)."""
    s, t = _check(student, teacher, True)
    return float((_unit(s) * _unit(t)).sum(1).mean())


def pairwise_spearman(student: np.ndarray, teacher: np.ndarray) -> float:
    """Spearman correlation of the N(N-1)/2 pairwise cosines (i < j) of student (N, D) and teacher (N, D')."""
    from scipy.stats import rankdata  # ties get the mean of the ranks they span, as Spearman's rho needs

    s, t = _check(student, teacher, False)
    iu = np.triu_indices(len(s), k=1)
    rs, rt = rankdata(cosine_matrix(s)[iu]), rankdata(cosine_matrix(t)[iu])
    rs, rt = rs - rs.mean(), rt - rt.mean()
    denom = np.sqrt((rs * rs).sum() * (rt * rt).sum())
    return float((rs * rt).sum() / denom) if denom > 0 else 0.0


def nn_agreement(student: np.ndarray, teacher: np.ndarray) -> float:
    """Share of rows whose most cosine-similar other row is the same under student (N, D) and teacher (N, D')."""
    s, t = _check(student, teacher, False)
    cs, ct = cosine_matrix(s), cosine_matrix(t)
    np.fill_diagonal(cs, -np.inf)
    np.fill_diagonal(ct, -np.inf)
    return float((cs.argmax(1) == ct.argmax(1)).mean())


def embedding_agreement(student: np.ndarray, teacher: np.ndarray) -> dict[str, float | int]:
    """``mean_cosine`` (when dimensions match), ``pairwise_spearman``, ``nn_agreement`` and ``sentences`` (N)."""
    s, t = _check(student, teacher, False)
    out: dict[str, float | int] = {"sentences": len(s)}
    if s.shape[1] == t.shape[1]:
        out["mean_cosine"] = mean_cosine(s, t)
    out["pairwise_spearman"] = pairwise_spearman(s, t)
    out["nn_agreement"] = nn_agreement(s, t)
    return out
