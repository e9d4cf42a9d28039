"""The portal's ORM models. Importing this package registers every table on ``Base.metadata``."""

from dda.portal.db.audit import AuditEvent, AuditHead
from dda.portal.db.base import Base, new_id
from dda.portal.db.data import (
    DataEntry,
    DataFolder,
    DataObject,
    DatasetItem,
    DatasetRow,
    DatasetVersion,
    UploadSession,
)
from dda.portal.db.fleet import (
    Deployment,
    DeploymentDevice,
    Device,
    DeviceCommandRow,
    DeviceHeartbeat,
    DeviceNonce,
    DeviceResult,
    EnrollmentToken,
)
from dda.portal.db.identity import ApiToken, RefreshToken, RoleAssignment, User
from dda.portal.db.jobs import Component, Job, JobEvent, SigningKey
from dda.portal.db.labeling import LabelingJob, LabelingTask
from dda.portal.db.registry import ModelPackage, ModelStageChange, ModelVersion, RegisteredModel
from dda.portal.db.tenancy import DataLocation, UseCase, UseCaseDataLocation

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Component",
    "DataEntry",
    "DataFolder",
    "DataLocation",
    "DataObject",
    "DatasetItem",
    "DatasetRow",
    "DatasetVersion",
    "Deployment",
    "DeploymentDevice",
    "Device",
    "DeviceCommandRow",
    "DeviceHeartbeat",
    "DeviceNonce",
    "DeviceResult",
    "EnrollmentToken",
    "Job",
    "JobEvent",
    "LabelingJob",
    "LabelingTask",
    "ModelPackage",
    "ModelStageChange",
    "ModelVersion",
    "RefreshToken",
    "RegisteredModel",
    "RoleAssignment",
    "SigningKey",
    "UploadSession",
    "UseCase",
    "UseCaseDataLocation",
    "User",
    "new_id",
]
