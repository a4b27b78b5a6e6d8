"""The compiled scoring path: the fitted pipeline as an encoder plus an ONNX tree ensemble.

At registration the classifier of a :func:`rpaml_models.build_pipeline` pipeline is
converted to one ONNX ``TreeEnsemble`` node (``ai.onnx.ml`` opset 5) whose split values
and leaf weights are **double** tensors, so every comparison is made at the precision
scikit-learn uses. The node returns the raw margin; the baseline is added and the
logistic applied in float64 NumPy, as scikit-learn does. Preprocessing is replaced by a
column encoder that reproduces the ``ColumnTransformer`` (numeric and boolean columns
as floats, categoricals as their ordinal codes) without building a DataFrame.

A compiled model is only served after a parity check against scikit-learn on held-out
rows plus probe rows placed on, just below and just above every split threshold (where
float32 conversions go wrong): the largest probability difference and the number of
differing decisions are recorded in the model's metadata, and the check passes only
within the tolerance set in the decision policy. Otherwise scikit-learn is served and
the metadata says why.

The ONNX libraries are optional: without ``onnx`` at registration or ``onnxruntime`` at
loading, scikit-learn is served and the reason is recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata as distributions
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.pipeline import Pipeline

from rpaml_models.errors import CompilationError
from rpaml_models.features import encoded_feature_order
from rpaml_models.linear_path import LinearPath, linear_probe_rows
from rpaml_models.policy import DecisionPolicy
from rpaml_models.schema import FeatureSchema

ONNX_FILE = "model.onnx"
ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 5
ONNX_OPSET = 21
_INPUT = "X"
_OUTPUT = "margin"
# TreeEnsemble (opset 5) node modes.
_BRANCH_LEQ = 0
_BRANCH_MEMBER = 6
# Numbers of random held-out-like probe rows added to the threshold probes.
_PROBE_ROWS = 2_000

FloatMatrix = npt.NDArray[np.float64]


class CompilationReport(BaseModel):
    """What happened when a model version was compiled (stored in ``metadata.json``).

    Attributes
    ----------
    runtime : {"onnxruntime", "numpy", "sklearn"}
        The scoring path the service uses for this version (``numpy``: the spline
        logistic recipe's path, :mod:`rpaml_models.linear_path`).
    reason : str
        Why that runtime: the parity result, or why compilation was not possible.
    onnx_sha256 : str or None
        SHA-256 of ``model.onnx`` when compiled; loading verifies it.
    parity_rows : int
        Rows compared with scikit-learn (held-out plus threshold probes).
    max_probability_difference : float or None
        Largest absolute difference of the positive-class probability over those rows.
    decision_mismatches : int or None
        Rows whose policy decision differs between the two paths.
    libraries : dict of str to str
        Versions of the converter libraries used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    runtime: Literal["onnxruntime", "numpy", "sklearn"]
    reason: str
    onnx_sha256: str | None = None
    parity_rows: int = 0
    max_probability_difference: float | None = None
    decision_mismatches: int | None = None
    libraries: dict[str, str] = Field(default_factory=dict)


class ColumnEncoder:
    """The pipeline's preprocessing step, reproduced column by column in NumPy.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted pipeline from :func:`rpaml_models.build_pipeline`.
    schema : FeatureSchema
        The model's inputs.

    Raises
    ------
    CompilationError
        If the preprocessing is not the one ``build_pipeline`` makes.
    """

    def __init__(self, pipeline: Pipeline, schema: FeatureSchema) -> None:
        preprocess = pipeline[0]
        self.order = encoded_feature_order(schema)
        produced = tuple(str(name) for name in preprocess.get_feature_names_out())
        if produced != self.order:
            raise CompilationError(
                f"preprocessing outputs {produced}, expected one column per feature "
                f"in the order {self.order}"
            )
        kinds = {spec.name: spec.kind for spec in schema.features}
        self.codes: dict[str, dict[str, float]] = {}
        for name, transformer, columns in getattr(preprocess, "transformers_", []):
            if not name.startswith("categorical_"):
                continue
            categories = getattr(transformer, "categories_", None)
            if categories is None or len(columns) != 1:
                raise CompilationError(f"unexpected categorical transformer {name!r}")
            values = [str(value) for value in categories[0].tolist()]
            self.codes[str(columns[0])] = {v: float(i) for i, v in enumerate(values)}
        missing = [n for n in self.order if kinds[n] == "categorical" and n not in self.codes]
        if missing:
            raise CompilationError(f"no fitted encoder for categorical(s) {missing}")
        self.kinds = tuple(kinds[name] for name in self.order)

    def encode(self, columns: Mapping[str, Any]) -> FloatMatrix:
        """Encode validated columns (see :meth:`FeatureSchema.validate_columns`).

        Returns
        -------
        ndarray of shape (n_rows, n_features), dtype float64
            Columns in :func:`~rpaml_models.features.encoded_feature_order`; missing and
            unknown categories are NaN, as the ``OrdinalEncoder`` makes them.
        """
        n_rows = len(columns[self.order[0]]) if self.order else 0
        out = np.empty((n_rows, len(self.order)), dtype=np.float64)
        for position, (name, kind) in enumerate(zip(self.order, self.kinds, strict=True)):
            column = columns[name]
            if kind != "categorical":
                out[:, position] = np.asarray(column, dtype=np.float64)
                continue
            codes = self.codes[name]
            out[:, position] = [
                codes.get(value, np.nan) if isinstance(value, str) else np.nan
                for value in np.asarray(column, dtype=object).tolist()
            ]
        return out


# Largest categorical code re-encoded by table lookup (HGB allows at most 255 anyway).
_MAX_TABLE_CODE = 4096


@dataclass(frozen=True)
class ClassifierLayout:
    """How the classifier reads the encoded matrix, besides its trees.

    ``HistGradientBoostingClassifier`` re-encodes its categorical columns (sorted codes
    seen in training become 0..k-1, others become missing) and puts them first. The
    compiled path does the same in NumPy before the trees.

    Attributes
    ----------
    baseline : float
        The baseline margin added to the trees' sum.
    columns : tuple of int
        For each column the trees read, the encoded column it comes from.
    categories : dict of int to ndarray
        For each categorical tree column, the sorted encoded codes seen in training.
    known : dict of int to ndarray
        For each categorical tree column, the codes the trees know; others are missing.
    """

    baseline: float
    columns: tuple[int, ...]
    categories: dict[int, npt.NDArray[np.float64]]
    known: dict[int, npt.NDArray[np.float64]]
    _tables: dict[int, FloatMatrix] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Encoded categoricals are small integer codes, so the re-encoding below is one
        # table lookup per value; searchsorted and isin cost tens of microseconds per
        # call, which dominated scoring a single row. Tables are built only when every
        # seen code is a small non-negative integer; other layouts keep the general path.
        tables: dict[int, FloatMatrix] = {}
        for column, seen in self.categories.items():
            integral = len(seen) and bool(np.all((seen >= 0) & (seen == np.floor(seen))))
            if not integral or seen.max() > _MAX_TABLE_CODE:
                tables = {}
                break
            known = set(self.known[column].tolist())
            # The last slot answers every code outside the table: missing.
            table = np.full(int(seen.max()) + 2, np.nan)
            for inner, code in enumerate(seen.tolist()):
                if float(inner) in known:
                    table[int(code)] = float(inner)
            tables[column] = table
        object.__setattr__(self, "_tables", tables)

    def arrange(self, encoded: FloatMatrix) -> FloatMatrix:
        """The matrix the trees read, from the pipeline's encoded matrix."""
        # Fancy indexing copies into a new C-contiguous array.
        matrix = np.asarray(encoded[:, list(self.columns)], dtype=np.float64, order="C")
        if self._tables or not self.categories:
            for column, table in self._tables.items():
                values = matrix[:, column]
                outside = len(table) - 1
                # NaN fails every comparison, so missing values take the last slot.
                valid = (values >= 0) & (values < outside) & (values == np.floor(values))
                matrix[:, column] = table[np.where(valid, values, outside).astype(np.intp)]
            return matrix
        for column, seen in self.categories.items():
            values = matrix[:, column]
            index = np.searchsorted(seen, values)
            clipped = np.minimum(index, max(len(seen) - 1, 0))
            valid = (index < len(seen)) & (seen[clipped] == values) if len(seen) else index < 0
            inner = np.where(valid, clipped.astype(np.float64), np.nan)
            inner[~np.isin(inner, self.known[column])] = np.nan
            matrix[:, column] = inner
        return matrix


class CompiledClassifier:
    """The classifier as an ONNX Runtime session over the encoded matrix.

    Parameters
    ----------
    onnx_bytes : bytes
        The serialised model written by :func:`convert_classifier`.
    layout : ClassifierLayout
        From :func:`classifier_layout` on the same pipeline.

    Raises
    ------
    CompilationError
        If ONNX Runtime is not installed or cannot load the model.
    """

    def __init__(self, onnx_bytes: bytes, layout: ClassifierLayout) -> None:
        try:
            import onnxruntime  # type: ignore[import-untyped]
        except ImportError as error:
            raise CompilationError("onnxruntime is not installed") from error
        options = onnxruntime.SessionOptions()
        # One thread per call: the service scores on a thread pool already, and a small
        # batch is faster without the intra-op thread hand-offs.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(
                onnx_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ORT raises its own untyped errors
            raise CompilationError(f"onnxruntime cannot load the model: {error}") from error
        self.layout = layout

    def margin(self, encoded: FloatMatrix) -> FloatMatrix:
        """Raw margins (log-odds) of encoded rows."""
        if encoded.shape[0] == 0:
            return np.empty(0, dtype=np.float64)
        output = self._session.run([_OUTPUT], {_INPUT: self.layout.arrange(encoded)})[0]
        return np.asarray(output, dtype=np.float64)[:, 0] + self.layout.baseline

    def predict_positive(self, encoded: FloatMatrix) -> FloatMatrix:
        """Positive-outcome probabilities of encoded rows (logistic of the margin, float64)."""
        margin = self.margin(encoded)
        return np.asarray(1.0 / (1.0 + np.exp(-margin)), dtype=np.float64)


def classifier_layout(pipeline: Pipeline) -> ClassifierLayout:
    """The classifier's baseline and input layout, stored next to the ONNX file.

    Raises
    ------
    CompilationError
        If the classifier is not a binary HistGradientBoostingClassifier.
    """
    classifier = pipeline[-1]
    if type(classifier).__name__ != "HistGradientBoostingClassifier":
        raise CompilationError(f"cannot compile a {type(classifier).__name__}")
    if list(classifier.classes_) != [0, 1] or classifier.n_trees_per_iteration_ != 1:
        raise CompilationError("only binary classifiers with classes [0, 1] are compiled")
    baseline = float(np.asarray(classifier._baseline_prediction).ravel()[0])
    n_features = int(classifier.n_features_in_)
    outer = getattr(classifier, "is_categorical_", None)
    preprocessor = getattr(classifier, "_preprocessor", None)
    if outer is None or preprocessor is None or not np.any(outer):
        return ClassifierLayout(baseline, tuple(range(n_features)), {}, {})
    cat_columns = np.flatnonzero(outer).tolist()
    num_columns = np.flatnonzero(~np.asarray(outer)).tolist()
    encoder = preprocessor.named_transformers_["encoder"]
    categories = {
        inner: np.asarray(seen, dtype=np.float64) for inner, seen in enumerate(encoder.categories_)
    }
    bitsets, index_map = classifier._bin_mapper.make_known_categories_bitsets()
    known: dict[int, npt.NDArray[np.float64]] = {}
    for inner in range(len(cat_columns)):
        bits = bitsets[index_map[inner]]
        codes = [c for c in range(256) if (int(bits[c // 32]) >> (c % 32)) & 1]
        known[inner] = np.asarray(codes, dtype=np.float64)
    return ClassifierLayout(baseline, tuple(cat_columns + num_columns), categories, known)


def convert_classifier(pipeline: Pipeline) -> bytes:
    """Convert the pipeline's classifier to an ONNX model with double-precision trees.

    The model takes the encoded matrix (``X``, double ``[N, n_features]``) and returns
    the sum of the trees' leaf values (``margin``, double ``[N, 1]``), without the
    baseline. Numeric splits are ``x <= threshold``; categorical splits are set
    membership of the category code; missing values follow the side scikit-learn sends
    them to.

    Raises
    ------
    CompilationError
        If ``onnx`` is not installed or the classifier cannot be converted.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as error:
        raise CompilationError("onnx is not installed") from error
    classifier_layout(pipeline)  # refuses anything but a binary HGB classifier
    classifier = pipeline[-1]
    n_features = int(classifier.n_features_in_)
    roots: list[int] = []
    feature_ids: list[int] = []
    modes: list[int] = []
    splits: list[float] = []
    true_ids: list[int] = []
    true_leafs: list[int] = []
    false_ids: list[int] = []
    false_leafs: list[int] = []
    missing_true: list[int] = []
    members: list[float] = []
    leaf_weights: list[float] = []
    for iteration in classifier._predictors:
        predictor = iteration[0]
        nodes = predictor.nodes
        bitsets = predictor.raw_left_cat_bitsets
        node_index: dict[int, int] = {}
        leaf_index: dict[int, int] = {}
        interior = [i for i in range(len(nodes)) if not nodes[i]["is_leaf"]]
        for i in range(len(nodes)):
            if nodes[i]["is_leaf"]:
                leaf_index[i] = len(leaf_weights)
                leaf_weights.append(float(nodes[i]["value"]))
        if not interior:
            # A tree that is a single leaf: one always-true split leading to it.
            roots.append(len(feature_ids))
            leaf = leaf_index[0]
            feature_ids.append(0)
            modes.append(_BRANCH_LEQ)
            splits.append(0.0)
            true_ids.append(leaf)
            true_leafs.append(1)
            false_ids.append(leaf)
            false_leafs.append(1)
            missing_true.append(1)
            continue
        for i in interior:
            node_index[i] = len(feature_ids) + len(node_index)
        roots.append(node_index[0])
        for i in interior:
            node = nodes[i]
            feature_ids.append(int(node["feature_idx"]))
            if node["is_categorical"]:
                bits = bitsets[int(node["bitset_idx"])]
                left = [float(c) for c in range(256) if (int(bits[c // 32]) >> (c % 32)) & 1]
                if not left:
                    raise CompilationError("a categorical split sends no category left")
                modes.append(_BRANCH_MEMBER)
                splits.append(0.0)
                members.extend([*left, float("nan")])
            else:
                modes.append(_BRANCH_LEQ)
                splits.append(float(node["num_threshold"]))
            for child, ids, leafs in (
                (int(node["left"]), true_ids, true_leafs),
                (int(node["right"]), false_ids, false_leafs),
            ):
                if child in leaf_index:
                    ids.append(leaf_index[child])
                    leafs.append(1)
                else:
                    ids.append(node_index[child])
                    leafs.append(0)
            missing_true.append(int(node["missing_go_to_left"]))
    attributes: dict[str, Any] = {
        "aggregate_function": 1,  # SUM
        "post_transform": 0,  # NONE: the logistic is applied in float64 by the caller
        "n_targets": 1,
        "tree_roots": roots,
        "nodes_featureids": feature_ids,
        "nodes_modes": numpy_helper.from_array(np.asarray(modes, dtype=np.uint8)),
        "nodes_splits": numpy_helper.from_array(np.asarray(splits, dtype=np.float64)),
        "nodes_truenodeids": true_ids,
        "nodes_trueleafs": true_leafs,
        "nodes_falsenodeids": false_ids,
        "nodes_falseleafs": false_leafs,
        "nodes_missing_value_tracks_true": missing_true,
        "leaf_targetids": [0] * len(leaf_weights),
        "leaf_weights": numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64)),
    }
    if members:
        attributes["membership_values"] = numpy_helper.from_array(
            np.asarray(members, dtype=np.float64)
        )
    node = helper.make_node(
        "TreeEnsemble", [_INPUT], [_OUTPUT], domain=ML_DOMAIN, name="trees", **attributes
    )
    graph = helper.make_graph(
        [node],
        "rpaml_classifier",
        [helper.make_tensor_value_info(_INPUT, TensorProto.DOUBLE, [None, n_features])],
        [helper.make_tensor_value_info(_OUTPUT, TensorProto.DOUBLE, [None, 1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(ML_DOMAIN, 5)],
        producer_name="rpaml_models",
    )
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # the checker raises its own error types
        raise CompilationError(f"the converted model is not valid ONNX: {error}") from error
    return bytes(model.SerializeToString())


def probe_rows(pipeline: Pipeline, encoded: FloatMatrix, *, seed: int = 0) -> FloatMatrix:
    """Encoded rows that sit on, just below and just above every split threshold.

    Each probe row starts from a held-out row (or NaN) and sets columns to threshold
    neighbours and NaN at random, so every split sees values on both sides of its
    threshold: the cases a float32 conversion gets wrong.
    """
    classifier = pipeline[-1]
    layout = classifier_layout(pipeline)
    n_features = int(classifier.n_features_in_)
    candidates: list[list[float]] = [[np.nan] for _ in range(n_features)]
    for iteration in classifier._predictors:
        nodes = iteration[0].nodes
        for node in nodes[nodes["is_leaf"] == 0]:
            if node["is_categorical"]:
                continue
            threshold = float(node["num_threshold"])
            candidates[layout.columns[int(node["feature_idx"])]].extend(
                [threshold, np.nextafter(threshold, -np.inf), np.nextafter(threshold, np.inf)]
            )
    for inner, seen in layout.categories.items():
        # Every code seen in training, one never seen, and a negative one.
        candidates[layout.columns[inner]].extend([*seen.tolist(), float(len(seen) + 1), -1.0])
    rng = np.random.default_rng(seed)
    if encoded.shape[0]:
        base = encoded[rng.integers(0, encoded.shape[0], _PROBE_ROWS)]
    else:
        base = np.full((_PROBE_ROWS, n_features), np.nan)
    probes = base.copy()
    for column in range(n_features):
        values = np.asarray(candidates[column], dtype=np.float64)
        replace = rng.random(_PROBE_ROWS) < 0.5
        probes[replace, column] = rng.choice(values, int(replace.sum()))
    return probes


def compile_model(
    pipeline: Pipeline,
    schema: FeatureSchema,
    policy: DecisionPolicy,
    holdout: pd.DataFrame | None = None,
) -> tuple[bytes | None, CompilationReport]:
    """Compile ``pipeline`` and check it against scikit-learn; never raises for a model.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted pipeline from :func:`rpaml_models.build_pipeline`.
    schema : FeatureSchema
        Its inputs.
    policy : DecisionPolicy
        Decides the parity rows on both paths; its ``compiled_*`` fields set the
        tolerance.
    holdout : pandas.DataFrame, optional
        Held-out rows with the schema's columns; threshold probes are always added.

    Returns
    -------
    onnx_bytes : bytes or None
        The ONNX model to store, or None when scikit-learn must be served.
    report : CompilationReport
    """
    libraries = _converter_versions()
    onnx_bytes: bytes | None = None
    compiled: CompiledClassifier | LinearPath
    try:
        encoder = ColumnEncoder(pipeline, schema)
        if type(pipeline[-1]).__name__ == "HistGradientBoostingClassifier":
            onnx_bytes = convert_classifier(pipeline)
            compiled = CompiledClassifier(onnx_bytes, classifier_layout(pipeline))
        else:
            # Not a tree ensemble: the spline logistic recipe has a NumPy path instead.
            compiled = LinearPath(pipeline[-1])
    except CompilationError as error:
        return None, CompilationReport(
            runtime="sklearn", reason=f"not compiled: {error}", libraries=libraries
        )
    preprocess, classifier = pipeline[:-1], pipeline[-1]
    positive = list(classifier.classes_).index(1)
    has_holdout = holdout is not None and len(holdout) > 0
    frame = (
        schema.coerce_frame(holdout)
        if holdout is not None and has_holdout
        else _edge_frame(schema, encoder)
    )
    reference = np.asarray(preprocess.transform(frame), dtype=np.float64)
    encoded = encoder.encode({name: frame[name].to_numpy() for name in schema.names})
    if not np.array_equal(reference, encoded, equal_nan=True):
        return None, CompilationReport(
            runtime="sklearn",
            reason="not compiled: the column encoder differs from the pipeline's preprocessing",
            libraries=libraries,
        )
    probes = (
        probe_rows(pipeline, encoded if has_holdout else encoded[:0])
        if onnx_bytes is not None
        else linear_probe_rows(encoded)
    )
    rows = np.vstack([encoded, probes])
    expected = np.asarray(classifier.predict_proba(rows)[:, positive], dtype=np.float64)
    actual = compiled.predict_positive(rows)
    difference = float(np.max(np.abs(expected - actual)))
    policy_rows = _policy_rows(policy, encoder.order, rows)
    mismatches = sum(
        a.action != b.action
        for a, b in zip(
            policy.decide(expected.tolist(), policy_rows),
            policy.decide(actual.tolist(), policy_rows),
            strict=True,
        )
    )
    measured = (
        f"{len(rows)} parity rows: largest probability difference {difference:.3g}, "
        f"{mismatches} differing decision(s)"
    )
    tolerance = (
        f"policy tolerance {policy.compiled_score_tolerance:g} and "
        f"{policy.compiled_max_decision_mismatches} decision(s)"
    )
    common: dict[str, Any] = {
        "parity_rows": len(rows),
        "max_probability_difference": difference,
        "decision_mismatches": mismatches,
        "libraries": libraries,
    }
    if (
        difference <= policy.compiled_score_tolerance
        and mismatches <= policy.compiled_max_decision_mismatches
    ):
        if onnx_bytes is None:
            return None, CompilationReport(
                runtime="numpy", reason=f"NumPy path: {measured}, within {tolerance}", **common
            )
        return onnx_bytes, CompilationReport(
            runtime="onnxruntime",
            reason=f"compiled: {measured}, within {tolerance}",
            onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
            **common,
        )
    return None, CompilationReport(
        runtime="sklearn", reason=f"parity failed: {measured}, beyond {tolerance}", **common
    )


def _edge_frame(schema: FeatureSchema, encoder: ColumnEncoder) -> pd.DataFrame:
    """Rows covering every category, an unknown one, missing values and booleans."""
    n_rows = max([3, *(len(codes) + 2 for codes in encoder.codes.values())])
    columns: dict[str, Any] = {}
    for spec in schema.features:
        if spec.kind == "categorical":
            values: list[object] = [*encoder.codes[spec.name], "\x00unknown", None]
            values += [None] * (n_rows - len(values))
            columns[spec.name] = pd.Series(values, dtype=object)
        elif spec.kind == "boolean":
            columns[spec.name] = pd.Series(([True, False, None] * n_rows)[:n_rows], dtype=object)
        else:
            columns[spec.name] = np.resize(np.array([0.0, 1.5, np.nan, -2.0]), n_rows)
    return schema.coerce_frame(pd.DataFrame(columns))


def _policy_rows(
    policy: DecisionPolicy, order: tuple[str, ...], rows: FloatMatrix
) -> list[dict[str, object]] | None:
    """The amounts a costs policy scales by, read back from the encoded rows."""
    name = policy.amount_feature
    if name is None or name not in order:
        return None
    column = rows[:, order.index(name)].tolist()
    return [{name: None if value != value else value} for value in column]


def _converter_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in ("onnx", "onnxruntime"):
        try:
            versions[name] = distributions.version(name)
        except distributions.PackageNotFoundError:
            continue
    return versions
