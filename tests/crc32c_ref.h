/*
 * crc32c_ref.h - CRC32C one bit at a time (reflected 0x1EDC6F41), written
 * from the polynomial apart from the provider's code: the reference the
 * S3 tests check its two paths and its request headers against.
 */
#ifndef DROVER_TEST_CRC32C_REF_H
#define DROVER_TEST_CRC32C_REF_H

#include <stddef.h>
#include <stdint.h>

/* The CRC32C of n bytes at p, continuing crc (0 to start). */
static inline uint32_t crc32c_ref(uint32_t crc, const void *p, size_t n)
{
  const unsigned char *b = p;
  uint32_t c = ~crc;
  int k;

  while(n--) {
    c ^= *b++;
    for(k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

#endif
