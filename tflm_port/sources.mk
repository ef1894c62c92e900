# Runtime sources, shared by the host build (Makefile) and the firmware builds
# (boards/). Paths are relative to tflm_port/. KWSQ_KERNEL_DIR picks the
# kernel variant folder (ref, dsp, ...): same file names in every folder.
KWSQ_KERNEL_DIR ?= kernels/ref

RT_CORE_SRCS := \
	src/fb.c \
	src/interpreter.c \
	src/kernel_util.c \
	src/op_names.c \
	src/ops.c \
	src/qmath.c \
	src/tensor_util.c

RT_KERNEL_NAMES := \
	add average_pool_2d concatenation conv depthwise_conv dequantize \
	fully_connected logistic max_pool_2d mul pack quantize relu relu6 reshape \
	shape softmax strided_slice tanh

RT_KERNEL_SRCS := $(addprefix $(KWSQ_KERNEL_DIR)/,$(addsuffix .c,$(RT_KERNEL_NAMES)))
RT_SRCS := $(RT_CORE_SRCS) $(RT_KERNEL_SRCS)
RT_INCLUDES := -Iinclude -Isrc -I$(KWSQ_KERNEL_DIR)
