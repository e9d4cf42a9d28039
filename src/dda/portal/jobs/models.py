"""Job statuses, types and the queue each type goes to."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobType(StrEnum):
    TRAINING = "training"
    EVALUATION = "evaluation"
    COMPILATION = "compilation"
    PACKAGING = "packaging"
    PUBLISHING = "publishing"
    LABELING_EXPORT = "labeling_export"


# Training and evaluation want the machine with the accelerator; the rest runs anywhere.
QUEUE_OF: dict[JobType, str] = {
    JobType.TRAINING: "train",
    JobType.EVALUATION: "train",
    JobType.COMPILATION: "default",
    JobType.PACKAGING: "default",
    JobType.PUBLISHING: "default",
    JobType.LABELING_EXPORT: "default",
}


class JobCancelled(Exception):
    """Raised by a handler that noticed the cancel request and stopped."""


class JobFailed(Exception):
    """A handler's expected failure: a message and a hint for the user."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
