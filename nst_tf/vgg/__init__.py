"""The VGG loss network: layer tables, the feature extractor, and its weights."""
