"""Fingerprints of image files, so that a model file can tell which images it was trained from.

A file's fingerprint is the first 16 hex digits (64 bits) of the SHA-256 of its bytes: the same
picture under another name or in another folder has the same fingerprint, and two different
files share one with a chance of about n² / 2⁶⁵ for n files.
"""
import hashlib

DIGITS = 16


def fingerprint(path):
    """The fingerprint of the file at ``path``: 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:DIGITS]


def fingerprints(paths):
    """The sorted fingerprints of ``paths`` (one per distinct content)."""
    return sorted({fingerprint(path) for path in paths})


def seen_before(paths, known):
    """The files among ``paths`` whose fingerprint is in ``known`` (a collection of fingerprints)."""
    known = set(known)
    return [path for path in paths if fingerprint(path) in known]
