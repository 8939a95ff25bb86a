"""The terminal reports: confusion table, per-class report, top guesses, label choice."""
import numpy as np
import pytest

from scratchconv import report


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    cm = report.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 4)
    np.testing.assert_array_equal(cm, [[1, 1, 0, 0],
                                       [0, 1, 0, 0],
                                       [1, 0, 2, 0],
                                       [0, 0, 0, 0]])


def test_confusion_table_puts_labels_on_both_axes_and_dots_for_zeros():
    table = report.confusion_table(np.array([[3, 0], [1, 12]]), ["ᚠ", "ᚢ"])
    assert table.splitlines() == ["true\\pred  ᚠ  ᚢ",
                                  "        ᚠ  3  .",
                                  "        ᚢ  1 12"]


def test_classification_report_has_a_line_per_class_even_if_never_predicted():
    text = report.classification_report(np.array([0, 1, 2]), np.array([0, 1, 1]),
                                        ["ᚠ", "ᚢ", "ᚦ"])
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert rows["ᚦ"] == ["0.000", "0.000", "0.000", "1"]
    assert rows["ᚢ"][:2] == ["0.500", "1.000"]


def test_top_k_orders_by_probability_and_keeps_the_lower_index_on_ties():
    assert report.top_k(np.array([0.2, 0.5, 0.1, 0.2]), 3) == [(1, 0.5), (0, 0.2), (3, 0.2)]


@pytest.mark.parametrize("encoding, expected", [("utf-8", ["ᚠ", "ᚢ"]), ("ascii", ["fehu", "uruz"]),
                                                ("latin-1", ["fehu", "uruz"]),
                                                (None, ["ᚠ", "ᚢ"])])
def test_printable_labels_fall_back_to_names_when_the_terminal_cannot_show_runes(encoding,
                                                                                 expected):
    assert report.printable_labels(["ᚠ", "ᚢ"], ["fehu", "uruz"], encoding) == expected
