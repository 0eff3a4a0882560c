"""Task scores computed the way their communities compute them."""

import numpy as np
from seqeval.metrics import f1_score


def chunk_f1(true_tags, predicted_tags):
    """Chunk-level F1 of IOB tag sequences, as conlleval computes it.

    Uses seqeval's default (conlleval-compatible) chunk extraction: a chunk
    starts at a `B-` tag, at an `I-` tag after `O` or after a chunk of another
    type, and every tag must be matched in boundaries and type.

    Args:
        true_tags: list of lists of tag strings (one list per sentence).
        predicted_tags: list of lists of tag strings, aligned with `true_tags`.

    Returns:
        float. F1 in [0, 1].

    Example:

    >>> chunk_f1([["B-NP", "I-NP", "O"]], [["B-NP", "I-NP", "O"]])
    1.0
    """
    if len(true_tags) != len(predicted_tags) or any(
        len(t) != len(p) for t, p in zip(true_tags, predicted_tags)
    ):
        raise ValueError(
            "`true_tags` and `predicted_tags` must align sentence by "
            "sentence and token by token."
        )
    return float(f1_score(true_tags, predicted_tags))


def token_accuracy(true_ids, predicted_ids):
    """Accuracy over labelled tokens (labels `-1` are skipped)."""
    true_ids, predicted_ids = np.asarray(true_ids), np.asarray(predicted_ids)
    labelled = true_ids >= 0
    return float(np.mean(true_ids[labelled] == predicted_ids[labelled]))


def invalid_bio_transitions(tag_sequences):
    """Counts the tags that break the BIO scheme, and all tags.

    An `I-X` tag is invalid at the start of a sentence, after `O`, or after
    a tag of another type (`B-Y` / `I-Y`, Y ≠ X); conlleval then opens a new
    chunk there. A CRF tagger should predict (almost) none.

    Args:
        tag_sequences: list of lists of tag strings (one list per sentence).

    Returns:
        `(invalid, tokens)`: ints.

    Example:

    >>> invalid_bio_transitions([["I-NP", "I-NP", "O", "I-VP"], ["B-NP", "I-VP"]])
    (3, 6)
    """
    invalid = tokens = 0
    for tags in tag_sequences:
        previous = "O"
        for tag in tags:
            tokens += 1
            if tag.startswith("I-") and previous[2:] != tag[2:]:
                invalid += 1
            previous = tag
    return invalid, tokens
