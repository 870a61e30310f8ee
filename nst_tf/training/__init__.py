"""The one training loop, shared by the per-style and texture networks (`nst_tf.feedforward`) and the universal
decoders (`nst_tf.universal`): `loop` (checkpointed state, the compiled distributed step, the generator of
`nst_tf.records.Step`s) and `data` (the tf.data photo pipeline both feed it from). Nothing is imported at
`import nst_tf.training`."""
