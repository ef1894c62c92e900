/*
 * STRIDED_SLICE with constant begin/end/strides, begin/end/shrink-axis masks
 * and negative indices (start/stop rules of TFLite's strided_slice_logic);
 * ellipsis and new-axis masks are refused at load time.
 */
#include <string.h>

#include "kwsq_kernel_util.h"
#include "kwsq_schema.h"

typedef struct {
    int32_t rank;
    int32_t start[KWSQ_MAX_DIMS];
    int32_t stop[KWSQ_MAX_DIMS];
    int32_t stride[KWSQ_MAX_DIMS];
    size_t esize;
} slice_data;

static int32_t clampi(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static int64_t axis_count(int32_t start, int32_t stop, int32_t stride)
{
    if (stride > 0) {
        return start < stop ? ((int64_t)stop - start + stride - 1) / stride : 0;
    }
    return start > stop ? ((int64_t)start - stop - stride - 1) / -(int64_t)stride : 0;
}

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *in = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *out = kwsq_node_output(ip, n, 0);
    kwsq_tensor_int *vec[3] = {kwsq_node_input(ip, n, 1), kwsq_node_input(ip, n, 2), kwsq_node_input(ip, n, 3)};
    if (in == NULL || out == NULL || out->v.type != in->v.type) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: missing input or output");
    }
    slice_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    d->rank = in->v.num_dims;
    d->esize = kwsq_type_size_bits(in->v.type) / 8;
    if (d->esize == 0 || in->v.type == KWSQ_INT4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "input %T: type %s not supported", in,
                         kwsq_type_name(in->v.type));
    }
    for (int32_t k = 0; k < 3; ++k) {
        if (vec[k] == NULL || !vec[k]->m->is_const || vec[k]->v.type != KWSQ_INT32 ||
            kwsq_num_elements(&vec[k]->v) != d->rank) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "begin/end/strides must be constant int32 of the input rank");
        }
    }
    int32_t begin_mask = kwsq_opt_i32(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_BEGIN_MASK, 0);
    int32_t end_mask = kwsq_opt_i32(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_END_MASK, 0);
    int32_t shrink = kwsq_opt_i32(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_SHRINK_AXIS_MASK, 0);
    if (kwsq_opt_i32(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_ELLIPSIS_MASK, 0) != 0 ||
        kwsq_opt_i32(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_NEW_AXIS_MASK, 0) != 0 ||
        kwsq_opt_i8(ip, n, KWSQ_FIELD_STRIDED_SLICE_OPTIONS_OFFSET, 0) != 0) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "ellipsis/new-axis masks and offset not supported");
    }
    const int32_t *b = vec[0]->v.data, *e = vec[1]->v.data, *s = vec[2]->v.data;
    int64_t total = 1;
    for (int32_t a = 0; a < d->rank; ++a) {
        int32_t size = in->v.dims[a], stride = s[a];
        if (stride == 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: zero stride");
        }
        int32_t start = b[a];
        if (begin_mask & (1 << a)) {
            start = stride > 0 ? INT32_MIN : INT32_MAX;
        }
        if (start < 0) {
            start += size;
        }
        start = stride > 0 ? clampi(start, 0, size) : clampi(start, -1, size - 1);
        int32_t stop = e[a];
        if (shrink & (1 << a)) {
            /* One index, which must lie inside the axis (TFLite: begin in [-dim, dim)). */
            const int64_t index = b[a] < 0 ? (int64_t)b[a] + size : b[a];
            if ((begin_mask & (1 << a)) == 0 && (index < 0 || index >= size)) {
                return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: shrink-axis index %d outside axis %d of size %d",
                                 (int)b[a], (int)a, (int)size);
            }
            stop = start + 1;
        } else {
            if (end_mask & (1 << a)) {
                stop = stride > 0 ? INT32_MAX : INT32_MIN;
            }
            if (stop < 0) {
                stop += size;
            }
            stop = stride > 0 ? clampi(stop, 0, size) : clampi(stop, -1, size - 1);
        }
        if (size == 0) {
            start = stop = 0;
        }
        d->start[a] = start;
        d->stop[a] = stop;
        d->stride[a] = stride;
        total *= axis_count(start, stop, stride);
    }
    if (total != kwsq_num_elements(&out->v)) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: slice has %d elements, output %d",
                         (int)total, (int)kwsq_num_elements(&out->v));
    }
    return KWSQ_OK;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const slice_data *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    uint8_t *y = kwsq_node_output(ip, n, 0)->v.data;
    const uint8_t *x = in->data;
    int64_t idx[KWSQ_MAX_DIMS];
    int64_t stride_el[KWSQ_MAX_DIMS];
    int64_t s = 1;
    for (int32_t a = d->rank - 1; a >= 0; --a) {
        stride_el[a] = s;
        s *= in->dims[a];
        idx[a] = d->start[a];
        if (!(d->stride[a] > 0 ? d->start[a] < d->stop[a] : d->start[a] > d->stop[a])) {
            return KWSQ_OK; /* empty slice */
        }
    }
    for (;;) {
        int64_t off = 0;
        for (int32_t a = 0; a < d->rank; ++a) {
            off += idx[a] * stride_el[a];
        }
        memcpy(y, x + off * (int64_t)d->esize, d->esize);
        y += d->esize;
        int32_t a = d->rank - 1;
        for (; a >= 0; --a) {
            idx[a] += d->stride[a];
            if (d->stride[a] > 0 ? idx[a] < d->stop[a] : idx[a] > d->stop[a]) {
                break;
            }
            idx[a] = d->start[a];
        }
        if (a < 0) {
            return KWSQ_OK;
        }
    }
}

const kwsq_kernel kwsq_kernel_strided_slice = {KWSQ_OP_STRIDED_SLICE, KWSQ_OPTIONS_STRIDED_SLICE_OPTIONS, prepare, eval, KWSQ_PREPARE_ONLY(1) | KWSQ_PREPARE_ONLY(2) | KWSQ_PREPARE_ONLY(3), KWSQ_OP_NAME("STRIDED_SLICE")};
