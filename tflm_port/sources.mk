# Runtime sources, shared by the host build (Makefile), the firmware builds
# (boards/) and the fuzzer (fuzz/). Paths are relative to tflm_port/.
#
# KERNELS picks the kernel variant folder kernels/$(KERNELS) (ref, dsp, mve,
# neon). Every kernel entry point (include/kwsq_kernels.h) is one file in
# kernels/ref named after the function; for each of them the variant's file
# of the same name is used when it exists, the reference one otherwise. A .c
# file the variant has and kernels/ref has not (a helper) is added. The op
# files in src/ops (Prepare and Eval) are the same for every variant.
KERNELS ?= ref
KWSQ_KERNEL_DIR ?= kernels/$(KERNELS)
KWSQ_RT_ROOT := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

RT_CORE_SRCS := \
	src/arena.c \
	src/fb.c \
	src/format.c \
	src/interpreter.c \
	src/kernel_util.c \
	src/model.c \
	src/node.c \
	src/op_names.c \
	src/ops.c \
	src/planner.c \
	src/qmath.c \
	src/tensor_util.c

RT_OP_NAMES := \
	add average_pool_2d concatenation conv conv_f32 depthwise_conv dequantize \
	fully_connected logistic max_pool_2d mul pack quantize relu relu6 reshape \
	shape softmax strided_slice tanh \
	binary_common concat_common conv_common pool_common unary_common
RT_OP_SRCS := $(addprefix src/ops/,$(addsuffix .c,$(RT_OP_NAMES)))

kwsq_rel = $(patsubst $(KWSQ_RT_ROOT)/%,%,$(1))
RT_REF_KERNELS := $(notdir $(wildcard $(KWSQ_RT_ROOT)/kernels/ref/*.c))
RT_VARIANT_KERNELS := $(if $(filter kernels/ref,$(KWSQ_KERNEL_DIR)),,$(notdir $(wildcard $(KWSQ_RT_ROOT)/$(KWSQ_KERNEL_DIR)/*.c)))
RT_KERNEL_SRCS := \
	$(addprefix kernels/ref/,$(filter-out $(RT_VARIANT_KERNELS),$(RT_REF_KERNELS))) \
	$(addprefix $(KWSQ_KERNEL_DIR)/,$(RT_VARIANT_KERNELS))

RT_SRCS := $(RT_CORE_SRCS) $(RT_OP_SRCS) $(RT_KERNEL_SRCS)
RT_INCLUDES := -Iinclude -Isrc -Isrc/ops -I$(KWSQ_KERNEL_DIR) -Ikernels/ref
