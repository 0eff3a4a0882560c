"""Every public layer passes Keras's own layer-conformance harness.

`keras.src.testing.TestCase.run_layer_test` builds the layer symbolically
and eagerly, checks its config round trip, output shapes and dtypes, the
weights it creates, and trains it for a step inside a model. It runs here on
whichever backend the test process uses (`make test` runs all three).
"""

import keras
import numpy as np
from absl.testing import parameterized
from keras.src import testing

from keras_mtl import layers

# Tags B-X, I-X, O: I-X only after B-X or I-X.
BIO = layers.bio_constraints(["B-X", "I-X", "O"])


class LayerConformanceTest(testing.TestCase):
    def test_sluice_unit(self):
        self.run_layer_test(
            layers.SluiceUnit,
            init_kwargs={"num_tasks": 2, "num_subspaces": 2},
            input_shape=((3, 4), (3, 4)),
            expected_output_shape=((3, 4), (3, 4)),
            expected_num_trainable_weights=1,
            supports_masking=True,
            run_training_check=True,
        )

    def test_layer_mixture(self):
        self.run_layer_test(
            layers.LayerMixture,
            init_kwargs={"num_layers": 3, "beta_init": "balanced"},
            input_shape=((3, 4),) * 3,
            expected_output_shape=(3, 4),
            expected_num_trainable_weights=1,
        )

    def test_subspace_concat(self):
        self.run_layer_test(
            layers.SubspaceConcat,
            init_kwargs={"num_subspaces": 2},
            input_shape=((3, 5, 4), (3, 5, 4)),
            expected_output_shape=(3, 5, 8),
            expected_num_trainable_weights=0,
        )

    def test_multilinear_prior_layer(self):
        self.run_layer_test(
            layers.MultilinearPriorLayer,
            init_kwargs={"units": 3, "num_tasks": 2, "update_every": 1},
            input_shape=(4, 5),
            expected_output_shape=((4, 3), (4, 3)),
            expected_num_trainable_weights=2,
            expected_num_losses=1,
        )

    def test_tree_grouped_dense(self):
        self.run_layer_test(
            layers.TreeGroupedDense,
            init_kwargs={"units": 2, "num_tasks": 3, "num_levels": 2},
            input_shape=(4, 5),
            expected_output_shape=((4, 2),) * 3,
        )

    @parameterized.named_parameters(
        ("free", {"transitions_initializer": "glorot_uniform"}),
        ("bio_constrained", {**BIO, "allowed_end": [True, True, False]}),
    )
    def test_linear_chain_crf(self, init_kwargs):
        # The outputs (emissions and the Viterbi path) have no gradient with
        # respect to the CRF's weights, which learn through the likelihood
        # (trained in tests/layers/test_crf.py): no training check here.
        self.run_layer_test(
            layers.LinearChainCRF,
            init_kwargs=init_kwargs,
            input_shape=(2, 4, 3),
            expected_output_shape=(2, 4, 4),
            expected_output_dtype="float32",
            expected_num_trainable_weights=3,
            supports_masking=True,
            run_training_check=False,
            run_mixed_precision_check=True,
        )

    def test_task_conditioning(self):
        self.run_layer_test(
            layers.TaskConditioning,
            init_kwargs={"num_tasks": 3},
            input_data=(
                np.ones((2, 4, 5), "float32"),
                np.array([0, 2], "int32"),
            ),
            expected_output_shape=(2, 4, 8),
        )

    def test_task_routing(self):
        # Without task ids: the batch tiled once per task, with the ids.
        self.run_layer_test(
            layers.TaskRouting,
            init_kwargs={"num_tasks": 2},
            input_shape=(3, 4),
            expected_output_shape=((6, 4), (6,)),
            run_training_check=False,
        )

    def test_last_step(self):
        self.run_layer_test(
            layers.LastStep,
            init_kwargs={},
            input_shape=(2, 4, 3),
            expected_output_shape=(2, 3),
            supports_masking=True,
        )

    def test_task_split(self):
        self.run_layer_test(
            layers.TaskSplit,
            init_kwargs={"num_tasks": 2},
            input_shape=(4, 3),
            expected_output_shape=((2, 3), (2, 3)),
        )

    def test_meta_lstm_cell_in_rnn(self):
        self.run_layer_test(
            keras.layers.RNN,
            init_kwargs={
                "cell": layers.MetaLSTMCell(4, 3),
                "return_sequences": True,
            },
            input_shape=(2, 5, 6),
            expected_output_shape=(2, 5, 4),
        )

    def test_meta_lstm(self):
        self.run_layer_test(
            layers.MetaLSTM,
            init_kwargs={
                "units": 4,
                "meta_units": 3,
                "num_tasks": 2,
                "return_sequences": True,
            },
            input_shape=(2, 5, 6),
            expected_output_shape=(2, 5, 4),
            expected_num_trainable_weights=7,
            supports_masking=True,
        )
