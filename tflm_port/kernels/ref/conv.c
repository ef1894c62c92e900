/*
 * CONV_2D int8 (NHWC input, OHWI weights int8 or packed INT4, per-channel
 * multipliers, grouped convolution), bit-exact with TFLite Micro's
 * ConvPerChannel reference kernel.
 */
#include <string.h>

#include "conv_common.h"

typedef struct {
    kwsq_conv_params p;
    bool inplace;           /* 1x1 conv writing over its input, pixel by pixel */
} conv_data;

static const kwsq_conv_kind k_conv = {3, 4, 0};

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *output = kwsq_node_output(ip, n, 0);
    kwsq_status st;
    if ((st = kwsq_check_q8(ip, n, input, "input")) != KWSQ_OK ||
        (st = kwsq_check_q8(ip, n, output, "output")) != KWSQ_OK) {
        return st;
    }
    if (filter == NULL || !filter->m->is_const || filter->v.num_dims != 4 || input->v.num_dims != 4 ||
        output->v.num_dims != 4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "needs 4-D input/output and constant 4-D weights");
    }
    if ((st = kwsq_conv_check_weights(ip, n, filter)) != KWSQ_OK) {
        return st;
    }
    const int32_t out_ch = output->v.dims[3];
    const int32_t in_ch = input->v.dims[3];
    const int32_t filter_in = filter->v.dims[3];
    if (filter->v.dims[0] != out_ch || filter_in <= 0 || in_ch % filter_in != 0 ||
        out_ch % (in_ch / filter_in) != 0 || input->v.dims[0] != output->v.dims[0]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: channel counts do not match");
    }
    conv_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    if ((st = kwsq_conv_prepare_params(ip, n, &k_conv, &d->p)) != KWSQ_OK) {
        return st;
    }
    /* A pointwise conv reads pixel p entirely before writing pixel p, and output
     * pixel p lies at or before input pixel p: it can overwrite its input,
     * with one output pixel of scratch. */
    if (filter->v.dims[1] == 1 && filter->v.dims[2] == 1 && d->p.stride_h == 1 && d->p.stride_w == 1 &&
        filter_in == in_ch && output->v.dims[1] == input->v.dims[1] && output->v.dims[2] == input->v.dims[2] &&
        out_ch <= in_ch && kwsq_alias_output(ip, n, 0, 0)) {
        d->inplace = true;
        if (kwsq_request_scratch(ip, n, (size_t)out_ch) < 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
        }
    }
    return KWSQ_OK;
}

/* sum of w[i] * (x[i] + off): int8 weights, or packed int4 starting at element w0. */
static int32_t dot_off_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t off)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] + off);
    }
    return acc;
}

static int32_t dot_off_s4(const uint8_t *w, int32_t w0, const int8_t *x, int32_t n, int32_t off)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += kwsq_int4_at(w, (int64_t)w0 + i) * ((int32_t)x[i] + off);
    }
    return acc;
}

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const conv_data *cd = n->data;
    const kwsq_conv_params *d = &cd->p;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const int8_t *x = in->data;
    const uint8_t *w = d->filter;
    const int32_t *b = d->bias;
    int8_t *y = out->data;
    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2], in_ch = in->dims[3];
    const int32_t f_h = d->filter_h, f_w = d->filter_w, f_in = d->filter_in;
    const int32_t out_h = out->dims[1], out_w = out->dims[2], out_ch = out->dims[3];
    const int32_t per_group = out_ch / (in_ch / f_in);
    /* Without dilation or groups, one filter row is one contiguous input span. */
    const bool span = d->dil_w == 1 && f_in == in_ch;
    const int32_t off = d->input_offset;
    int8_t *tmp = cd->inplace ? kwsq_scratch(ip, n, 0) : NULL;

    for (int32_t bt = 0; bt < batches; ++bt) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            int32_t fy0 = 0, fy1 = f_h;
            while (fy0 < f_h && iy0 + d->dil_h * fy0 < 0) {
                ++fy0;
            }
            while (fy1 > fy0 && iy0 + d->dil_h * (fy1 - 1) >= in_h) {
                --fy1;
            }
            for (int32_t ox = 0; ox < out_w; ++ox) {
                const int32_t ix0 = ox * d->stride_w - d->pad_w;
                int32_t fx0 = 0, fx1 = f_w;
                while (fx0 < f_w && ix0 + d->dil_w * fx0 < 0) {
                    ++fx0;
                }
                while (fx1 > fx0 && ix0 + d->dil_w * (fx1 - 1) >= in_w) {
                    --fx1;
                }
                int8_t *ydst = y + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                int8_t *yp = cd->inplace ? tmp : ydst;
                for (int32_t oc = 0; oc < out_ch; ++oc) {
                    const int32_t group_base = (oc / per_group) * f_in;
                    int32_t acc = b != NULL ? b[oc] : 0;
                    for (int32_t fy = fy0; fy < fy1; ++fy) {
                        const int32_t iy = iy0 + d->dil_h * fy;
                        const int8_t *xrow = x + ((int64_t)bt * in_h + iy) * in_w * in_ch;
                        const int32_t wrow = ((oc * f_h + fy) * f_w) * f_in;
                        if (span) {
                            const int8_t *xs = xrow + (int64_t)(ix0 + fx0) * in_ch;
                            const int32_t len = (fx1 - fx0) * in_ch;
                            acc += d->s4 ? dot_off_s4(w, wrow + fx0 * f_in, xs, len, off)
                                         : dot_off_s8((const int8_t *)w + wrow + fx0 * f_in, xs, len, off);
                            continue;
                        }
                        for (int32_t fx = fx0; fx < fx1; ++fx) {
                            const int8_t *xs = xrow + (int64_t)(ix0 + d->dil_w * fx) * in_ch + group_base;
                            acc += d->s4 ? dot_off_s4(w, wrow + fx * f_in, xs, f_in, off)
                                         : dot_off_s8((const int8_t *)w + wrow + fx * f_in, xs, f_in, off);
                        }
                    }
                    acc = (d->pot ? kwsq_mbqm_pot(acc, d->shift[oc]) : kwsq_mbqm(acc, d->mult[oc], d->shift[oc])) +
                          d->output_offset;
                    yp[oc] = (int8_t)kwsq_clamp(acc, d->act_min, d->act_max);
                }
                if (cd->inplace) {
                    memcpy(ydst, tmp, (size_t)out_ch);
                }
            }
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_conv_2d = {3, 1, prepare, eval, 0x6u};
