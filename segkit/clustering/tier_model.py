"""CLV tiers as the run's segmentation: a SegmentationModel whose clusterer is a rule.

With ``clustering.choice: clv_tiers`` (and ``value.as_features: true``) the compare
step fits a :class:`ClvTierModel` instead of a clustering: the same preprocessor
and scaled coordinates as every candidate (so 04's separation checks, 05's
profiles, the map and ``segkit score`` work unchanged), but the segments are the
CLV tiers of ``value.tiers`` (:class:`segkit.features.value_tiers.ClvTiers`): the
clusterer ``clv_tiers`` learns cut points on the ``clv`` coordinate at fit and
places every customer, a new one alone included, by them.

Why the scaled ``clv`` coordinate is enough. The preprocessor's transform of
``clv`` (log1p, median/IQR scaling) is increasing, so quantile cut points on it
split the customers exactly as cut points on the raw CLV do -- except where the
preprocessor clips scaled values at ``preprocess.clip`` (5 by default): clipped
customers tie. Clipping only touches the top of the CLV range; as long as fewer
customers are clipped than the top tier's share, every cut point lies below the
clip and each customer's tier is the one the raw CLV gives. :meth:`fit` checks
this and refuses otherwise (raise ``preprocess.clip``). A preprocessor that
dropped ``clv`` (constant, or a near-duplicate of another column) is refused too.

Segment ids follow the model's rule (0 is the largest tier); :attr:`tier_names_`
maps them to "Top value", "Middle value", "Low value"
(:func:`segkit.features.value_tiers.tier_names`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segkit.clustering.algorithms import CLV_TIERS
from segkit.clustering.model import SegmentationModel, settings_from_config
from segkit.config_base import field_default
from segkit.config_sections import ClusteringSettings, ValueSettings
from segkit.exceptions import ConfigError, DataError, ModelError
from segkit.features.value_tiers import tier_names

__all__ = ["ClvTierModel", "is_tier_choice"]

#: The coordinate the tiers are cut on (:mod:`segkit.features.value_features`).
VALUE_COLUMN = "clv"


def is_tier_choice(choice: str | None) -> bool:
    """Whether ``clustering.choice`` selects the CLV tiers (``clv_tiers[/scaled]``)."""
    return bool(choice) and str(choice).strip().split("/")[0] == CLV_TIERS


class ClvTierModel(SegmentationModel):
    """A :class:`SegmentationModel` whose segments are CLV tiers.

    Parameters
    ----------
    tiers : sequence of float, optional
        Tier shares, top tier first (``value.tiers``); None: its default.
    **params
        Every :class:`SegmentationModel` parameter; ``algorithm`` must be
        ``"clv_tiers"`` and ``representation`` ``"scaled"``. ``n_segments`` is
        ignored, as HDBSCAN ignores it: the shares fix the number of tiers (so a
        prediction-strength curve over k refits the same tiers at every k).

    Attributes
    ----------
    tier_of_segment_ : dict
        Segment id -> tier (0 = top value).
    tier_names_ : dict
        Segment id -> "Top value" / "Middle value" / "Low value".
    """

    def __init__(self, *, tiers: Any = None, **params: Any) -> None:
        params.setdefault("algorithm", CLV_TIERS)
        super().__init__(**params)
        self.tiers = tiers

    @classmethod
    def _get_param_names(cls) -> list[str]:
        # sklearn reads the parameters off __init__'s signature; this one forwards
        # the parent's by keyword, so name them here for get_params and clone.
        return sorted({*SegmentationModel._get_param_names(), "tiers"})

    @classmethod
    def from_settings(
        cls,
        clustering: Any,
        value: Any,
        *,
        seed: int,
        preprocessor: Any = None,
    ) -> ClvTierModel:
        """The unfitted model of ``clustering.choice: clv_tiers``.

        Raises
        ------
        ConfigError
            When ``value.as_features`` is false: the CLV column is then not among
            the features.
        """
        value = ValueSettings.of(value)
        if not value.as_features:
            raise ConfigError(
                f"clustering.choice is {ClusteringSettings.of(clustering).choice!r}, but "
                "value.as_features is false: CLV tiers cut the customers' 'clv' "
                "feature; set value.as_features: true or choose a clustering"
            )
        return cls(
            tiers=list(value.tiers),
            n_segments=len(value.tiers),
            preprocessor=preprocessor,
            representation="scaled",
            random_state=seed,
            **settings_from_config(clustering),
        )

    def _shares(self) -> list[float]:
        return list(
            field_default(ValueSettings, "tiers") if self.tiers is None else self.tiers
        )

    def _check_settings(self) -> None:
        # Replaces the parent's check (called by its fit), which knows only the
        # grid's algorithms.
        if self.algorithm != CLV_TIERS or self.representation != "scaled":
            raise ModelError(
                f"ClvTierModel cuts CLV tiers on scaled coordinates; got algorithm="
                f"{self.algorithm!r}, representation={self.representation!r}"
            )

    def _coordinate_names(self) -> list[str]:
        pre = self.__dict__.get("preprocessor_")
        if pre is not None:
            names = pre.get_feature_names_out()
        else:
            names = self.__dict__.get("feature_names_in_")
        return [] if names is None else [str(n) for n in names]

    def clusterer_settings(self) -> dict[str, Any]:
        """The parent's settings plus the tier shares and the ``clv`` position."""
        settings = super().clusterer_settings()
        if "reducer_" not in self.__dict__:  # before fit: no coordinates yet
            return settings
        names = self._coordinate_names()
        if VALUE_COLUMN not in names:
            dropped = ""
            pre = self.__dict__.get("preprocessor_")
            if pre is not None and hasattr(pre, "describe"):
                table = pre.describe().set_index("column")
                if VALUE_COLUMN in table.index:
                    row = table.loc[VALUE_COLUMN]
                    dropped = f" (the preprocessor {row['action']} it: {row['reason']})"
            raise DataError(
                f"column {VALUE_COLUMN!r} is not among the {len(names)} columns the "
                f"model clusters{dropped}; CLV tiers need it: set value.as_features: "
                "true, and keep clv in the matrix (preprocess.duplicate_threshold "
                "higher or null when it was a near-duplicate)"
            )
        return {
            **settings,
            "tiers": self._shares(),
            "value_column": names.index(VALUE_COLUMN),
        }

    def fit(self, features: Any, y: Any = None) -> ClvTierModel:
        """Fit as :meth:`SegmentationModel.fit`, then check the clip and name tiers."""
        super().fit(features)
        self._check_clip()
        raw = np.asarray(self.clusterer_.labels_, dtype=np.int64)
        mapping = {int(r): int(s) for r, s in zip(raw, self._relabel(raw), strict=True)}
        self.tier_of_segment_ = {s: r for r, s in sorted(mapping.items()) if s >= 0}
        names = tier_names(len(self._shares()))
        self.tier_names_ = {s: names[r] for s, r in self.tier_of_segment_.items()}
        return self

    def _check_clip(self) -> None:
        """Refuse cut points at the preprocessor's clip (tiers merged by clipping)."""
        pre = self.__dict__.get("preprocessor_")
        clip = getattr(pre, "clip", None)
        cuts = np.asarray(self.clusterer_.cuts_, dtype=float)
        if clip is not None and (cuts >= float(clip) - 1e-9).any():
            raise DataError(
                f"more than the top tier's share ({self._shares()[0]:.0%}) of "
                f"customers have a scaled CLV clipped at preprocess.clip={clip}, so "
                "clipping would merge them into one tier; raise preprocess.clip or "
                "set it to null"
            )
