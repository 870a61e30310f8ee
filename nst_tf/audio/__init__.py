"""Style transfer for sound (Ulyanov & Lebedev 2016): spectrogram textures with a random 1-D convolution.

A sound's log-magnitude spectrogram log(1 + |STFT|) is treated as a one-pixel-high picture whose channels
are the frequency bins. One wide, untrained, seeded 1-D convolution + ReLU describes it; the style sound's
Gram matrix and the content sound's features are matched by optimising the spectrogram itself (L-BFGS-B or
Adam), and Griffin–Lim recovers a waveform. No pretrained weights: it works fully offline.

Modules: `spectrogram` (STFT, inverse STFT, Griffin–Lim, all `tf.signal`), `features` (the random filter
bank, Gram matrices, costs), `transfer` (settings, the optimisation loop as a generator of `nst_tf.records.Step`s),
`report` (spectrogram pictures and report.html), `run_folder` (everything a run writes) and `to_folder`
(the library entry that reads WAV files and writes a whole run folder, as the `audio` command does).
"""
