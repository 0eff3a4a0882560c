"""`LinearChainCRF`: a linear-chain conditional random field over tag sequences."""

import keras
from keras import ops

# Added to the score of a tag that the labels rule out: far below any real
# path score, yet finite, so that gradients stay finite.
_RULED_OUT = -1e9


@keras.saving.register_keras_serializable(package="keras_mtl")
class LinearChainCRF(keras.layers.Layer):
    """A linear-chain CRF over per-step tag scores (emissions).

    A tag path `y_1..y_L` over the `L` unmasked steps of a sequence scores
    `start[y_1] + sum_t emissions[t, y_t] + sum_t transitions[y_{t-1}, y_t]
    + end[y_L]`; its probability is `exp(score) / Z`, with the partition
    function `Z` summed over every path by the forward algorithm in log space.
    Decoding finds the best path by the Viterbi algorithm. Masked steps are
    skipped: the chain links each unmasked step to the next unmasked one.
    Everything is computed in float32, whatever the dtype policy.

    The layer returns the float32 emissions with the Viterbi path appended as
    one more channel (`-1` on masked steps), so that a model output carries
    both what the log-likelihood needs and the decoded tags; `decoded_tags`
    reads the path back and `negative_log_likelihood` scores labels against
    it. Loops over time use `keras.ops.scan`, so the time axis may be of
    unknown length (`keras.Input((None,))`).

    Args:
        transitions_initializer: Initializer of the `(C, C)` transition
            scores (row = previous tag). Defaults to `"zeros"`: the layer then
            starts as the per-step argmax of the emissions.
        boundary_initializer: Initializer of the start and end scores `(C,)`.
            Defaults to `"zeros"`.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: emissions `(batch, time, C)`.
        mask: optional boolean `(batch, time)`: `False` on padding steps.

    Returns:
        float32 `(batch, time, C + 1)`: the emissions, then the Viterbi tag
        of each step (`-1` on masked steps) as a float.

    Example:

    >>> crf = LinearChainCRF()
    >>> emissions = np.array([[[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]]])
    >>> outputs = crf(emissions, mask=np.array([[True, True, False]]))
    >>> keras.ops.convert_to_numpy(crf.decoded_tags(outputs))
    array([[ 0,  1, -1]], dtype=int32)
    >>> nll = crf.negative_log_likelihood(np.array([[0, 1, -1]]), outputs)
    >>> round(float(nll[0]), 4)
    0.4402

    Reference:
        Lafferty, McCallum, Pereira, *Conditional Random Fields:
        Probabilistic Models for Segmenting and Labeling Sequence Data*,
        ICML 2001.
    """

    def __init__(
        self,
        transitions_initializer="zeros",
        boundary_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.boundary_initializer = keras.initializers.get(boundary_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None or input_shape[-1] < 2:
            raise ValueError(
                "`LinearChainCRF` takes emissions of shape (batch, time, "
                f"num_tags) with num_tags >= 2. Received: input_shape={input_shape}"
            )
        self.num_tags = int(input_shape[-1])
        self.transitions = self.add_weight(
            name="transitions",
            shape=(self.num_tags, self.num_tags),
            initializer=self.transitions_initializer,
            dtype="float32",
            autocast=False,
        )
        self.start_scores = self.add_weight(
            name="start_scores",
            shape=(self.num_tags,),
            initializer=self.boundary_initializer,
            dtype="float32",
            autocast=False,
        )
        self.end_scores = self.add_weight(
            name="end_scores",
            shape=(self.num_tags,),
            initializer=self.boundary_initializer,
            dtype="float32",
            autocast=False,
        )

    def call(self, inputs, mask=None):
        emissions = ops.cast(inputs, "float32")
        tags, _ = self.viterbi(emissions, mask=mask)
        path = ops.expand_dims(ops.cast(tags, "float32"), -1)
        return ops.concatenate([emissions, path], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)

    def compute_output_spec(self, inputs, mask=None):
        shape = self.compute_output_shape(inputs.shape)
        return keras.KerasTensor(shape, dtype="float32")

    def compute_mask(self, inputs, mask=None):
        return None  # the path channel marks the masked steps (-1)

    # -- the model's parts -------------------------------------------------

    @staticmethod
    def decoded_tags(outputs):
        """The Viterbi tags int32 `(batch, time)` (`-1` on masked steps)."""
        return ops.cast(ops.round(outputs[..., -1]), "int32")

    @staticmethod
    def emissions(outputs):
        """The emissions `(batch, time, C)` of the layer's outputs."""
        return outputs[..., :-1]

    def negative_log_likelihood(self, y_true, outputs):
        """Per-sequence negative log-likelihood of the labels, float32 `(batch,)`.

        Steps labelled `-1` inside the sequence are marginalised over (any
        tag); steps masked in the layer's call are skipped. A sequence with
        no label scores 0.

        Args:
            y_true: int tags `(batch, time)`, `-1` where there is no label.
            outputs: the layer's outputs `(batch, time, C + 1)`.
        """
        mask = ops.greater_equal(self.decoded_tags(outputs), 0)
        emissions = self.emissions(outputs)
        labels = ops.reshape(ops.cast(y_true, "int32"), ops.shape(mask))
        return self.log_partition(emissions, mask) - self.log_partition(
            emissions + _label_constraint(labels, self.num_tags), mask
        )

    def log_likelihood(self, emissions, tags, mask=None):
        """`log p(tags | emissions)` per sequence, float32 `(batch,)`.

        Args:
            emissions: `(batch, time, C)`.
            tags: int tags `(batch, time)`; `-1` steps are marginalised over.
            mask: optional boolean `(batch, time)`.
        """
        emissions = ops.cast(emissions, "float32")
        mask = _full_mask(emissions, mask)
        constraint = _label_constraint(ops.cast(tags, "int32"), self.num_tags)
        return self.log_partition(emissions + constraint, mask) - self.log_partition(
            emissions, mask
        )

    # -- the two recursions ------------------------------------------------

    def log_partition(self, emissions, mask=None):
        """`log Z` per sequence by the forward algorithm, float32 `(batch,)`."""
        emissions = ops.cast(emissions, "float32")
        mask = _full_mask(emissions, mask)
        transitions, start, end = self._scores()

        def step(carry, inputs):
            alpha, started = carry
            scores, present = _step_inputs(inputs)
            chained = ops.logsumexp(ops.expand_dims(alpha, -1) + transitions, axis=1)
            new = ops.where(
                ops.expand_dims(started, -1), chained + scores, start + scores
            )
            alpha = ops.where(ops.expand_dims(present, -1), new, alpha)
            carry = (alpha, ops.logical_or(started, present))
            return carry, carry  # keras.ops.scan on TF: outputs mirror the carry

        (alpha, started), _ = ops.scan(
            step, self._initial_carry(emissions), _time_major(emissions, mask)
        )
        log_z = ops.logsumexp(alpha + end, axis=-1)
        return ops.where(started, log_z, ops.zeros_like(log_z))

    def viterbi(self, emissions, mask=None):
        """The best tag path and its score by the Viterbi algorithm.

        Returns:
            `(tags, scores)`: int32 `(batch, time)` with `-1` on masked steps,
            and the float32 `(batch,)` score of each path (0 for an empty
            sequence).
        """
        emissions = ops.cast(emissions, "float32")
        mask = _full_mask(emissions, mask)
        transitions, start, end = self._scores()
        stay = ops.expand_dims(ops.arange(self.num_tags, dtype="int32"), 0)

        def step(carry, inputs):
            delta, started, _ = carry
            scores, present = _step_inputs(inputs)
            candidates = ops.expand_dims(delta, -1) + transitions
            best = ops.max(candidates, axis=1)
            chained = ops.where(ops.expand_dims(started, -1), best, start)
            delta = ops.where(ops.expand_dims(present, -1), chained + scores, delta)
            linked = ops.expand_dims(ops.logical_and(started, present), -1)
            previous = ops.cast(ops.argmax(candidates, axis=1), "int32")
            backpointer = ops.where(linked, previous, stay)
            carry = (delta, ops.logical_or(started, present), backpointer)
            return carry, carry

        delta, started = self._initial_carry(emissions)
        backpointer = ops.zeros_like(ops.cast(delta, "int32"))
        (delta, started, _), (_, _, backpointers) = ops.scan(
            step, (delta, started, backpointer), _time_major(emissions, mask)
        )
        final = delta + end
        last = ops.cast(ops.argmax(final, axis=-1), "int32")

        def back(tag, backpointer):
            previous = ops.take_along_axis(backpointer, ops.expand_dims(tag, -1), 1)
            return ops.squeeze(previous, -1), tag

        _, path = ops.scan(back, last, backpointers, reverse=True)
        tags = ops.where(mask, ops.transpose(path), -ops.ones_like(ops.transpose(path)))
        score = ops.where(started, ops.max(final, axis=-1), ops.zeros_like(final[:, 0]))
        return tags, score

    def _scores(self):
        """The transition (with a batch axis), start and end scores as tensors."""
        transitions = ops.expand_dims(ops.convert_to_tensor(self.transitions), 0)
        start = ops.convert_to_tensor(self.start_scores)
        return transitions, start, ops.convert_to_tensor(self.end_scores)

    def _initial_carry(self, emissions):
        zeros = ops.zeros_like(emissions[:, 0, :])
        return zeros, ops.less(zeros[:, 0], zeros[:, 0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "transitions_initializer": keras.initializers.serialize(
                    self.transitions_initializer
                ),
                "boundary_initializer": keras.initializers.serialize(
                    self.boundary_initializer
                ),
            }
        )
        return config


def _full_mask(emissions, mask):
    """The boolean mask `(batch, time)`, all `True` when none is given."""
    if mask is None:
        return ops.ones(ops.shape(emissions)[:2], dtype="bool")
    return ops.cast(mask, "bool")


def _time_major(emissions, mask):
    """Emissions and mask as one time-major tensor `(time, batch, tags + 1)`.

    One tensor, not two: Keras's TensorFlow `scan` fails on several inputs
    whose time axis is unknown (as with length-bucketed batches).
    """
    present = ops.expand_dims(ops.cast(mask, "float32"), -1)
    return ops.transpose(ops.concatenate([emissions, present], axis=-1), (1, 0, 2))


def _step_inputs(inputs):
    """`(scores, present)` of one time step of `_time_major`'s tensor."""
    return inputs[:, :-1], ops.greater(inputs[:, -1], 0.5)


def _label_constraint(labels, num_tags):
    """0 for the labelled tag (or every tag where the label is -1), else very low."""
    allowed = ops.one_hot(ops.maximum(labels, 0), num_tags, dtype="float32")
    unlabelled = ops.expand_dims(ops.cast(ops.less(labels, 0), "float32"), -1)
    allowed = ops.maximum(allowed, unlabelled)
    return (1.0 - allowed) * _RULED_OUT
