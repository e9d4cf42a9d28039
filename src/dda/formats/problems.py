"""Problems found in a manifest: each names its line, what is wrong and how to fix it.

Readers and the validator collect every problem instead of stopping at the first one, so a user
fixes a whole manifest in one pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from dda.core.errors import InvalidInput


class Severity(StrEnum):
    ERROR = "error"  # the line cannot be used as it is
    WARNING = "warning"  # usable, but probably not what the user meant


@dataclass(frozen=True)
class Problem:
    """One problem. ``line`` is 1-based; 0 means the manifest as a whole."""

    line: int
    message: str
    fix: str
    severity: Severity = Severity.ERROR
    field: str = ""

    def format(self) -> str:
        where = f"line {self.line}" if self.line else "manifest"
        about = f" [{self.field}]" if self.field else ""
        return f"{where}: {self.severity.value}{about}: {self.message}\n  fix: {self.fix}"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


@dataclass
class ProblemList:
    """An ordered collection of problems with helpers for reporting."""

    items: list[Problem] = field(default_factory=list)

    def add(
        self,
        line: int,
        message: str,
        fix: str,
        *,
        severity: Severity = Severity.ERROR,
        field_name: str = "",
    ) -> None:
        self.items.append(Problem(line, message, fix, severity, field_name))

    def warn(self, line: int, message: str, fix: str, *, field_name: str = "") -> None:
        self.add(line, message, fix, severity=Severity.WARNING, field_name=field_name)

    def extend(self, other: ProblemList | list[Problem]) -> None:
        self.items.extend(other.items if isinstance(other, ProblemList) else other)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def sorted(self) -> list[Problem]:
        return sorted(self.items, key=lambda p: (p.line, p.severity != Severity.ERROR))

    def lines_with_errors(self) -> set[int]:
        return {p.line for p in self.errors}

    def raise_if_errors(self, what: str, *, limit: int = 5, validate_hint: bool = True) -> None:
        """Raise InvalidInput summarising the first errors (the validator lists them all)."""
        errors = sorted(self.errors, key=lambda p: p.line)
        if not errors:
            return
        shown = "; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in errors[:limit])
        more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
        raise InvalidInput(
            f"{what} has {len(errors)} problem(s): {shown}{more}",
            hint=errors[0].fix
            + ("; run `dda data validate` to list every problem with its fix" if validate_hint else ""),
        )
