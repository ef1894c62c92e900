"""Training runs: presets, the run folder and its config, the float and QAT stages."""
