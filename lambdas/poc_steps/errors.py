"""Errors the workflow's Retry and Catch rules match by name (Lambda reports the class name)."""


class PocStepError(Exception):
    """Base class: the message names the resource and says what to do."""


class Throttled(PocStepError):
    """The service throttled us; Step Functions retries with backoff and jitter."""


class ResourceBusy(PocStepError):
    """ResourceInUseException meaning 'busy now' (a parent still creating, a deletion pending)."""


class QuotaExceeded(PocStepError):
    """LimitExceededException: retried with long backoff, then explained."""


class ResourceFailed(PocStepError):
    """A resource reached a failed terminal status; the message carries the service's failureReason."""


class ConfigConflict(PocStepError):
    """A resource with this name exists but differs from the config in a way the service cannot update."""


class DataValidationFailed(PocStepError):
    """Uploaded data would fail (or badly weaken) the import; the message says which file and why."""


class RunAlreadyInProgress(PocStepError):
    """Another execution is already building this POC."""
