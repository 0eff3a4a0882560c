"""The shared representation of a functional multi-task model (`rep_grad`).

The graph behind the task outputs splits into a shared part (the nodes the
outputs of two or more tasks depend on, closed under ancestors) and one
task-specific part per task (the nodes only that task's output depends on).
The shared representation is the set of tensors the shared part hands to
the task parts. With `rep_grad=True` the per-task gradients are taken with
respect to those tensors (cut from the shared part, so each is a partial
derivative), combined by the strategy, and the combined gradient is then
backpropagated through the shared part once.
"""

import contextlib

import keras
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

REP_GRAD_HINT = (
    "Use rep_grad=False (per-task gradients of the shared parameters) for this model."
)


def _node_of(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return history.operation._inbound_nodes[history.node_index]


def _tasks_per_node(outputs, task_names):
    """`{id(node): set of task names}`: which task outputs each node feeds."""
    reached, nodes = {}, {}
    for name in task_names:
        stack, seen = [outputs[name]], set()
        while stack:
            node = _node_of(stack.pop())
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            nodes[id(node)] = node
            reached.setdefault(id(node), set()).add(name)
            stack.extend(node.input_tensors)
    return reached, nodes


class SharedRepresentation:
    """Where a functional model's shared part hands over to its task parts.

    Args:
        model: a functional `keras.Model` whose outputs are a dict keyed by
            task name.
        task_names: list of str.

    Raises:
        ValueError: naming `rep_grad`, when the model has no such cut: not a
            functional model, a task output computed by the shared part
            itself, no shared parameters, or a layer whose parameters are
            used on both sides of the cut.
    """

    def __init__(self, model, task_names):
        outputs = getattr(model, "_outputs_struct", None)
        if not isinstance(outputs, dict) or not hasattr(model, "_nodes_by_depth"):
            self._fail("the model is not a functional model with a dict of outputs")
        reached, nodes = _tasks_per_node(outputs, task_names)
        shared = {key for key, names in reached.items() if len(names) > 1}
        for name in task_names:
            node = _node_of(outputs[name])
            if node is not None and id(node) in shared:
                self._fail(
                    f"the output of task {name!r} is computed by a layer every "
                    f"task uses ({node.operation.name!r}), with no task-specific "
                    "layer after it"
                )
        tensors, consumers = {}, {}
        for key, node in nodes.items():
            if key in shared:
                continue
            for position, tensor in enumerate(node.input_tensors):
                producer = _node_of(tensor)
                if producer is None or producer.is_input or id(producer) not in shared:
                    continue
                if not keras.backend.is_float_dtype(tensor.dtype):
                    continue  # masks, token ids: read as they are
                tensors.setdefault(id(tensor), tensor)
                consumers.setdefault(key, set()).add(id(tensor))
        shared_variables = {
            id(v): v
            for key in shared
            for v in getattr(nodes[key].operation, "trainable_variables", [])
        }
        if not shared_variables or not tensors:
            self._fail("no layer with trainable parameters is shared by the tasks")
        for key, node in nodes.items():
            if key in shared:
                continue
            for variable in getattr(node.operation, "trainable_variables", []):
                if id(variable) in shared_variables:
                    self._fail(
                        f"layer {node.operation.name!r} uses shared parameters "
                        f"({variable.path}) after the shared part"
                    )
        self.tensors = list(tensors.values())
        self._index = {key: i for i, key in enumerate(tensors)}
        self._consumers = consumers  # id(task node) → ids of the tensors it reads

    @staticmethod
    def _fail(reason):
        raise ValueError(
            "`rep_grad=True` needs a shared representation: a set of tensors "
            "computed by shared layers only, from which each task's output is "
            f"computed by its own layers only. Here {reason}. {REP_GRAD_HINT} "
            "Received: rep_grad=True"
        )

    @contextlib.contextmanager
    def cut(self, model, substitute):
        """Runs `model` with its task parts reading substitutes of the cut.

        Inside the context, a call of `model` (also `stateless_call`) gives
        each task-specific layer `substitute(k, value)` (with the value's
        Keras mask) instead of the value of representation tensor `k`; the
        shared part reads the original values. The context yields a list
        that, after the call, holds the original value of each tensor of
        `self.tensors`, in order.

        Args:
            model: the model this representation was found in.
            substitute: function `(k, value) → tensor` of the same shape.
        """
        captured = [None] * len(self.tensors)

        def run_through_graph(inputs, operation_fn=lambda op: op, call_fn=None):
            return self._run(model, inputs, operation_fn, captured, substitute)

        object.__setattr__(model, "_run_through_graph", run_through_graph)
        try:
            yield captured
        finally:
            del model.__dict__["_run_through_graph"]
        if any(value is None for value in captured):
            raise ValueError(
                "The model's call did not compute its shared representation "
                f"through its functional graph. {REP_GRAD_HINT} Received: "
                "rep_grad=True"
            )

    def _run(self, model, inputs, operation_fn, captured, substitute):
        """`Function._run_through_graph`, with the task parts reading the cut."""
        values = {id(x): y for x, y in zip(model.inputs, keras.tree.flatten(inputs))}
        leaves = {}
        for depth in sorted(model._nodes_by_depth, reverse=True):
            for node in model._nodes_by_depth[depth]:
                if not node.operation or node.is_input:
                    continue
                if any(id(x) not in values for x in node.input_tensors):
                    continue
                reads = self._consumers.get(id(node), ())
                if reads:
                    view = dict(values)
                    view.update({key: leaves[key] for key in reads})
                else:
                    view = values
                args, kwargs = node.arguments.fill_in(view)
                operation = node.operation
                if hasattr(model, "_get_operation_for_node"):
                    operation = model._get_operation_for_node(node)
                outputs = operation_fn(operation)(*args, **kwargs)
                for x, y in zip(node.outputs, keras.tree.flatten(outputs)):
                    values[id(x)] = y
                    if id(x) in self._index and id(x) not in leaves:
                        k = self._index[id(x)]
                        captured[k] = y
                        leaf = substitute(k, y)
                        mask = get_keras_mask(y)
                        if mask is not None:
                            set_keras_mask(leaf, mask)
                        leaves[id(x)] = leaf
        results = []
        for x in model.outputs:
            if id(x) not in values:
                raise ValueError(f"Output {x.name!r} is not connected to `inputs`.")
            results.append(values[id(x)])
        return keras.tree.pack_sequence_as(model._outputs_struct, results)
