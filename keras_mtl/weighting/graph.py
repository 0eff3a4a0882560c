"""Which variables of a functional model each task's output depends on."""


def _variables_behind(tensor):
    """ids of the trainable variables of every layer on the paths to `tensor`."""
    found, seen, stack = {}, set(), [tensor]
    while stack:
        history = getattr(stack.pop(), "_keras_history", None)
        if history is None:
            continue
        operation, node_index = history.operation, history.node_index
        if (id(operation), node_index) in seen:
            continue
        seen.add((id(operation), node_index))
        for variable in getattr(operation, "trainable_variables", []):
            found[id(variable)] = variable
        node = operation._inbound_nodes[node_index]
        stack.extend(node.input_tensors)
    return found


def task_variable_roles(model, task_names):
    """`{id(variable): "shared" | "task"}` for the model's trainable variables.

    A variable is `"shared"` when the graph behind the outputs of two or
    more tasks reaches it, `"task"` when only one task's does. Variables
    no task output reaches (a strategy's own, or a model that is not
    functional) are left out.

    Args:
        model: a functional `keras.Model` whose `output` is a dict keyed by
            task name.
        task_names: list of str, the tasks.
    """
    outputs = getattr(model, "_outputs_struct", None)
    if not isinstance(outputs, dict):
        return {}
    users = {}
    for name in task_names:
        if name not in outputs:
            continue
        for key in _variables_behind(outputs[name]):
            users[key] = users.get(key, 0) + 1
    return {key: "shared" if n > 1 else "task" for key, n in users.items()}
