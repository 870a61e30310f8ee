"""Video: frames in, frames out, with temporal consistency and a flicker measure.

- `nst_tf.video.io`: probe, read and write video files through imageio + imageio-ffmpeg (fps, size and sound
  kept; atomic writes, Ctrl-C leaves a playable partial clip).
- `nst_tf.video.flow`: DIS optical flow, warping, the forward–backward occlusion (reliability) mask.
- `nst_tf.video.temporal`: the blend with the previous stylized frame, and Lai et al.'s warping error.
- `nst_tf.video.routes`: per-frame stylization by a per-style network, universal WCT/AdaIN, or optimisation.
- `nst_tf.video.stylize`: the entry, `stylize_video(frames, route)`, a generator of `nst_tf.records.Step`.

Nothing here is imported by this package's `__init__` (importing `nst_tf.video` loads neither TensorFlow nor
OpenCV); import the submodules.
"""
