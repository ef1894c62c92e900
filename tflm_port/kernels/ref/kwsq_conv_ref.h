/*
 * The reference CONV_2D loop, shared by kwsq_conv_s8.c and kwsq_conv_s4.c:
 * each file instantiates it with a constant weight format, so the compiler
 * drops the other branch. Bit-exact with TFLite Micro's ConvPerChannel.
 */
#ifndef KWSQ_CONV_REF_H
#define KWSQ_CONV_REF_H

#include <string.h>

#include "kwsq_kernels.h"
#include "kwsq_math.h"

/* sum of w[i] * (x[i] + off): int8 weights, or packed int4 starting at element w0. */
static int32_t kwsq_ref_dot_off_s8(const int8_t *w, const int8_t *x, int32_t n, int32_t off)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] + off);
    }
    return acc;
}

static int32_t kwsq_ref_dot_off_s4(const uint8_t *w, int32_t w0, const int8_t *x, int32_t n, int32_t off)
{
    int32_t acc = 0;
    for (int32_t i = 0; i < n; ++i) {
        acc += kwsq_int4_at(w, (int64_t)w0 + i) * ((int32_t)x[i] + off);
    }
    return acc;
}

/* The part of a filter window inside the input, at output pixel (oy, ox). */
typedef struct {
    int32_t iy0, ix0, fy0, fy1, fx0, fx1;
} kwsq_ref_window;

/* All output channels of one output pixel. A function of its own (not
 * inlined), so that the dot-product loops get registers to themselves. */
static KWSQ_NOINLINE void kwsq_ref_conv_pixel(bool s4, const kwsq_conv_params *p, const kwsq_quant_params *q,
                                              const kwsq_dims *in, const kwsq_dims *f, const uint8_t *w,
                                              const int32_t *b, const int8_t *xb, const kwsq_ref_window *win,
                                              int32_t out_ch, int8_t *yp)
{
    const int32_t in_w = in->w, in_ch = in->c, f_h = f->h, f_w = f->w, f_in = f->c;
    const int32_t per_group = out_ch / (in_ch / f_in);
    const int32_t dil_w = p->dilation_w, ix0 = win->ix0;
    /* Without dilation or groups, one filter row is one contiguous input span. */
    const bool span = dil_w == 1 && f_in == in_ch;
    const int32_t off = p->input_offset;
    const int32_t fy0 = win->fy0, fy1 = win->fy1, fx0 = win->fx0, fx1 = win->fx1;
    const int64_t row_step = (int64_t)p->dilation_h * in_w * in_ch;
    /* Offsets, not pointers, step through the rows: no pointer is formed outside the input. */
    const int64_t x_first = (int64_t)(win->iy0 + p->dilation_h * fy0) * in_w * in_ch;
    const int32_t w_row_step = f_w * f_in;
    for (int32_t oc = 0; oc < out_ch; ++oc) {
        const int32_t group_base = (oc / per_group) * f_in;
        int32_t acc = b != NULL ? b[oc] : 0;
        int64_t xrow_off = x_first;
        int32_t wrow = (oc * f_h + fy0) * w_row_step;
        for (int32_t fy = fy0; fy < fy1; ++fy, xrow_off += row_step, wrow += w_row_step) {
            const int8_t *xrow = xb + xrow_off;
            if (span) {
                const int8_t *xs = xrow + (int64_t)(ix0 + fx0) * in_ch;
                const int32_t len = (fx1 - fx0) * in_ch;
                acc += s4 ? kwsq_ref_dot_off_s4(w, wrow + fx0 * f_in, xs, len, off)
                          : kwsq_ref_dot_off_s8((const int8_t *)w + wrow + fx0 * f_in, xs, len, off);
                continue;
            }
            for (int32_t fx = fx0; fx < fx1; ++fx) {
                const int8_t *xs = xrow + (int64_t)(ix0 + dil_w * fx) * in_ch + group_base;
                acc += s4 ? kwsq_ref_dot_off_s4(w, wrow + fx * f_in, xs, f_in, off)
                          : kwsq_ref_dot_off_s8((const int8_t *)w + wrow + fx * f_in, xs, f_in, off);
            }
        }
        acc = kwsq_requant(acc, q->multiplier[oc], q->shift[oc], q->pot) + p->output_offset;
        yp[oc] = (int8_t)kwsq_clamp(acc, p->act_min, p->act_max);
    }
}

static inline kwsq_status kwsq_ref_conv(bool s4, const kwsq_context *ctx, const kwsq_conv_params *p,
                                        const kwsq_quant_params *q, const kwsq_dims *in, const int8_t *x,
                                        const kwsq_dims *f, const uint8_t *w, const int32_t *b,
                                        const kwsq_dims *out, int8_t *y)
{
    const int32_t out_h = out->h, out_w = out->w, out_ch = out->c;
    /* In place (1x1): output pixel p is computed aside, then copied over input pixel p. */
    int8_t *tmp = p->in_place ? ctx->buf : NULL;
    kwsq_ref_window win;
    for (int32_t bt = 0; bt < in->n; ++bt) {
        const int8_t *xb = x + (int64_t)bt * in->h * in->w * in->c;
        for (int32_t oy = 0; oy < out_h; ++oy) {
            win.iy0 = oy * p->stride_h - p->pad_h;
            kwsq_window_clip(win.iy0, p->dilation_h, f->h, in->h, &win.fy0, &win.fy1);
            for (int32_t ox = 0; ox < out_w; ++ox) {
                win.ix0 = ox * p->stride_w - p->pad_w;
                kwsq_window_clip(win.ix0, p->dilation_w, f->w, in->w, &win.fx0, &win.fx1);
                int8_t *ydst = y + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                kwsq_ref_conv_pixel(s4, p, q, in, f, w, b, xb, &win, out_ch, tmp != NULL ? tmp : ydst);
                if (tmp != NULL) {
                    memcpy(ydst, tmp, (size_t)out_ch);
                }
            }
        }
    }
    return KWSQ_OK;
}

static inline int32_t kwsq_ref_conv_buffer_size(const kwsq_conv_params *p, const kwsq_dims *out)
{
    return p->in_place ? out->c : 0;
}

#endif /* KWSQ_CONV_REF_H */
