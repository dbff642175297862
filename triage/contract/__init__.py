"""The data contract (docs/architecture.md §3): the names and codes of an extract's
tables, the harm-weight table its incident types come from, and validation that
reports every breach at once, with table, column, row and value.

    report = validate_extract("data/extract", mapping="force_mapping.yaml")
    extract = report.extract if report.ok else None

Everything downstream (features, labels, models, the service) reads a validated
:class:`Extract`; nothing in this package imports from a later stage.
"""

from triage.contract.checks import Problem, ReadOptions, Rule
from triage.contract.harm import HarmType, HarmWeights, load_harm_weights
from triage.contract.mapping import ColumnMapping, TableMapping, apply_mapping, read_mapping
from triage.contract.names import (
    BOOL_FLAGS,
    DASH_GRADES,
    DASH_QUESTIONS,
    ETHNICITIES,
    INCIDENT_COLUMNS,
    ORDER_COLUMNS,
    ORDER_TYPES,
    PEOPLE_COLUMNS,
    RELATIONSHIPS,
    SEXES,
    TABLES,
    Extract,
)
from triage.contract.validation import (
    ValidationReport,
    load_extract,
    validate_extract,
    validate_frames,
)

__all__ = [
    "BOOL_FLAGS",
    "DASH_GRADES",
    "DASH_QUESTIONS",
    "ETHNICITIES",
    "INCIDENT_COLUMNS",
    "ORDER_COLUMNS",
    "ORDER_TYPES",
    "PEOPLE_COLUMNS",
    "RELATIONSHIPS",
    "SEXES",
    "TABLES",
    "ColumnMapping",
    "Extract",
    "HarmType",
    "HarmWeights",
    "Problem",
    "ReadOptions",
    "Rule",
    "TableMapping",
    "ValidationReport",
    "apply_mapping",
    "load_extract",
    "load_harm_weights",
    "read_mapping",
    "validate_extract",
    "validate_frames",
]
