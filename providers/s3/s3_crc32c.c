/* s3_crc32c.c - CRC32C (Castagnoli, the iSCSI polynomial), the checksum
 * behind S3's x-amz-checksum-crc32c: the server checks it before it
 * stores the bytes (BadDigest otherwise), and on x86-64 the CPU computes it
 * with one instruction per 8 bytes, about 20 times faster than MD5 here
 * (bench/README.md). A table-driven loop serves every other CPU.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "s3.h"

#define POLY 0x82f63b78u      /* reflected 0x1EDC6F41 */
#define CHUNK S3_READ_SIZE

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static void init_once(void);

static void table_init(void)
{
  unsigned i, k;

  for(i = 0; i < 256; i++) {
    uint32_t c = i;
    for(k = 0; k < 8; k++)
      c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[0][i] = c;
  }
  for(i = 0; i < 256; i++)
    for(k = 1; k < 8; k++)
      table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
}

/* Slicing by 8: eight table lookups per 8 bytes. */
static uint32_t crc_soft(uint32_t c, const unsigned char *p, size_t n)
{
  pthread_once(&table_once, init_once);
  while(n && ((uintptr_t)p & 7)) {
    c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    n--;
  }
  while(n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    w ^= c;
    c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
        table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
        table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while(n--)
    c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
  return c;
}

/* The product of a and b modulo the polynomial, both reflected (bit 31 is
 * x^0): what moves a CRC over a run of zero bytes. */
static uint32_t mulmod(uint32_t a, uint32_t b)
{
  uint32_t m = 1u << 31, p = 0;

  for(;;) {
    if(a & m) {
      p ^= b;
      if(!(a & (m - 1)))
        break;
    }
    m >>= 1;
    b = (b >> 1) ^ (POLY & (0u - (b & 1u)));
  }
  return p;
}

/* x^(8 * n) modulo the polynomial, from the squares x^(2^k). */
static uint32_t shift_of(size_t n)
{
  uint32_t p = 1u << 31, sq = 1u << 23;   /* 1, and x^8: one byte */

  while(n) {
    if(n & 1)
      p = mulmod(sq, p);
    sq = mulmod(sq, sq);
    n >>= 1;
  }
  return p;
}

/* The CRC of A then B, from crc_a, crc_b and B's length: lanes hashed
 * side by side are joined with it. */
static uint32_t combine(uint32_t crc_a, uint32_t crc_b, size_t len_b)
{
  return mulmod(shift_of(len_b), crc_a) ^ crc_b;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW 1
/* SSE4.2's crc32 instruction computes exactly this polynomial (on the
 * inverted register, as crc_soft does). */
__attribute__((target("sse4.2")))
static uint32_t crc_hw1(uint32_t c, const unsigned char *p, size_t n)
{
  uint64_t c64;

  while(n && ((uintptr_t)p & 7)) {
    c = __builtin_ia32_crc32qi(c, *p++);
    n--;
  }
  c64 = c;
  while(n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8;
    n -= 8;
  }
  c = (uint32_t)c64;
  while(n--)
    c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

/* The instruction takes 3 cycles but can start one each cycle: three
 * lanes at once, joined afterwards, run about 3 times as fast. */
#define LANES_MIN 4096
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t n)
{
  size_t lane, i;
  uint64_t a, b, d;

  if(n < LANES_MIN)
    return crc_hw1(c, p, n);
  lane = (n / 3) & ~(size_t)7;
  a = c;
  b = d = 0xffffffffu;
  for(i = 0; i < lane; i += 8) {
    uint64_t w0, w1, w2;
    memcpy(&w0, p + i, 8);
    memcpy(&w1, p + lane + i, 8);
    memcpy(&w2, p + 2 * lane + i, 8);
    a = __builtin_ia32_crc32di(a, w0);
    b = __builtin_ia32_crc32di(b, w1);
    d = __builtin_ia32_crc32di(d, w2);
  }
  /* Lanes 2 and 3 as CRCs of their own (register started at ~0, result
   * inverted), joined onto lane 1's. */
  c = ~combine(~(uint32_t)a, ~(uint32_t)b, lane);
  c = ~combine(~c, ~(uint32_t)d, lane);
  return crc_hw1(c, p + 3 * lane, n - 3 * lane);
}
#endif

static int use_hw = -1;         /* set once by table_init's caller */

static void init_once(void)
{
  table_init();
#ifdef HAVE_HW
  __builtin_cpu_init();
  use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
  use_hw = 0;
#endif
}

uint32_t s3_crc32c_soft(uint32_t crc, const void *buf, size_t len)
{
  return ~crc_soft(~crc, buf, len);
}

uint32_t s3_crc32c(uint32_t crc, const void *buf, size_t len)
{
  uint32_t c = ~crc;

  pthread_once(&table_once, init_once);
#ifdef HAVE_HW
  if(use_hw)
    return ~crc_hw(c, buf, len);
#endif
  return ~crc_soft(c, buf, len);
}

void s3_crc32c_b64(char out[9], uint32_t crc)
{
  unsigned char be[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                         (unsigned char)(crc >> 8), (unsigned char)crc};

  EVP_EncodeBlock((unsigned char *)out, be, 4);
}

void s3_crc32c_composite(char *out, size_t size, const uint32_t *parts, size_t n)
{
  uint32_t c = 0;
  size_t i;
  char b64[9];

  for(i = 0; i < n; i++) {
    unsigned char be[4] = {(unsigned char)(parts[i] >> 24), (unsigned char)(parts[i] >> 16),
                           (unsigned char)(parts[i] >> 8), (unsigned char)parts[i]};
    c = s3_crc32c(c, be, 4);
  }
  s3_crc32c_b64(b64, c);
  snprintf(out, size, "%s-%zu", b64, n);
}

/* CRC32C of len bytes of fd from off: one reader's share. */
static drover_code range_crc(uint32_t *out, int fd, unsigned long long off,
                             unsigned long long len, drover_error *err)
{
  char *buf = malloc(CHUNK);
  unsigned long long at = 0;
  uint32_t c = 0;
  drover_code rc = DROVER_OK;

  if(!buf)
    return s3_fail(err, DROVER_E_NOMEM, NULL, "out of memory");
  while(at < len) {
    size_t want = len - at < CHUNK ? (size_t)(len - at) : CHUNK;
    ssize_t n = pread(fd, buf, want, (off_t)(off + at));
    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0) {
      rc = s3_fail(err, DROVER_E_IO, NULL, "read for upload failed: %s",
                   n < 0 ? strerror(errno) : "file shrank");
      break;
    }
    c = s3_crc32c(c, buf, (size_t)n);
    at += (unsigned long long)n;
  }
  free(buf);
  *out = c;
  return rc;
}

typedef struct share {
  int fd;
  unsigned long long off, len;
  uint32_t crc;
  drover_code rc;
  drover_error err;
  pthread_t th;
  int running;
} share;

static void *share_main(void *arg)
{
  share *s = arg;

  drover_error_clear(&s->err);
  s->rc = range_crc(&s->crc, s->fd, s->off, s->len, &s->err);
  return NULL;
}

/* A big range is read by up to MAX_SHARES threads at once: this pass comes
 * before the request, while the server is idle, and reading from the page
 * cache (a copy per byte) costs more than the checksum itself. */
#define MAX_SHARES 4
#define SHARE_MIN (32ull << 20)

drover_code s3_file_crc32c(uint32_t *out, int fd, unsigned long long off,
                           unsigned long long len, drover_error *err)
{
  share sh[MAX_SHARES];
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned long long each;
  size_t n = 1, i;
  drover_code rc = DROVER_OK;
  uint32_t c;

  while(n < MAX_SHARES && (long)n < cpus && len / (n + 1) >= SHARE_MIN)
    n++;
  /* Whole MiB per share but the last. */
  each = (len / n) & ~((1ull << 20) - 1);
  memset(sh, 0, sizeof(sh));
  for(i = 0; i < n; i++) {
    sh[i].fd = fd;
    sh[i].off = off + i * each;
    sh[i].len = i + 1 < n ? each : len - i * each;
    if(i > 0)
      sh[i].running = pthread_create(&sh[i].th, NULL, share_main, &sh[i]) == 0;
  }
  /* The first share here; one whose thread did not start, here too. */
  for(i = 0; i < n; i++)
    if(i == 0 || !sh[i].running)
      share_main(&sh[i]);
  for(i = 1; i < n; i++)
    if(sh[i].running)
      pthread_join(sh[i].th, NULL);
  c = sh[0].crc;
  for(i = 0; i < n; i++) {
    if(sh[i].rc && !rc) {
      rc = sh[i].rc;
      if(err && !err->code)
        *err = sh[i].err;
    }
    if(i > 0)
      c = combine(c, sh[i].crc, (size_t)sh[i].len);
  }
  *out = c;
  return rc;
}

drover_code s3_crc32c_confirm(s3_state *st, const char *got, const char *want,
                              const char *what, const char *address, drover_error *err)
{
  if(got && *got) {
    if(strcmp(got, want))
      return s3_fail(err, DROVER_E_PROVIDER, address,
                     "%s: the server's CRC32C %s is not that of the bytes sent (%s)", what,
                     got, want);
    return DROVER_OK;
  }
  if(!atomic_exchange(&st->unconfirmed_said, 1))
    drover_logf(&st->env, DROVER_LOG_WARN,
                "s3: %s: the server did not confirm the upload's CRC32C (it may not "
                "implement S3's additional checksums), so it checked nothing; with "
                "\"checksum\": \"md5\" in the s3 settings uploads are checked by ETag",
                address ? address : what);
  return DROVER_OK;
}
