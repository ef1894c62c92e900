/*
 * DEPTHWISE_CONV_2D int8 (weights 1HWC int8 or packed INT4, per-channel,
 * any depth multiplier), bit-exact with TFLite Micro's
 * DepthwiseConvPerChannel reference kernel.
 */
#include <string.h>

#include "kwsq_kernel_util.h"

typedef struct {
    int32_t stride_w, stride_h, dil_w, dil_h, pad_w, pad_h, depth_mult;
    int32_t input_offset, output_offset, act_min, act_max;
    int32_t *mult;
    int8_t *shift;
    int32_t s4;
    bool pot;
    int32_t ring_rows;      /* > 0: in place, keeping this many input rows aside */
} dw_data;

static kwsq_status prepare(struct kwsq_interpreter *ip, kwsq_node *n)
{
    kwsq_tensor_int *input = kwsq_node_input(ip, n, 0);
    kwsq_tensor_int *filter = kwsq_node_input(ip, n, 1);
    kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
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
    if (filter->v.type != KWSQ_INT8 && filter->v.type != KWSQ_INT4) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "weights type %s not supported",
                         kwsq_type_name(filter->v.type));
    }
    const int32_t out_ch = output->v.dims[3];
    const int32_t in_ch = input->v.dims[3];
    if (filter->v.dims[3] != out_ch || in_ch <= 0 || out_ch % in_ch != 0 ||
        input->v.dims[0] != output->v.dims[0]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: channel counts do not match");
    }
    if (filter->v.num_channels > 1 && filter->m->quant_dim != 3) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "per-channel weights must be quantized along dim 3");
    }
    if (bias != NULL && (bias->v.type != KWSQ_INT32 || !bias->m->is_const ||
                         kwsq_num_elements(&bias->v) != out_ch)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "bias must be constant int32, one per output channel");
    }
    dw_data *d = kwsq_alloc_persistent(ip, sizeof *d);
    if (d == NULL) {
        return KWSQ_ERR_ARENA;
    }
    n->data = d;
    int32_t padding = kwsq_opt_i8(ip, n, 0, 0);
    d->stride_w = kwsq_opt_i32(ip, n, 1, 0);
    d->stride_h = kwsq_opt_i32(ip, n, 2, 0);
    d->depth_mult = out_ch / in_ch;
    int32_t activation = kwsq_opt_i8(ip, n, 4, 0);
    d->dil_w = kwsq_opt_i32(ip, n, 5, 1);
    d->dil_h = kwsq_opt_i32(ip, n, 6, 1);
    if (d->stride_w <= 0 || d->stride_h <= 0 || d->dil_w <= 0 || d->dil_h <= 0 || padding > 1 ||
        d->stride_w > 65536 || d->stride_h > 65536 ||
        ((int64_t)filter->v.dims[1] - 1) * d->dil_h > 65536 ||
        ((int64_t)filter->v.dims[2] - 1) * d->dil_w > 65536) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: bad stride, dilation or padding");
    }
    const int32_t out_h = kwsq_out_size(padding, input->v.dims[1], filter->v.dims[1], d->stride_h, d->dil_h);
    const int32_t out_w = kwsq_out_size(padding, input->v.dims[2], filter->v.dims[2], d->stride_w, d->dil_w);
    if (out_h != output->v.dims[1] || out_w != output->v.dims[2]) {
        return kwsq_fail(ip, n, KWSQ_ERR_MODEL, "invalid model: output is %dx%d, expected %dx%d",
                         (int)output->v.dims[1], (int)output->v.dims[2], (int)out_h, (int)out_w);
    }
    d->pad_h = kwsq_padding(d->stride_h, d->dil_h, input->v.dims[1], filter->v.dims[1], out_h);
    d->pad_w = kwsq_padding(d->stride_w, d->dil_w, input->v.dims[2], filter->v.dims[2], out_w);
    if (!kwsq_activation_range_q(activation, output->v.scale, output->v.zero_point, -128, 127,
                                 &d->act_min, &d->act_max)) {
        return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "fused activation %d not supported", (int)activation);
    }
    d->input_offset = -input->v.zero_point;
    d->output_offset = output->v.zero_point;
    d->s4 = filter->v.type == KWSQ_INT4;
    /* Stride 1, same-size output, one output per input channel: output row y
     * overwrites input row y, which rows up to y + pad_h still read, so rows
     * y - pad_h .. y are kept in a ring of pad_h + 1 rows before being
     * overwritten. */
    if (d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 && d->dil_w == 1 && d->depth_mult == 1 &&
        out_h == input->v.dims[1] && out_w == input->v.dims[2] && kwsq_alias_output(ip, n, 0, 0)) {
        d->ring_rows = d->pad_h + 1;
        if (kwsq_request_scratch(ip, n, (size_t)d->ring_rows * (size_t)out_w * (size_t)out_ch) < 0) {
            return kwsq_fail(ip, n, KWSQ_ERR_UNSUPPORTED, "too many scratch buffers");
        }
    }
    return kwsq_conv_multipliers(ip, n, input, filter, output, out_ch, &d->mult, &d->shift, &d->pot);
}

/* Output channels are processed in blocks: each input tap is read once per
 * block and multiplied into the block's accumulators (weights are contiguous
 * per tap), instead of re-walking the window for every output channel. */
#define DW_BLOCK 64

static kwsq_status eval(struct kwsq_interpreter *ip, const kwsq_node *n)
{
    const dw_data *d = n->data;
    const kwsq_tensor *in = &kwsq_node_input(ip, n, 0)->v;
    const kwsq_tensor *f = &kwsq_node_input(ip, n, 1)->v;
    const kwsq_tensor_int *bias = kwsq_node_input(ip, n, 2);
    const kwsq_tensor *out = &kwsq_node_output(ip, n, 0)->v;
    const int8_t *x = in->data;
    const uint8_t *w = f->data;
    const int32_t *b = bias != NULL ? (const int32_t *)bias->v.data : NULL;
    int8_t *y = out->data;
    const int32_t batches = in->dims[0], in_h = in->dims[1], in_w = in->dims[2], in_ch = in->dims[3];
    const int32_t f_h = f->dims[1], f_w = f->dims[2];
    const int32_t out_h = out->dims[1], out_w = out->dims[2], out_ch = out->dims[3];
    const int32_t dm = d->depth_mult;
    const int32_t off = d->input_offset;
    int32_t acc[DW_BLOCK];
    int8_t *ring = d->ring_rows > 0 ? kwsq_scratch(ip, n, 0) : NULL;
    const int32_t row_bytes = in_w * in_ch;

    for (int32_t bt = 0; bt < batches; ++bt) {
        for (int32_t oy = 0; oy < out_h; ++oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_h;
            if (ring != NULL) {
                memcpy(ring + (oy % d->ring_rows) * row_bytes, x + ((int64_t)bt * in_h + oy) * row_bytes,
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
                                                         ? ring + (iy % d->ring_rows) * row_bytes
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

const kwsq_kernel kwsq_kernel_depthwise_conv_2d = {4, 2, prepare, eval};
