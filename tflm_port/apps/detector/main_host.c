/* Host build of the detector: kwsq-detect FILE.wav [-v] */
#include <stdio.h>
#include <string.h>

#include "app.h"

static size_t read_file(void *ctx, void *buf, size_t n)
{
    return fread(buf, 1, n, (FILE *)ctx);
}

static void print(const char *s)
{
    fputs(s, stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: kwsq-detect FILE.wav [-v]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        fprintf(stderr, "kwsq-detect: cannot open %s\n", argv[1]);
        return 2;
    }
    kwsq_app_io io = {read_file, f, print, NULL, NULL, argc > 2 && strcmp(argv[2], "-v") == 0};
    const int code = kwsq_app_run(&io);
    fclose(f);
    return code;
}
