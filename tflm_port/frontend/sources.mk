# Front-end sources, relative to tflm_port/frontend/; shared by the host
# Makefile here and the firmware builds (apps/).
FE_ROOT := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
FE_SRCS := src/fe_state.c src/rfft_f32.c src/rfft_q31.c src/log2_q24.c src/quantize.c \
	src/frontend_f32.c src/frontend_q20.c src/normalize.c
FE_INCLUDES := -I$(FE_ROOT)/include
