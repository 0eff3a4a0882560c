"""What the architectures in `keras_mtl.models` are built from.

- `multitask_model`: `MultiTaskModel`, a functional model that knows its
  tasks (masked losses and metrics, per-task logs, data checks on every
  input path);
- `network`: `MultiTaskNetwork`, the base of the prebuilt architectures
  (configured by its constructor), and the task heads;
- `encoder_spec`: `EncoderSpec`, the validated input and encoder arguments
  every architecture shares;
- `backbone`: shared feature extractors (`token_encoder`, backbones).

The public names are exported by `keras_mtl.models`.
"""
