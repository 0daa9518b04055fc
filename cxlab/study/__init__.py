"""Driver studies on the analyst's own data: schema, loading, validation, preparation, the run.

    schema = cx.study.load_schema("study.yaml")      # or cx.study.StudySchema.from_dict({...})
    data, customers = cx.study.load_data(schema)     # reads the survey (and customer file)
    report = cx.study.validate(schema, data, customers)
    report                                            # readable: errors, warnings, missing shares
    prepared = cx.study.prepare(schema, data, customers)   # stops on errors; counts every exclusion
    result = cx.study.run(schema)                      # all sections of the study

Validation errors stop the study (the report names the column, the offending values and rows and
the fix); warnings go into the study output. Nothing is dropped without being counted: the
``flow`` table of :class:`StudyData` lists every exclusion and its reason.

One module a step, each importing only the ones above it:

- :mod:`~cxlab.study.schema`       the configuration (YAML or dict), every key checked
- :mod:`~cxlab.study.loading`      read the survey and customer files (``cx.io.read_survey``)
- :mod:`~cxlab.study.rules`        coding rules shared by validation and preparation
- :mod:`~cxlab.study.validation`   the validation report (:func:`validate_file`: bounded memory)
- :mod:`~cxlab.study.preparation`  analysis-ready frames and the exclusion flow
- :mod:`~cxlab.study.analysis`     the study run: metrics, importance, quadrant, segments, retention
- :mod:`~cxlab.study.sections`     what the ``driver_study`` template's cells call (``show_*``)
- :mod:`~cxlab.study.publish`      ``cxlab study`` without argparse: validate, run the template
"""

from .analysis import (
    LOGISTIC_LMG_MAX,
    ImportanceComparison,
    RetentionLink,
    StudyResult,
    importance,
    kendall_w,
    outcome_distribution,
    outcome_group,
    outcome_summary,
    quadrant,
    retention_link,
    run,
    segment_importance,
    segment_metrics,
    segment_performance,
)
from .loading import READ_CHUNK, data_file, load_data, source_label
from .preparation import StudyData, prepare
from .publish import LARGE_FILE_BYTES, write_study
from .schema import METHODS, CustomerFile, Driver, Outcome, StudySchema, load_schema
from .sections import (
    show_header,
    show_importance,
    show_outcome,
    show_quadrant,
    show_quality,
    show_retention,
    show_segments,
    start,
)
from .validation import Issue, ValidationReport, validate, validate_file

__all__ = [
    "LARGE_FILE_BYTES", "LOGISTIC_LMG_MAX", "METHODS", "READ_CHUNK", "CustomerFile", "Driver",
    "ImportanceComparison", "Issue", "Outcome", "RetentionLink", "StudyData", "StudyResult",
    "StudySchema", "ValidationReport", "data_file", "importance", "kendall_w", "load_data",
    "load_schema", "outcome_distribution", "outcome_group", "outcome_summary", "prepare",
    "quadrant", "retention_link", "run", "segment_importance", "segment_metrics",
    "segment_performance", "show_header", "show_importance", "show_outcome", "show_quadrant",
    "show_quality", "show_retention", "show_segments", "source_label", "start", "validate",
    "validate_file", "write_study",
]
