"""Estimators: difference-in-differences, event studies, staggered group-time ATTs, and their inference."""
from .att_gt import AggregateResult, ATTgtResult, att_gt
from .did import did
from .event_study import EventStudyResult, event_study
from .ols import OLSFit, fit_ols
from .probit_did import probit_did
from .threshold import threshold_did, threshold_event_study

__all__ = ["AggregateResult", "ATTgtResult", "EventStudyResult", "OLSFit", "att_gt", "did", "event_study", "fit_ols",
           "probit_did", "threshold_did", "threshold_event_study"]
