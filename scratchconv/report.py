"""Text reports of a classifier's results, for the terminal: the confusion matrix as a table, the
per-class precision and recall, and the top guesses for one image."""
import numpy as np
from sklearn import metrics


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts of (true class, predicted class) pairs.

    Parameters
    ----------
    y_true, y_pred : int array of shape (n,)
        Class indices in ``[0, n_classes)``.

    Returns
    -------
    cm : int64 array of shape (n_classes, n_classes)
        ``cm[t, p]`` is the number of samples of class ``t`` predicted as ``p``; every class has a
        row and a column, even one that never occurs.
    """
    return metrics.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes)).astype(np.int64)


def confusion_table(cm, labels):
    """The confusion matrix as aligned text: true classes down the side, predictions across.

    Zeros are printed as ``.`` so the diagonal (the correct answers) and the confusions stand out.

    Parameters
    ----------
    cm : int array of shape (k, k)
    labels : sequence of k str
        The class labels, one per row and column (the rune characters in the terminal).
    """
    cells = [[str(v) if v else "." for v in row] for row in np.asarray(cm)]
    width = max(len(s) for s in [*labels, *(c for row in cells for c in row)]) + 1
    corner = "true\\pred"
    lines = [corner + "".join(lab.rjust(width) for lab in labels)]
    for lab, row in zip(labels, cells):
        lines.append(lab.rjust(len(corner)) + "".join(c.rjust(width) for c in row))
    return "\n".join(lines)


def classification_report(y_true, y_pred, labels):
    """scikit-learn's per-class precision, recall, f1 and support, one line per class in ``labels``.

    A class that is never predicted gets precision 0 (not a warning).
    """
    return metrics.classification_report(y_true, y_pred, labels=np.arange(len(labels)),
                                         target_names=list(labels), digits=3, zero_division=0)


def top_k(probs, k=3):
    """The ``k`` most probable classes of one prediction, most probable first.

    Parameters
    ----------
    probs : array of shape (n_classes,)

    Returns
    -------
    list of (class index, probability); ties keep the lower class index first.
    """
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return [(int(i), float(probs[i])) for i in order]


def printable_labels(glyphs, names, encoding):
    """The rune characters if the output's ``encoding`` can show them, else the rune names.

    ``encoding`` None means a stream of Python strings (no bytes involved), which takes any
    character.
    """
    if encoding is None:
        return list(glyphs)
    try:
        "".join(glyphs).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return list(names)
    return list(glyphs)
