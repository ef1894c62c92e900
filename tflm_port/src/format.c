/*
 * Error messages without stdio: a tiny formatter that works the same on the
 * host and on a bare-metal target, and kwsq_fail, which names the op and
 * its place in the graph ("CONV_2D (op 3): ..."). Conversions: %s, %d
 * (int), %u (unsigned long), and during init %T (const kwsq_tensor_int *)
 * and %I (int, a model tensor index), both printed as "tensor 5 'name'".
 */
#include <stdarg.h>
#include <string.h>

#include "kwsq_load.h"
#include "kwsq_schema.h"

#define NAME_MAX_SHOWN 40   /* long TF names are cut; the index identifies the tensor */

typedef struct {
    char *dst;
    size_t cap;
    size_t len;
} out_buf;

static void append_n(out_buf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i] != '\0' && o->len + 1 < o->cap; ++i) {
        o->dst[o->len++] = s[i];
    }
    o->dst[o->len] = '\0';
}

static void append(out_buf *o, const char *s)
{
    append_n(o, s, (size_t)-1);
}

static void append_int(out_buf *o, long long v)
{
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1u : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0 && n < 22);
    if (v < 0) {
        tmp[n++] = '-';
    }
    char out[24];
    for (int i = 0; i < n; ++i) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
    append(o, out);
}

#ifndef KWSQ_SHORT_ERRORS
/* The model index of a tensor a kernel holds during init: a kept tensor
 * (reverse of the map) or a temporary view of the node's constant inputs. */
static int32_t model_index(const struct kwsq_interpreter *ip, const kwsq_node *n, const kwsq_tensor_int *t)
{
    const struct kwsq_init_ctx *ctx = ip != NULL ? ip->init : NULL;
    if (ctx == NULL || t == NULL) {
        return -1;
    }
    const uintptr_t p = (uintptr_t)t;
    if (ip->tensors != NULL && p >= (uintptr_t)ip->tensors && p < (uintptr_t)(ip->tensors + ip->num_tensors)) {
        const int32_t r = (int32_t)(t - ip->tensors);
        for (uint32_t i = 0; i < ctx->tensors.count; ++i) {
            if (ctx->map[i] == r) {
                return (int32_t)i;
            }
        }
    }
    if (n != NULL && ctx->views != NULL && p >= (uintptr_t)ctx->views) {
        int32_t v = (int32_t)(t - ctx->views);
        for (int32_t k = 0; k < n->num_inputs; ++k) {
            const int32_t idx = n->io[k];
            if (idx >= 0 && ctx->map[idx] < 0 && v-- == 0) {
                return idx;
            }
        }
    }
    return -1;
}

static void append_tensor(out_buf *o, const struct kwsq_interpreter *ip, int32_t index)
{
    kwsq_fb_table t;
    kwsq_fb_vec name;
    append(o, "tensor ");
    append_int(o, index);
    if (ip == NULL || ip->init == NULL || index < 0 ||
        !kwsq_fb_vec_table(&ip->fb, &ip->init->tensors, (uint32_t)index, &t) ||
        !kwsq_fb_vector(&ip->fb, &t, KWSQ_FIELD_TENSOR_NAME, 1, &name) || name.count == 0) {
        return;
    }
    append(o, " '");
    append_n(o, (const char *)ip->fb.buf + name.pos, name.count < NAME_MAX_SHOWN ? name.count : NAME_MAX_SHOWN);
    append(o, name.count > NAME_MAX_SHOWN ? "...'" : "'");
}
#endif

static void vformat(out_buf *o, const struct kwsq_interpreter *ip, const kwsq_node *n, const char *fmt,
                    va_list ap)
{
    (void)ip;
    (void)n;
    for (const char *p = fmt; *p != '\0'; ++p) {
        if (*p != '%' || p[1] == '\0') {
            append_n(o, p, 1);
            continue;
        }
        switch (*++p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            append(o, s != NULL ? s : "(null)");
            break;
        }
        case 'd':
            append_int(o, va_arg(ap, int));
            break;
        case 'u':
            append_int(o, (long long)va_arg(ap, unsigned long));
            break;
#ifndef KWSQ_SHORT_ERRORS /* there only the arena message is formatted (%u) */
        case 'T':
            append_tensor(o, ip, model_index(ip, n, va_arg(ap, const kwsq_tensor_int *)));
            break;
        case 'I':
            append_tensor(o, ip, va_arg(ap, int));
            break;
#endif
        default:
            append_n(o, p - 1, 2);
            break;
        }
    }
}

void kwsq_format(char *dst, size_t cap, const char *fmt, ...)
{
    out_buf o = {dst, cap, 0};
    va_list ap;
    if (cap == 0) {
        return;
    }
    dst[0] = '\0';
    va_start(ap, fmt);
    vformat(&o, NULL, NULL, fmt, ap);
    va_end(ap);
}

/* "<OP> (op <index>): " */
static void op_prefix(out_buf *o, const struct kwsq_interpreter *ip, const kwsq_node *n)
{
    if (n != NULL) {
        const char *name = n->kernel != NULL ? n->kernel->name : "?";
        if (name != NULL) {
            append(o, name);
        } else { /* built without op names (KWSQ_NO_OP_NAMES) */
            append(o, "builtin ");
            append_int(o, (long long)n->kernel->builtin);
        }
        append(o, " (op ");
        append_int(o, (long long)(n - ip->nodes));
        append(o, "): ");
    }
}

kwsq_status kwsq_fail_at(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                         const char *file, int line, ...)
{
    kwsq_error *err = ip != NULL ? ip->err : NULL;
    if (err != NULL) {
        out_buf o = {err->message, sizeof err->message, 0};
        err->message[0] = '\0';
        op_prefix(&o, ip, n);
        append(&o, "error at ");
        append(&o, file);
        append(&o, ":");
        append_int(&o, (long long)line);
    }
    return status;
}

#ifdef KWSQ_SHORT_ERRORS
#undef kwsq_fail
#undef kwsq_model_error
#endif

kwsq_status kwsq_fail(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                      const char *fmt, ...)
{
    kwsq_error *err = ip != NULL ? ip->err : NULL;
    if (err != NULL) {
        out_buf o = {err->message, sizeof err->message, 0};
        va_list ap;
        err->message[0] = '\0';
        op_prefix(&o, ip, n);
        va_start(ap, fmt);
        vformat(&o, ip, n, fmt, ap);
        va_end(ap);
    }
    return status;
}

kwsq_status kwsq_model_error(struct kwsq_interpreter *ip, const char *what)
{
    return kwsq_fail(ip, NULL, KWSQ_ERR_MODEL, "invalid model: %s", what);
}

kwsq_status kwsq_arena_error(struct kwsq_interpreter *ip)
{
    size_t need = kwsq_align_up(ip->persist_used, KWSQ_ALIGN_PERSIST) + ip->temp_used;
    need = (ip->short_need > need ? ip->short_need : need) + ip->pad;
    return kwsq_fail(ip, NULL, KWSQ_ERR_ARENA, "arena too small: %u bytes given, at least %u needed",
                     (unsigned long)ip->given, (unsigned long)need);
}
