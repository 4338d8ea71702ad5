"""② Normalization, the first stage after intake: stored payload → canonical model."""
