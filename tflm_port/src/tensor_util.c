/*
 * Small tensor helpers shared by the interpreter and the kernels: type sizes,
 * element counts and per-channel quantization parameters (read from the
 * model's validated vectors byte-wise, so their alignment does not matter).
 */
#include "kwsq_internal.h"

size_t kwsq_type_size_bits(kwsq_type t)
{
    switch (t) {
    case KWSQ_FLOAT32:
    case KWSQ_INT32:
        return 32;
    case KWSQ_INT64:
        return 64;
    case KWSQ_INT16:
        return 16;
    case KWSQ_INT8:
    case KWSQ_UINT8:
    case KWSQ_BOOL:
        return 8;
    case KWSQ_INT4:
        return 4;
    }
    return 0;
}

const char *kwsq_type_name(kwsq_type t)
{
    switch (t) {
    case KWSQ_FLOAT32: return "FLOAT32";
    case KWSQ_INT32: return "INT32";
    case KWSQ_UINT8: return "UINT8";
    case KWSQ_INT64: return "INT64";
    case KWSQ_BOOL: return "BOOL";
    case KWSQ_INT16: return "INT16";
    case KWSQ_INT8: return "INT8";
    case KWSQ_INT4: return "INT4";
    }
    return "UNSUPPORTED_TYPE";
}

int64_t kwsq_num_elements(const kwsq_tensor *t)
{
    int64_t n = 1;
    for (int32_t i = 0; i < t->num_dims; ++i) {
        n *= t->dims[i];
    }
    return n;
}

float kwsq_channel_scale(const kwsq_tensor_int *t, int32_t c)
{
    if (t->m->scales == NULL) {
        return 0.0f;
    }
    if (t->v.num_channels <= 1) {
        c = 0;
    }
    return kwsq_rd_f32(t->m->scales + 4 * (size_t)c);
}

int32_t kwsq_channel_zero(const kwsq_tensor_int *t, int32_t c)
{
    if (t->m->zeros == NULL) {
        return 0;
    }
    if (t->v.num_channels <= 1) {
        c = 0;
    }
    return (int32_t)kwsq_rd_i64(t->m->zeros + 8 * (size_t)c);
}

bool kwsq_same_shape(const kwsq_tensor *a, const kwsq_tensor *b)
{
    if (a->num_dims != b->num_dims) {
        return false;
    }
    for (int32_t i = 0; i < a->num_dims; ++i) {
        if (a->dims[i] != b->dims[i]) {
            return false;
        }
    }
    return true;
}
