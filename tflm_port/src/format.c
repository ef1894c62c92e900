/*
 * Error messages without stdio: a tiny formatter (%s, %d, %u only) that
 * works the same on the host and on a bare-metal target, and kwsq_fail,
 * which prefixes the op's name.
 */
#include <stdarg.h>

#include "kwsq_load.h"

static void append(char *dst, size_t cap, size_t *len, const char *s)
{
    while (*s != '\0' && *len + 1 < cap) {
        dst[(*len)++] = *s++;
    }
    dst[*len] = '\0';
}

static void append_int(char *dst, size_t cap, size_t *len, long long v)
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
    append(dst, cap, len, out);
}

static void vformat(char *dst, size_t cap, size_t *len, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p != '\0'; ++p) {
        if (*p == '%' && p[1] == 's') {
            const char *s = va_arg(ap, const char *);
            append(dst, cap, len, s != NULL ? s : "(null)");
            ++p;
        } else if (*p == '%' && p[1] == 'd') {
            append_int(dst, cap, len, va_arg(ap, int));
            ++p;
        } else if (*p == '%' && p[1] == 'u') {
            append_int(dst, cap, len, (long long)va_arg(ap, unsigned long));
            ++p;
        } else {
            char c[2] = {*p, '\0'};
            append(dst, cap, len, c);
        }
    }
}

void kwsq_format(char *dst, size_t cap, const char *fmt, ...)
{
    size_t len = 0;
    va_list ap;
    if (cap == 0) {
        return;
    }
    dst[0] = '\0';
    va_start(ap, fmt);
    vformat(dst, cap, &len, fmt, ap);
    va_end(ap);
}

kwsq_status kwsq_fail(struct kwsq_interpreter *ip, const kwsq_node *n, kwsq_status status,
                      const char *fmt, ...)
{
    kwsq_error *err = ip != NULL ? ip->err : NULL;
    if (err != NULL) {
        size_t len = 0;
        va_list ap;
        err->message[0] = '\0';
        if (n != NULL) {
            append(err->message, sizeof err->message, &len, n->kernel != NULL ? kwsq_builtin_name(n->kernel->builtin) : "?");
            append(err->message, sizeof err->message, &len, ": ");
        }
        va_start(ap, fmt);
        vformat(err->message, sizeof err->message, &len, fmt, ap);
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
