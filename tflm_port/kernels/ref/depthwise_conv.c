/*
 * DEPTHWISE_CONV_2D int8 (weights 1HWC int8 or packed INT4, per-channel,
 * any depth multiplier), bit-exact with TFLite Micro's
 * DepthwiseConvPerChannel reference kernel.
 */
#include <string.h>

#include "conv_common.h"

typedef struct {
    kwsq_conv_params p;
    int32_t depth_mult;
    int32_t ring_rows;      /* > 0: in place, keeping this many input rows aside */
} dw_data;

static const kwsq_conv_kind k_depthwise = {4, 5, 3};

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
        output->v.num_dims != 4 || filter->v.dims[0] != 1) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "needs 4-D input/output and constant 1xHxWxC weights");
    }
    if ((st = kwsq_conv_check_weights(ip, n, filter)) != KWSQ_OK) {
        return st;
    }
    const int32_t out_ch = output->v.dims[3];
    const int32_t in_ch = input->v.dims[3];
    if (filter->v.dims[3] != out_ch || in_ch <= 0 || out_ch % in_ch != 0 ||
        input->v.dims[0] != output->v.dims[0]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: channel counts do not match");
    }
    dw_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    d->depth_mult = out_ch / in_ch;
    if ((st = kwsq_conv_prepare_params(ip, n, &k_depthwise, &d->p)) != KWSQ_OK) {
        return st;
    }
    const kwsq_conv_params *p = &d->p;
    /* Stride 1, same-size output, one output per input channel: output row y
     * overwrites input row y, which rows up to y + pad_h still read, so rows
     * y - pad_h .. y are kept in a ring of pad_h + 1 rows before being
     * overwritten. */
    if (p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1 && p->dil_w == 1 && d->depth_mult == 1 &&
        output->v.dims[1] == input->v.dims[1] && output->v.dims[2] == input->v.dims[2] &&
        kwsq_alias_output(ip, n, 0, 0)) {
        d->ring_rows = p->pad_h + 1;
        if (kwsq_request_scratch(ip, n, (size_t)d->ring_rows * (size_t)output->v.dims[2] * (size_t)out_ch) < 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
        }
    }
    return KWSQ_OK;
}

/* Output channels are processed in blocks: each input tap is read once per
 * block and multiplied into the block's accumulators (weights are contiguous
 * per tap), instead of re-walking the window for every output channel. */
#define DW_BLOCK 64

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const dw_data *dd = n->data;
    const kwsq_conv_params *d = &dd->p;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const int8_t *x = in->data;
    const uint8_t *w = d->filter;
    const int32_t *b = d->bias;
    int8_t *y = out->data;
    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2], in_ch = in->dims[3];
    const int32_t f_h = d->filter_h, f_w = d->filter_w;
    const int32_t out_h = out->dims[1], out_w = out->dims[2], out_ch = out->dims[3];
    const int32_t dm = dd->depth_mult;
    const int32_t off = d->input_offset;
    int32_t acc[DW_BLOCK];
    int8_t *ring = dd->ring_rows > 0 ? kwsq_scratch(ip, n, 0) : NULL;
    const int32_t row_bytes = in_w * in_ch;

    for (int32_t bt = 0; bt < batches; ++bt) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % dd->ring_rows) * row_bytes, x + ((int64_t)bt * in_h + oy) * row_bytes,
                       (size_t)row_bytes);
            }
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
                int8_t *yp = y + (((int64_t)bt * out_h + oy) * out_w + ox) * out_ch;
                /* Blocks hold whole input channels (dm outputs each). */
                const int32_t ic_per_block = dm <= DW_BLOCK ? DW_BLOCK / dm : 1;
                for (int32_t ic0 = 0; ic0 < in_ch; ic0 += ic_per_block) {
                    const int32_t ic1 = ic0 + ic_per_block < in_ch ? ic0 + ic_per_block : in_ch;
                    /* dm > DW_BLOCK: walk the multiplier in slices of DW_BLOCK. */
                    for (int32_t m0 = 0; m0 < (dm <= DW_BLOCK ? 1 : dm); m0 += DW_BLOCK) {
                        const int32_t oc0 = ic0 * dm + m0;
                        const int32_t mlen = dm <= DW_BLOCK ? dm : (dm - m0 < DW_BLOCK ? dm - m0 : DW_BLOCK);
                        const int32_t count = dm <= DW_BLOCK ? (ic1 - ic0) * dm : mlen;
                        for (int32_t k = 0; k < count; ++k) {
                            acc[k] = b != NULL ? b[oc0 + k] : 0;
                        }
                        for (int32_t fy = fy0; fy < fy1; ++fy) {
                            const int32_t iy = iy0 + d->dil_h * fy;
                            for (int32_t fx = fx0; fx < fx1; ++fx) {
                                const int32_t ix = ix0 + d->dil_w * fx;
                                const int8_t *xrow = ring != NULL && iy <= oy
                                                         ? ring + (iy % dd->ring_rows) * row_bytes
                                                         : x + ((int64_t)bt * in_h + iy) * row_bytes;
                                const int8_t *xp = xrow + ix * in_ch;
                                const int32_t wtap = (fy * f_w + fx) * out_ch + oc0;
                                int32_t k = 0;
                                for (int32_t ic = ic0; ic < (dm <= DW_BLOCK ? ic1 : ic0 + 1); ++ic) {
                                    const int32_t xv = (int32_t)xp[ic] + off;
                                    if (d->s4) {
                                        for (int32_t m = 0; m < mlen; ++m, ++k) {
                                            acc[k] += kwsq_int4_at(w, (int64_t)wtap + k) * xv;
                                        }
                                    } else {
                                        const int8_t *wp = (const int8_t *)w + wtap + k;
                                        for (int32_t m = 0; m < mlen; ++m) {
                                            acc[k + m] += (int32_t)wp[m] * xv;
                                        }
                                        k += mlen;
                                    }
                                }
                            }
                        }
                        for (int32_t k = 0; k < count; ++k) {
                            const int32_t oc = oc0 + k;
                            int32_t v = (d->pot ? kwsq_mbqm_pot(acc[k], d->shift[oc])
                                                : kwsq_mbqm(acc[k], d->mult[oc], d->shift[oc])) +
                                        d->output_offset;
                            yp[oc] = (int8_t)kwsq_clamp(v, d->act_min, d->act_max);
                        }
                    }
                }
            }
        }
    }
    return KWSQ_OK;
}

const kwsq_kernel kwsq_kernel_depthwise_conv_2d = {4, 2, prepare, eval, 0x6u};
