"""How to find each segment again: surrogate decision-tree rules as text and SQL.

A shallow :class:`~sklearn.tree.DecisionTreeClassifier` (depth ``profiles.tree_depth``)
is fitted on the interpretable, un-transformed numeric features to reproduce the
model's segments. Each leaf is a conjunction of conditions; a segment's rule is the
OR of the leaves that predict it, written as readable text and as a SQL ``WHERE``
clause (identifiers double-quoted, so ``"monetary" > 1250``).

Thresholds are rounded to the roundest number that still splits the data at the
same place (for a threshold between the data values ``a < b``, the number with the
fewest significant digits in ``[a, b)``), so ``recency <= 45`` rather than
``recency <= 45.5`` and ``monetary > 1250`` rather than ``monetary > 1249.87``. The
rounded rules assign every customer exactly as the tree does.

Missing values are filled with the column median before fitting; the SQL repeats
that with ``COALESCE("column", median)``.

Fidelity is the share of customers the rules place in the model's segment: overall
(accuracy) and per segment (recall: of the model's segment, the share the rule finds;
``precision``: of the customers the rule selects, the share in the segment).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from segkit.exceptions import DataError
from segkit.profiles.profile import numeric_features, segment_label

__all__ = ["SurrogateRules", "surrogate_rules", "quote_identifier", "nice_threshold"]

logger = logging.getLogger(__name__)

#: Columns of :attr:`SurrogateRules.rules`.
RULE_COLUMNS = [
    "segment",
    "name",
    "size",
    "text",
    "sql",
    "leaves",
    "fidelity",
    "precision",
]


def quote_identifier(name: str) -> str:
    """Quote a column name for SQL, doubling inner double quotes."""
    return '"' + str(name).replace('"', '""') + '"'


def nice_threshold(low: float, high: float) -> float:
    """The number with the fewest significant digits in ``[low, high)``.

    ``x <= c`` then splits data whose nearest values around the tree's threshold are
    ``low`` and ``high`` exactly as the tree does.
    """
    if not high > low:
        return float(low)
    top = max(abs(low), abs(high), 1e-12)
    for k in range(int(math.floor(math.log10(top))) + 1, -13, -1):
        step = 10.0**k
        candidate = math.ceil(low / step) * step
        candidate = round(candidate, max(0, -k))
        if low <= candidate < high:
            return float(candidate)
    return float(low)


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


@dataclass
class SurrogateRules:
    """Fitted surrogate rules.

    Attributes
    ----------
    rules : DataFrame
        One row per segment: ``segment, name, size, text, sql, leaves, fidelity,
        precision`` (``leaves``: number of tree leaves that form the rule).
    fidelity : float
        Share of all customers the rules place in the model's segment.
    features : list of str
        Columns the tree used.
    fill : dict
        Column -> median used for missing values.
    leaves : list of dict
        ``{"segment", "conditions": [(feature, op, threshold)], "size", "purity"}``.
    """

    rules: pd.DataFrame
    fidelity: float
    features: list[str]
    fill: dict[str, float]
    leaves: list[dict[str, Any]] = field(default_factory=list)
    max_depth: int = 3

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Segment each customer by the rounded rules (name ``segment``)."""
        missing = [c for c in self.features if c not in features.columns]
        if missing:
            raise DataError(
                f"the rules need the feature columns {missing}, absent from the "
                f"frame (columns: {list(features.columns)}); pass the features frame "
                "the rules were fitted on"
            )
        data = features[self.features].astype("float64").fillna(self.fill)
        out = pd.Series(-9999, index=features.index, name="segment", dtype="int64")
        for leaf in self.leaves:
            mask = pd.Series(True, index=features.index)
            for feature, op, threshold in leaf["conditions"]:
                column = data[feature]
                mask &= column <= threshold if op == "<=" else column > threshold
            out[mask] = leaf["segment"]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the content of ``artifacts/rules.json``)."""
        return {
            "max_depth": self.max_depth,
            "fidelity": self.fidelity,
            "features": self.features,
            "fill": self.fill,
            "segments": self.rules.to_dict(orient="records"),
            "leaves": [
                {**leaf, "conditions": [list(c) for c in leaf["conditions"]]}
                for leaf in self.leaves
            ],
        }


def _leaf_paths(
    tree: DecisionTreeClassifier,
) -> list[tuple[int, list[tuple[int, str, float]]]]:
    """Root-to-leaf paths; a subtree whose leaves all predict one class is one leaf."""
    t = tree.tree_
    winner = np.argmax(t.value[:, 0, :], axis=1)
    single: dict[int, int | None] = {}

    def one_class(node: int) -> int | None:
        if node not in single:
            left, right = int(t.children_left[node]), int(t.children_right[node])
            if left == -1:
                single[node] = int(winner[node])
            else:
                a, b = one_class(left), one_class(right)
                single[node] = a if a is not None and a == b else None
        return single[node]

    paths = []
    stack: list[tuple[int, list[tuple[int, str, float]]]] = [(0, [])]
    while stack:
        node, conds = stack.pop()
        if t.children_left[node] == -1 or one_class(node) is not None:
            paths.append((node, conds))
            continue
        f, thr = int(t.feature[node]), float(t.threshold[node])
        stack.append((int(t.children_right[node]), [*conds, (f, ">", thr)]))
        stack.append((int(t.children_left[node]), [*conds, (f, "<=", thr)]))
    return paths


def _leaf_class(tree: DecisionTreeClassifier, node: int) -> int:
    """Class index predicted everywhere below ``node`` (a collapsed subtree)."""
    t = tree.tree_
    while t.children_left[node] != -1:
        node = int(t.children_left[node])
    return int(np.argmax(t.value[node][0]))


def _simplify(conditions: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    upper: dict[str, float] = {}
    lower: dict[str, float] = {}
    order: list[str] = []
    for feature, op, thr in conditions:
        if feature not in order:
            order.append(feature)
        if op == "<=":
            upper[feature] = min(thr, upper.get(feature, np.inf))
        else:
            lower[feature] = max(thr, lower.get(feature, -np.inf))
    out = []
    for feature in order:
        if feature in lower:
            out.append((feature, ">", lower[feature]))
        if feature in upper:
            out.append((feature, "<=", upper[feature]))
    return out


def _text(conditions: list[tuple[str, str, float]]) -> str:
    if not conditions:
        return "every customer"
    parts = []
    bounds: dict[str, dict[str, float]] = {}
    for feature, op, thr in conditions:
        bounds.setdefault(feature, {})[op] = thr
    for feature, b in bounds.items():
        if ">" in b and "<=" in b:
            parts.append(f"{_number(b['>'])} < {feature} <= {_number(b['<='])}")
        elif ">" in b:
            parts.append(f"{feature} > {_number(b['>'])}")
        else:
            parts.append(f"{feature} <= {_number(b['<='])}")
    return " and ".join(parts)


def _sql(conditions: list[tuple[str, str, float]], fill: dict[str, float]) -> str:
    if not conditions:
        return "1 = 1"
    parts = []
    for feature, op, thr in conditions:
        column = quote_identifier(feature)
        if feature in fill:
            column = f"COALESCE({column}, {_number(fill[feature])})"
        parts.append(f"{column} {op} {_number(thr)}")
    return " AND ".join(parts)


def surrogate_rules(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    max_depth: int = 3,
    min_leaf_share: float = 0.01,
    random_state: int = 0,
    names: dict[int, str] | None = None,
) -> SurrogateRules:
    """Fit a shallow tree that reproduces ``labels`` and read it as rules.

    Parameters
    ----------
    features : DataFrame
        Interpretable features, index ``customer_id``; numeric and boolean columns
        are used, others ignored.
    labels : Series
        Segment id per customer (same index).
    max_depth : int
        Tree depth (``profiles.tree_depth``): at most ``2**max_depth`` leaves.
    min_leaf_share : float
        Smallest leaf as a share of customers (``profiles.min_leaf_share``).
    random_state : int
        Seed of the tree (ties between equally good splits).
    names : dict, optional
        Segment id -> name, copied into the rules table.

    Returns
    -------
    SurrogateRules
    """
    if max_depth < 1:
        raise DataError(
            f"profiles.tree_depth is {max_depth}; a surrogate tree needs depth >= 1 "
            "(3 gives at most 8 readable leaves)"
        )
    common = features.index.intersection(labels.index)
    numeric = numeric_features(features.loc[common])
    numeric = numeric.loc[:, numeric.notna().any()]
    if numeric.shape[1] == 0 or len(common) == 0:
        raise DataError(
            "surrogate rules need customers with numeric features and labels "
            f"(numeric columns: {list(numeric.columns)}, customers in both: "
            f"{len(common)}); check that labels are indexed by customer_id"
        )
    y = labels.loc[common].astype("int64")
    fill = {
        c: float(numeric[c].median())
        for c in numeric.columns
        if numeric[c].isna().any()
    }
    data = numeric.fillna(fill)
    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=max(1, int(min_leaf_share * len(data))),
        random_state=random_state,
    ).fit(data.to_numpy(), y.to_numpy())
    columns = list(data.columns)
    sorted_values = {c: np.unique(data[c].to_numpy()) for c in columns}
    leaves = []
    t = tree.tree_
    for node, conds in _leaf_paths(tree):
        named = []
        for f, op, thr in conds:
            values = sorted_values[columns[f]]
            low = values[values <= thr].max()
            high = values[values > thr].min()
            named.append((columns[f], op, nice_threshold(float(low), float(high))))
        counts = t.value[node][0]
        below = _leaf_class(tree, node)
        leaves.append(
            {
                "segment": int(tree.classes_[below]),
                "conditions": _simplify(named),
                "size": int(t.n_node_samples[node]),
                "purity": float(counts[below] / np.sum(counts)),
            }
        )
    used = sorted(
        {c for leaf in leaves for c, _, _ in leaf["conditions"]}, key=columns.index
    )
    result = SurrogateRules(
        rules=pd.DataFrame(columns=RULE_COLUMNS),
        fidelity=float("nan"),
        features=columns,
        fill={c: v for c, v in fill.items() if c in used},
        leaves=leaves,
        max_depth=max_depth,
    )
    predicted = result.predict(data)
    result.fidelity = float((predicted == y).mean())
    rows = []
    for segment in sorted(y.unique()):
        mine = [leaf for leaf in leaves if leaf["segment"] == segment]
        in_segment = y == segment
        selected = predicted == segment
        if mine:
            texts = [_text(leaf["conditions"]) for leaf in mine]
            sqls = [_sql(leaf["conditions"], result.fill) for leaf in mine]
            text = texts[0] if len(texts) == 1 else " or ".join(f"({x})" for x in texts)
            sql = sqls[0] if len(sqls) == 1 else " OR ".join(f"({x})" for x in sqls)
        else:
            text = "no rule: the tree never predicts this segment (raise profiles.tree_depth)"
            sql = "1 = 0"
        rows.append(
            {
                "segment": int(segment),
                "name": segment_label(segment, names),
                "size": int(in_segment.sum()),
                "text": text,
                "sql": sql,
                "leaves": len(mine),
                "fidelity": float((selected & in_segment).sum() / in_segment.sum()),
                "precision": float((selected & in_segment).sum() / selected.sum())
                if selected.any()
                else float("nan"),
            }
        )
    result.rules = pd.DataFrame(rows, columns=RULE_COLUMNS)
    logger.info("surrogate rules: depth %d, fidelity %.3f", max_depth, result.fidelity)
    return result
