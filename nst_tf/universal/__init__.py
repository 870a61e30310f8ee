"""Universal style transfer: any style picture in one pass, no training per style.

`networks` holds the VGG16 encoder (relu1_1 … relu4_1) and the decoders that invert it; `transforms` the
feature transforms (the whitening–colouring transform of Li et al. 2017 and AdaIN of Huang & Belongie
2017), pure NumPy; `stylize` runs them (coarse-to-fine WCT, AdaIN, style mixing, masks, colour
preservation); `decoders` loads the shipped decoders from nst_tf/models/universal/; `settings` holds
`UniversalSettings` and `DecoderTraining`; `stream` is the library entry (`stylize_universal`, pictures read,
sized and masked); `train` trains decoders through the one training loop and `training_run` writes them.
Nothing is imported or built at import time.
"""
