"""The contact sheet of a data set."""
import pytest
from PIL import Image

from scratchconv import data


def test_contact_sheet_has_a_row_per_rune_and_a_column_per_sample(tmp_path):
    data.make_dataset(tmp_path / "runes", per_class=1, seed=1)
    path = data.contact_sheet(tmp_path / "runes", tmp_path / "sheet.png", per_rune=3, label_width=90, gap=2)
    with Image.open(path) as sheet:
        assert sheet.size == (90 + 3 * 52, 24 * 52)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_contact_sheet_rejects_a_bad_count(tmp_path):
    with pytest.raises(ValueError, match="per_rune must be a positive integer, got 0"):
        data.contact_sheet(tmp_path, tmp_path / "sheet.png", per_rune=0)
