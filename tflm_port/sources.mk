# Runtime sources, shared by the host build (Makefile) and the firmware builds
# (boards/). Paths are relative to tflm_port/. KWSQ_KERNEL_DIR picks a kernel
# variant folder (kernels/ref, kernels/dsp, ...) with the same file names as
# kernels/ref; a kernel the variant folder lacks comes from kernels/ref.
KWSQ_KERNEL_DIR ?= kernels/ref
KWSQ_RT_ROOT := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

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

# Preparation shared by several ops (TFLM's *_common.cc): always from
# kernels/ref, never replaced by a variant folder, so an optimized conv.c
# still links the same checks and precomputation as the reference one.
RT_KERNEL_COMMON_SRCS := \
	kernels/ref/binary_common.c \
	kernels/ref/concat_common.c \
	kernels/ref/conv_common.c \
	kernels/ref/pool_common.c \
	kernels/ref/unary_common.c

RT_KERNEL_SRCS := $(foreach k,$(RT_KERNEL_NAMES),$(if $(wildcard $(KWSQ_RT_ROOT)/$(KWSQ_KERNEL_DIR)/$(k).c),$(KWSQ_KERNEL_DIR)/$(k).c,kernels/ref/$(k).c))
RT_SRCS := $(RT_CORE_SRCS) $(RT_KERNEL_COMMON_SRCS) $(RT_KERNEL_SRCS)
RT_INCLUDES := -Iinclude -Isrc -I$(KWSQ_KERNEL_DIR) -Ikernels/ref
