"""Point-in-time features and escalation labels (docs/architecture.md §4, §5).

A feature of an incident reads only records reported strictly before it; one
function (:func:`build_features`) builds a training matrix and the features of a
single new incident for the service. Labels look forward from an incident and are
missing, never negative, where their window passes the extract's end.

The window primitives (:mod:`~triage.features.windows`) are public because the
temporal splits and the synthetic world's facts use the same bounds.
"""

from triage.features.build import FeatureInfo, FeatureMatrix, Progress, build_features, catalogue
from triage.features.labels import build_labels, label_summary, qualifying_types

__all__ = [
    "FeatureInfo",
    "FeatureMatrix",
    "Progress",
    "build_features",
    "build_labels",
    "catalogue",
    "label_summary",
    "qualifying_types",
]
