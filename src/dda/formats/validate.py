"""``dda data validate``: every problem of a manifest and its files, each with its line and a fix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from dda.formats.checks import FileInfo, inspect_record
from dda.formats.manifest import ParsedManifest, parse_manifest
from dda.formats.problems import Problem, ProblemList
from dda.formats.uris import FileSource, UriResolver


@dataclass
class ValidationReport:
    """The outcome of validating one manifest."""

    manifest: Path
    parsed: ParsedManifest
    problems: ProblemList
    files_checked: bool
    infos: dict[int, FileInfo] = field(default_factory=dict)  # line -> files, for usable lines

    @property
    def ok(self) -> bool:
        return self.problems.ok

    @property
    def sorted_problems(self) -> list[Problem]:
        return self.problems.sorted()

    def label_counts(self) -> dict[str, int]:
        """Images per class name, from the files when checked, else from the manifest."""
        names = self.parsed.class_names
        counts: Counter[int] = Counter()
        for record in self.parsed.usable_records():
            info = self.infos.get(record.line)
            label = info.label if info is not None else self.parsed.label_of(record)
            if label is not None:
                counts[label] += 1
        return {names[i] if i < len(names) else str(i): counts[i] for i in sorted(set(counts) | {0})}

    def summary(self) -> str:
        parsed = self.parsed
        usable = len(parsed.usable_records())
        if self.files_checked:
            usable = len(self.infos)
        return (
            f"{parsed.path.name}: {parsed.format} manifest, jobs: {parsed.jobs.describe()}; "
            f"{parsed.line_count} lines, {usable} usable; "
            f"{len(self.problems.errors)} error(s), {len(self.problems.warnings)} warning(s)"
        )


def validate_manifest(
    manifest_path: Path | str,
    *,
    mappings: Mapping[str, str] | None = None,
    store: FileSource | None = None,
    jobs: Sequence[str] = (),
    normal_class: str | None = None,
    check_files: bool = True,
    progress: bool | None = None,
) -> ValidationReport:
    """Check a Ground Truth or DDA manifest: fields, class consistency, images and masks.

    Nothing stops at the first problem: every line is checked and every problem kept.
    """
    path = Path(manifest_path)
    parsed = parse_manifest(path, jobs=jobs, normal_class=normal_class)
    problems = ProblemList()
    problems.extend(parsed.problems)
    report = ValidationReport(path, parsed, problems, check_files)
    if check_files:
        resolver = UriResolver(mappings, base_dir=path.parent, store=store)
        records = parsed.usable_records()
        for record in tqdm(records, desc=f"checking {path.name}", unit="img", disable=_quiet(progress)):
            info = inspect_record(record, parsed, resolver, problems)
            if info is not None:
                report.infos[record.line] = info
    return report


def _quiet(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
