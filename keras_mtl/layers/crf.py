"""`LinearChainCRF`: a linear-chain conditional random field over tag sequences."""

import keras
import numpy as np
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
        allowed_transitions: None or `(C, C)` booleans (nested lists or an
            array; row = previous tag). A `False` transition gets a score far
            below any path, in the likelihood and in decoding, so the layer
            never predicts it. Defaults to `None` (all allowed).
        allowed_start: None or `C` booleans: the tags a sequence may start
            with. Defaults to `None` (all).
        allowed_end: None or `C` booleans: the tags a sequence may end with.
            Defaults to `None` (all). `bio_constraints(tag_names)` gives all
            three for BIO tags.
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
        allowed_transitions=None,
        allowed_start=None,
        allowed_end=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.boundary_initializer = keras.initializers.get(boundary_initializer)
        self.allowed_transitions = _as_bool_lists(
            allowed_transitions, "allowed_transitions", ndim=2
        )
        self.allowed_start = _as_bool_lists(allowed_start, "allowed_start", ndim=1)
        self.allowed_end = _as_bool_lists(allowed_end, "allowed_end", ndim=1)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None or input_shape[-1] < 2:
            raise ValueError(
                "`LinearChainCRF` takes emissions of shape (batch, time, "
                f"num_tags) with num_tags >= 2. Received: input_shape={input_shape}"
            )
        self.num_tags = int(input_shape[-1])
        self._check_constraint_shapes()
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
        """The transition (with a batch axis), start and end scores as tensors,
        with the ruled-out ones far below any path."""
        transitions = _constrained(self.transitions, self.allowed_transitions)
        start = _constrained(self.start_scores, self.allowed_start)
        end = _constrained(self.end_scores, self.allowed_end)
        return ops.expand_dims(transitions, 0), start, end

    def _check_constraint_shapes(self):
        for name, ndim in (
            ("allowed_transitions", 2),
            ("allowed_start", 1),
            ("allowed_end", 1),
        ):
            value = getattr(self, name)
            shape = (self.num_tags,) * ndim
            if value is not None and np.shape(value) != shape:
                raise ValueError(
                    f"`{name}` must have shape {shape} for {self.num_tags} tags. "
                    f"Received shape {np.shape(value)}."
                )

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
                "allowed_transitions": self.allowed_transitions,
                "allowed_start": self.allowed_start,
                "allowed_end": self.allowed_end,
            }
        )
        return config


def bio_constraints(tag_names):
    """The transitions a BIO (IOB2) tagger may make, as `LinearChainCRF` arguments.

    `I-X` may only follow `B-X` or `I-X` and may not start a sequence; every
    other transition, and every end, is allowed. Pass the result to
    `LinearChainCRF(**...)` or to `Task(..., crf=True, crf_constraints=...)`.

    Args:
        tag_names: list of tag strings, index = tag id: `"O"`, `"B-X"`,
            `"I-X"`.

    Returns:
        dict with `allowed_transitions` (`C × C` bools, row = previous tag)
        and `allowed_start` (`C` bools).

    Example:

    >>> rules = bio_constraints(["B-NP", "I-NP", "O"])
    >>> rules["allowed_transitions"]
    [[True, True, True], [True, True, True], [True, False, True]]
    >>> rules["allowed_start"]
    [True, False, True]
    """
    names = list(tag_names)
    bad = [t for t in names if t != "O" and t[:2] not in ("B-", "I-")]
    if bad or len(names) < 2:
        raise ValueError(
            "`tag_names` must be at least 2 BIO tags ('O', 'B-X', 'I-X'). "
            f"Received: {names if not bad else bad}"
        )

    def may_follow(previous, tag):
        return not tag.startswith("I-") or previous[2:] == tag[2:] != ""

    return {
        "allowed_transitions": [[may_follow(p, t) for t in names] for p in names],
        "allowed_start": [not t.startswith("I-") for t in names],
    }


def _as_bool_lists(value, name, ndim):
    """`value` as nested lists of bools (config-ready), or None."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.ndim != ndim or array.dtype != bool or array.size == 0:
        raise ValueError(
            f"`{name}` must be None or a non-empty {ndim}-d array of booleans. "
            f"Received: {value!r}"
        )
    if not array.any(axis=-1).all():
        raise ValueError(f"`{name}` rules out every tag (of a row): no path is left.")
    return array.tolist()


def _constrained(scores, allowed):
    """`scores` as a tensor, `_RULED_OUT` added where `allowed` is False."""
    scores = ops.convert_to_tensor(scores)
    if allowed is None:
        return scores
    ruled_out = 1.0 - np.asarray(allowed, dtype="float32")
    return scores + ops.convert_to_tensor(ruled_out * _RULED_OUT)


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
