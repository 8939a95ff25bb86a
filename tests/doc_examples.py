"""The numbers of a worked example, read from a docs page, so the page cannot drift away from
what the code computes."""
import ast
import re

import numpy as np


def doc_values(doc, tag="worked-example"):
    """{name: float64 ndarray} for every `name = value` in the page's ```text <tag> blocks.

    Each block is a series of "name =" lines, each followed by one Python literal.
    """
    blocks = re.findall(rf"```text {re.escape(tag)}\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    values = {}
    for block in blocks:
        parts = re.split(r"^(\w+) =", block, flags=re.M)
        for name, literal in zip(parts[1::2], parts[2::2]):
            values[name] = np.array(ast.literal_eval(literal.strip()), dtype=np.float64)
    return values
