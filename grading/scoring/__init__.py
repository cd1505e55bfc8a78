"""Pure scoring maths of TierHub: frames in, new frames out; no Django, ORM, settings or clock.

See docs/grading.md for the definitions and docs/contributing.md ("Conventions": pure code
stays pure) for the boundary. The Django side builds the input frames (`inputs`), the parameters
(`rules`), calls `score_population` and stores the result.
"""

from grading.scoring.compute import (
    COOPERATION_COMPONENTS,
    FACT_COLUMNS,
    POTENTIAL_COMPONENTS,
    ROUND_DECIMALS,
    SCORE_COLUMNS,
    composite_value,
    cooperation_value,
    customer_facts,
    historical_value,
    lifecycle_stage,
    potential_value,
    rfm_label,
    rfm_scores,
    rfm_segment,
    score_population,
    value_pyramid,
)
from grading.scoring.inputs import (
    CUSTOMER_COLUMNS,
    CUSTOMER_DTYPES,
    ENGAGEMENT_COUNT_COLUMNS,
    ORDER_COLUMNS,
    ORDER_DTYPES,
    customer_table,
    empty_customers,
    empty_orders,
    order_arrays,
)
from grading.scoring.rules import (
    ALGORITHM_VERSION,
    LIFECYCLE_STAGES,
    MAX_WINDOW_DAYS,
    PYRAMID_LAYERS,
    RFM_LABEL_KEYS,
    RFM_LABELS,
    RFM_METHODS,
    RFM_SEGMENTS,
    GradeRule,
    ScoringParams,
)
from grading.scoring.tiers import assign_grades, validate_ladder

__all__ = [
    "ALGORITHM_VERSION",
    "COOPERATION_COMPONENTS",
    "CUSTOMER_COLUMNS",
    "CUSTOMER_DTYPES",
    "ENGAGEMENT_COUNT_COLUMNS",
    "FACT_COLUMNS",
    "LIFECYCLE_STAGES",
    "MAX_WINDOW_DAYS",
    "ORDER_COLUMNS",
    "ORDER_DTYPES",
    "POTENTIAL_COMPONENTS",
    "PYRAMID_LAYERS",
    "RFM_LABELS",
    "RFM_LABEL_KEYS",
    "RFM_METHODS",
    "RFM_SEGMENTS",
    "ROUND_DECIMALS",
    "SCORE_COLUMNS",
    "GradeRule",
    "ScoringParams",
    "assign_grades",
    "composite_value",
    "cooperation_value",
    "customer_facts",
    "customer_table",
    "empty_customers",
    "empty_orders",
    "historical_value",
    "lifecycle_stage",
    "order_arrays",
    "potential_value",
    "rfm_label",
    "rfm_scores",
    "rfm_segment",
    "score_population",
    "validate_ladder",
    "value_pyramid",
]
