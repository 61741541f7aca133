"""What serving loads: decoding, detection, alignment, quality gates, embedders, the pipeline."""
