/* Host files through semihosting (QEMU -semihosting-config target=native). */
#ifndef KWSQ_SEMIHOST_FILE_H
#define KWSQ_SEMIHOST_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Open for binary reading; a handle >= 0 or -1. */
int32_t semihost_file_open(const char *path);
/* Bytes read (0 at the end of the file or on error). */
size_t semihost_file_read(int32_t handle, void *buf, size_t n);
void semihost_file_close(int32_t handle);
/* The command line QEMU passes (-append); 0 on success. */
int semihost_cmdline(char *buf, size_t len);

#endif
