"""Out-of-time predictions to evaluate, made up with a known shape."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_validation(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """``n`` validation rows of three splits: a model close to the risk, a logistic
    baseline a little further, DASH grades cut from the risk, a random prior count."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(1, 6, size=n)
    y = (rng.random(n) < risk).astype(np.int8)
    grades = np.where(risk > 0.35, "high", np.where(risk > 0.15, "medium", "standard"))
    return pd.DataFrame(
        {
            "incident_id": [f"i{i}" for i in range(n)],
            "reported_at": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 60, n)), unit="D"),
            "split": np.repeat([1, 2, 3], n // 3),
            "y": y,
            "score_model": np.clip(risk + rng.normal(0, 0.05, n), 0.001, 0.999),
            "score_logistic": np.clip(risk + rng.normal(0, 0.1, n), 0.001, 0.999),
            "score_dash": np.where(grades == "high", 0.3, np.where(grades == "medium", 0.15, 0.08)),
            "score_prior": rng.random(n),
            "dash_grade": grades,
        }
    )
