"""Colour maps and mask conversion, including the shapes real Ground Truth masks come in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dda.formats.masks import (
    ColorClass,
    class_color,
    color_map_for,
    colored_mask_to_ids,
    load_class_mask,
    parse_hex_color,
    save_class_mask,
    to_hex,
)

GREEN = (35, 164, 54)


def test_hex_colours_parse_both_cases_and_refuse_garbage() -> None:
    assert parse_hex_color("#23A436") == GREEN
    assert parse_hex_color("23a436") == GREEN
    assert to_hex(GREEN) == "#23a436"
    for bad in ("#23A43", "green", 0x23A436, None, "#GGGGGG"):
        assert parse_hex_color(bad) is None


def test_rgb_mask_with_listed_background_converts_by_class_name() -> None:
    ids = np.zeros((20, 30), dtype=np.uint8)
    ids[2:6, 3:9] = 1
    ids[10:15, 20:25] = 2
    rgb = np.full((20, 30, 3), 255, dtype=np.uint8)
    rgb[ids == 1] = (230, 25, 75)
    rgb[ids == 2] = (0, 130, 200)
    colors = [
        ColorClass("0", "BACKGROUND", (255, 255, 255)),
        ColorClass("1", "scratch", (230, 25, 75)),
        ColorClass("2", "dent", (0, 130, 200)),
    ]
    # The ids we want differ from the colour-map keys: conversion goes by name.
    converted = colored_mask_to_ids(Image.fromarray(rgb), colors, {"dent": 1, "scratch": 2})
    expected = np.where(ids == 1, 2, np.where(ids == 2, 1, 0))
    assert np.array_equal(converted.ids, expected)
    assert converted.unknown_pixels == 0
    assert converted.size == (30, 20)


def test_cookie_style_palette_mask_with_transparent_background_and_soft_edges() -> None:
    """The real cookie masks: P mode, index 0 transparent black, others the class colour with alpha."""
    raw = np.zeros((10, 10), dtype=np.uint8)
    raw[2:5, 2:5] = 3  # opaque
    raw[6, 6] = 1  # alpha 0: not a defect pixel although its colour is the class colour
    raw[7, 7] = 2  # alpha 100: below half, background
    image = Image.fromarray(raw, mode="P")
    image.putpalette([0, 0, 0, *GREEN, *GREEN, *GREEN])
    image.info["transparency"] = bytes([0, 0, 100, 255])
    converted = colored_mask_to_ids(image, [ColorClass("0", "cracked", GREEN)], {"cracked": 1})
    assert converted.defect_pixels == 9
    assert np.array_equal(converted.ids == 1, raw == 3)


def test_near_colours_match_and_unknown_colours_are_counted() -> None:
    rgb = np.full((4, 4, 3), 255, dtype=np.uint8)
    rgb[0, 0] = (37, 160, 57)  # JPEG-ish drift of the class colour
    rgb[1, 1] = (200, 0, 200)  # not in the map
    rgb[2, 2] = (0, 0, 0)  # pure black: an unlisted background, not counted
    converted = colored_mask_to_ids(Image.fromarray(rgb), [ColorClass("1", "crack", GREEN)], {"crack": 1})
    assert converted.ids[0, 0] == 1
    assert converted.ids[1, 1] == 0 and converted.ids[2, 2] == 0
    assert converted.unknown_pixels == 1


def test_colour_map_without_hex_colours_reads_indices() -> None:
    raw = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    colors = [
        ColorClass("0", "BACKGROUND", None),
        ColorClass("1", "defect", None),
        ColorClass("2", "dent", None),
    ]
    converted = colored_mask_to_ids(Image.fromarray(raw, mode="L"), colors, {"defect": 1, "dent": 2})
    assert np.array_equal(converted.ids, raw)


def test_class_masks_round_trip_as_palette_pngs_matching_the_written_colour_map(tmp_path: Path) -> None:
    ids = np.zeros((8, 12), dtype=np.uint8)
    ids[1:3, 1:4] = 1
    ids[5:7, 8:11] = 3
    path = save_class_mask(ids, tmp_path / "m.png", class_count=4)
    assert np.array_equal(load_class_mask(path), ids)
    names = ["background", "a", "b", "c"]
    colour_map = color_map_for(names)
    assert colour_map["0"] == {"class-name": "BACKGROUND", "hex-color": "#ffffff"}
    colors = [ColorClass(k, v["class-name"], parse_hex_color(v["hex-color"])) for k, v in colour_map.items()]
    with Image.open(path) as image:
        again = colored_mask_to_ids(image, colors, {"a": 1, "b": 2, "c": 3})
    assert np.array_equal(again.ids, ids)
    assert class_color(0) == (255, 255, 255)


def test_save_class_mask_refuses_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2-D"):
        save_class_mask(np.zeros((2, 2, 3), dtype=np.uint8), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        save_class_mask(np.full((2, 2), 300, dtype=np.int32), tmp_path / "x.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="not a class-id mask"):
        load_class_mask(tmp_path / "rgb.png")
