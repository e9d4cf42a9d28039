"""Class spaces of a manifest: image classes, mask classes and box classes, checked across lines.

Every line names a class id and a class name; the manifest is only consistent when each id
always comes with the same name and each name with the same id. The first line that used a
pairing wins, and each conflicting line becomes a problem that names the earlier line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dda.formats.dataset import NORMAL_CLASS
from dda.formats.masks import BACKGROUND, RGB, ColorClass, to_hex
from dda.formats.problems import ProblemList

# Class names that mean "no defect" in the label categories people actually use.
NORMAL_NAMES = frozenset(
    {
        "normal",
        "good",
        "ok",
        "pass",
        "passed",
        "no-defect",
        "no_defect",
        "nodefect",
        "non-defective",
        "nondefective",
        "no-anomaly",
        "no_anomaly",
        "clean",
        "acceptable",
        "negative",
    }
)


DEFECT_NAMES = frozenset(
    {
        "anomaly",
        "anomalous",
        "defect",
        "defective",
        "bad",
        "ng",
        "fail",
        "failed",
        "reject",
        "rejected",
        "nok",
        "not-ok",
        "not_ok",
        "abnormal",
    }
)


def is_normal_name(name: str) -> bool:
    return name.strip().lower() in NORMAL_NAMES


def is_defect_name(name: str) -> bool:
    return name.strip().lower() in DEFECT_NAMES


@dataclass
class ClassSpace:
    """Pairs of (id, name) seen in a manifest, with the line that first used each."""

    what: str  # "image class", "box class": used in messages
    by_id: dict[int, tuple[str, int]] = field(default_factory=dict)
    by_name: dict[str, tuple[int, int]] = field(default_factory=dict)

    def observe(self, line: int, class_id: int, name: str, problems: ProblemList, field_name: str) -> bool:
        """Record one use; returns False (and adds a problem) when it contradicts an earlier line."""
        known = self.by_id.get(class_id)
        if known is not None and known[0] != name:
            problems.add(
                line,
                f"{self.what} id {class_id} is named {name!r} here but {known[0]!r} on line {known[1]}",
                f"use one name per {self.what} id in the whole manifest (relabel or fix the class name)",
                field_name=field_name,
            )
            return False
        seen = self.by_name.get(name)
        if seen is not None and seen[0] != class_id:
            problems.add(
                line,
                f"{self.what} {name!r} has id {class_id} here but id {seen[0]} on line {seen[1]}",
                f"use one id per {self.what} name in the whole manifest",
                field_name=field_name,
            )
            return False
        self.by_id.setdefault(class_id, (name, line))
        self.by_name.setdefault(name, (class_id, line))
        return True

    def ids(self) -> list[int]:
        return sorted(self.by_id)

    def name_of(self, class_id: int) -> str:
        return self.by_id[class_id][0]


@dataclass(frozen=True)
class ImageClasses:
    """Image classes with normal first: ``names[0]`` is normal; ``remap`` maps manifest ids to ours."""

    names: list[str]
    remap: dict[int, int]
    original_names: list[str]


def build_image_classes(
    space: ClassSpace,
    problems: ProblemList,
    *,
    normal_class: str | None = None,
    zero_is_normal: bool = False,
) -> ImageClasses:
    """Order the classes so the normal one is id 0 and the others follow in manifest-id order.

    ``zero_is_normal`` is the DDA manifest rule: id 0 is normal by definition and ids are kept.
    Otherwise the normal class is ``normal_class`` if given, else the one with a normal-sounding
    name, else id 0; the ids are renumbered 0..N-1.
    """
    ids = space.ids()
    if zero_is_normal:
        top = max(ids, default=0)
        original = [space.by_id[i][0] if i in space.by_id else f"class_{i}" for i in range(top + 1)]
        if 0 not in space.by_id:
            original[0] = NORMAL_CLASS
        return ImageClasses([NORMAL_CLASS, *original[1:]], {i: i for i in ids}, original)
    if not ids:
        return ImageClasses([NORMAL_CLASS], {}, [NORMAL_CLASS])
    normal_id = _pick_normal(space, problems, normal_class=normal_class)
    defects = [i for i in ids if i != normal_id]
    remap = {old: new for new, old in enumerate(defects, start=1)}
    original = [space.name_of(normal_id) if normal_id is not None else NORMAL_CLASS]
    original += [space.name_of(i) for i in defects]
    if normal_id is not None:
        remap[normal_id] = 0
    return ImageClasses([NORMAL_CLASS, *original[1:]], remap, original)


def _pick_normal(space: ClassSpace, problems: ProblemList, *, normal_class: str | None) -> int | None:
    if normal_class is not None:
        if normal_class not in space.by_name:
            known = ", ".join(repr(n) for n in space.by_name)
            problems.add(
                0,
                f"--normal-class {normal_class!r} is not a class of this manifest ({known})",
                "name one of the manifest's classes",
            )
            return None
        return space.by_name[normal_class][0]
    normal = [i for i in space.ids() if is_normal_name(space.name_of(i))]
    if normal:
        if len(normal) > 1:
            names = ", ".join(repr(space.name_of(i)) for i in normal)
            problems.warn(
                0,
                f"several classes sound normal ({names}); using {space.name_of(normal[0])!r}",
                "merge them, or name the normal class with --normal-class NAME",
            )
        return normal[0]
    candidates = [i for i in space.ids() if not is_defect_name(space.name_of(i))]
    if not candidates:
        return None  # every class is a defect: the manifest has no normal images
    chosen = 0 if 0 in candidates else candidates[0]
    problems.warn(
        0,
        f"cannot tell which image class means 'no defect' among "
        f"{', '.join(repr(space.name_of(i)) for i in space.ids())}; assuming {space.name_of(chosen)!r}",
        "name the normal class with --normal-class NAME (or call it 'normal')",
    )
    return chosen


@dataclass
class MaskClasses:
    """Defect classes seen in colour maps, background excluded, with their colours."""

    colors: dict[str, tuple[RGB | None, int]] = field(default_factory=dict)  # name -> (colour, line)
    order: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (first key, line)

    def observe(self, line: int, entries: Iterable[ColorClass], problems: ProblemList) -> None:
        for entry in entries:
            if entry.is_background:
                continue
            known = self.colors.get(entry.name)
            if known is not None and known[0] != entry.color and None not in (known[0], entry.color):
                problems.add(
                    line,
                    f"mask class {entry.name!r} has colour {to_hex(entry.color)} here "  # type: ignore[arg-type]
                    f"but {to_hex(known[0])} on line {known[1]}",  # type: ignore[arg-type]
                    "give each mask class one colour in every internal-color-map",
                    field_name="internal-color-map",
                )
                continue
            self._check_shared_colour(line, entry, problems)
            self.colors.setdefault(entry.name, (entry.color, line))
            key = int(entry.key) if entry.key.isdigit() else 1_000
            self.order.setdefault(entry.name, (key, line))

    def _check_shared_colour(self, line: int, entry: ColorClass, problems: ProblemList) -> None:
        for other, (color, other_line) in self.colors.items():
            if other != entry.name and color is not None and color == entry.color:
                problems.add(
                    line,
                    f"mask classes {entry.name!r} and {other!r} (line {other_line}) "
                    f"share colour {to_hex(color)}",
                    "give each mask class its own colour",
                    field_name="internal-color-map",
                )

    def names(self) -> list[str]:
        """``["background", *defects]`` ordered by colour-map key, then first appearance."""
        defects = sorted(self.order, key=lambda n: self.order[n])
        return [BACKGROUND, *defects]

    def name_to_id(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.names()) if index}
