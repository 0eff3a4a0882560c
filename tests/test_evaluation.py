import pytest

from keras_mtl.evaluation import chunk_f1, invalid_bio_transitions, token_accuracy


def test_perfect_and_empty_predictions():
    gold = [["B-NP", "I-NP", "O", "B-VP"]]
    assert chunk_f1(gold, gold) == 1.0
    assert chunk_f1(gold, [["O", "O", "O", "O"]]) == 0.0


def test_conlleval_chunk_semantics():
    # conlleval: an I- tag after O (or after another type) starts a chunk.
    gold = [["B-NP", "I-NP", "O", "B-VP", "I-VP"]]
    predicted = [["O", "I-NP", "O", "I-VP", "I-VP"]]
    # predicted chunks: NP(1..1), VP(3..4); gold: NP(0..1), VP(3..4)
    # precision 1/2, recall 1/2 -> F1 0.5
    assert chunk_f1(gold, predicted) == pytest.approx(0.5)
    # a type change inside I- tags splits the chunk
    gold = [["B-NP", "I-NP", "I-NP"]]
    predicted = [["B-NP", "I-VP", "I-NP"]]
    # predicted: NP(0), VP(1), NP(2): 0 correct of 3; gold 1 chunk -> F1 0
    assert chunk_f1(gold, predicted) == 0.0


def test_counts_over_sentences():
    gold = [["B-NP", "O"], ["B-VP", "B-NP"]]
    predicted = [["B-NP", "O"], ["B-VP", "B-VP"]]
    # correct 2, predicted 3, gold 3 -> P = R = F1 = 2/3
    assert chunk_f1(gold, predicted) == pytest.approx(2 / 3)


def test_misaligned_inputs_are_refused():
    with pytest.raises(ValueError, match="align"):
        chunk_f1([["O"]], [["O", "O"]])


def test_token_accuracy_skips_padding():
    assert token_accuracy([[1, 2, -1]], [[1, 0, 5]]) == 0.5


def test_invalid_bio_transitions():
    sentences = [["I-NP", "I-NP", "O", "I-VP"], ["B-NP", "I-VP"], ["B-NP", "I-NP"]]
    assert invalid_bio_transitions(sentences) == (3, 8)
    assert invalid_bio_transitions([]) == (0, 0)
