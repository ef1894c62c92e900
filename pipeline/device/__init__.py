"""Running .tflite files on kwsq's C runtime: the host bridge, QEMU ARM targets, benchmarks."""
