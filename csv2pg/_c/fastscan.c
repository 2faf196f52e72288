/* fastscan: the whole-file profile of csv2pg in one compiled pass (see csv2pg/fastscan.py).
 *
 * Reads a plain UTF-8 CSV (quote doubled to escape it, LF or CRLF line ends) in as many
 * threads as it is given, each over its own byte range, and counts per column what
 * csv2pg.profile's DuckDB scan counts for the column's proposal: present values, null
 * tokens, lengths in characters, leading-zero codes, the K minimum xxh3_64 hashes of the
 * values (colstats.DistinctSketch, merged exactly across threads), exact uniqueness for the
 * columns asked (xxh3_128 of every value, sorted), and the proof of the proposal on values
 * of its tight shape (the shapes of csv2pg.predicates, no blanks): integers, plain and
 * exponent decimals, booleans, dates, timestamps with and without zone, times and uuids.
 *
 * A value of any other shape is not judged here: the column is marked unsettled and the
 * caller proves it with DuckDB, exactly as before. A file this pass cannot read exactly as
 * Python's csv module does (a record with another number of fields, a quote inside an
 * unquoted field, an unterminated quote, a lone CR, a NUL byte, invalid UTF-8) stops it
 * with a status the caller names, and the caller profiles the file as before.
 *
 * The threads' byte ranges start at record boundaries found from the parity of the quote
 * characters before each range (counted by every thread over its own range first): with
 * quotes escaped by doubling, a line end outside quotes is exactly one with an even number
 * of quotes before it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <unistd.h>

#define XXH_INLINE_ALL
#include "xxhash.h"

#define KMV_K 1024
#define MAX_TOKENS 32
#define BLOCK (16u << 20)
#define SLACK 64   /* readable bytes past a buffer's end, for 16-byte loads */

enum kind { K_TEXT, K_INTEGER, K_NUMBER, K_BOOLEAN, K_DATE, K_TIMESTAMP, K_TIMESTAMPTZ,
            K_TIME, K_UUID, K_OTHER };

enum status { S_OK, S_IO, S_RAGGED, S_UTF8, S_NUL, S_QUOTE, S_CR, S_MEMORY, S_FIELD };

/* Per column, what Python reads (mirrored by fastscan.ColumnResult). */
typedef struct {
    int64_t non_null, min_len, max_len, leading_zeros;
    int64_t tokens[MAX_TOKENS];
    int64_t unsettled;
    int64_t ok_bigint, ok_integer, ok_smallint, ok_dates;
    int64_t has_int, int_min, int_max;
    int64_t has_shape, max_digits, max_scale, exponent;
    int64_t has_double;
    double double_min, double_max;
    int64_t has_bound, bound_min, bound_max;
    int64_t distinct_kept, distinct_saturated;
    uint64_t distinct_kth;
    int64_t unique;   /* 1 unique, 0 a value repeats, -1 not asked or over the limit */
} col_result;

typedef struct {
    uint64_t *table;    /* open addressing while at most KMV_K distinct hashes (0: has_zero) */
    uint64_t *sorted;   /* the KMV_K smallest, ascending, once saturated */
    int cap, bits, count, has_zero, saturated;
} kmv_t;

typedef struct { uint64_t hi, lo; } h128;

typedef struct {
    h128 *items;
    size_t n, cap;
    int over;
} hashes_t;

typedef struct {
    const int32_t *kinds;
    const int32_t *unique;
    int n_cols, n_tokens;
    const char *const *tokens;
    const int32_t *token_lens;
    int64_t unique_limit;     /* hashes kept for uniqueness, all columns and threads */
    int64_t unique_used;      /* so far (atomic) */
    int64_t field_limit;      /* the csv module's: a longer field is refused (S_FIELD) */
    uint64_t token_lengths;   /* bit n set: some token is n bytes long (n < 64) */
    uint8_t token_first[256]; /* 1 for the first byte of some token */
    int fd;
    uint8_t quote, delim;
    int64_t size;
} config_t;

typedef struct {
    const config_t *cfg;
    int index;
    int64_t start, end;         /* byte range [start, end) before alignment */
    int64_t quotes;             /* quote bytes in [start, end) */
    int has_nul;
    int64_t records;
    int status;
    int64_t status_offset;
    col_result *cols;
    kmv_t *kmv;
    hashes_t *hashes;
    uint8_t *buf;
    size_t buf_cap;
    const void *all;            /* every thread's, for the quote counts before this one */
} thread_t;

static locale_t c_locale;
static uint8_t hex_digit[256];   /* 1 for 0-9, a-f, A-F (filled once, with c_locale) */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    for (int c = 0; c < 256; c++)
        hex_digit[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* --- distinct estimate: K minimum values, as colstats.DistinctSketch ------------------- */

static int kmv_init(kmv_t *k) {
    k->bits = 6;
    k->cap = 1 << k->bits;   /* grows with the distinct values: wide files stay small */
    k->table = calloc((size_t)k->cap, sizeof(uint64_t));
    k->sorted = NULL;
    k->count = k->has_zero = k->saturated = 0;
    return k->table != NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void kmv_put(uint64_t *table, int bits, uint64_t h) {
    size_t mask = ((size_t)1 << bits) - 1, i = (size_t)(h >> (64 - bits));
    while (table[i]) i = (i + 1) & mask;
    table[i] = h;
}

static int kmv_grow(kmv_t *k) {
    uint64_t *bigger = calloc((size_t)k->cap * 2, sizeof(uint64_t));
    if (!bigger) return 0;
    for (int i = 0; i < k->cap; i++)
        if (k->table[i]) kmv_put(bigger, k->bits + 1, k->table[i]);
    free(k->table);
    k->table = bigger;
    k->cap *= 2;
    k->bits++;
    return 1;
}

static int kmv_saturate(kmv_t *k, uint64_t h) {
    uint64_t *all = malloc((KMV_K + 1) * sizeof(uint64_t));
    if (!all) return 0;
    int n = 0;
    if (k->has_zero) all[n++] = 0;
    for (int i = 0; i < k->cap; i++)
        if (k->table[i]) all[n++] = k->table[i];
    all[n++] = h;
    qsort(all, (size_t)n, sizeof(uint64_t), cmp_u64);
    free(k->table);
    k->table = NULL;
    k->sorted = all;        /* the largest of the KMV_K + 1 is dropped */
    k->count = KMV_K;
    k->saturated = 1;
    return 1;
}

/* Adds a value's hash; 0 when out of memory. */
static inline int kmv_add(kmv_t *k, uint64_t h) {
    if (k->saturated) {
        uint64_t *s = k->sorted;
        if (h >= s[KMV_K - 1]) return 1;
        int lo = 0, hi = KMV_K - 1;   /* first index with s[i] >= h */
        while (lo < hi) {
            int mid = (lo + hi) >> 1;
            if (s[mid] < h) lo = mid + 1; else hi = mid;
        }
        if (s[lo] == h) return 1;
        memmove(s + lo + 1, s + lo, (size_t)(KMV_K - 1 - lo) * sizeof(uint64_t));
        s[lo] = h;
        return 1;
    }
    if (h == 0) {
        if (k->has_zero) return 1;
    } else {
        size_t mask = (size_t)k->cap - 1, i = (size_t)(h >> (64 - k->bits));
        while (k->table[i]) {
            if (k->table[i] == h) return 1;
            i = (i + 1) & mask;
        }
    }
    if (k->count == KMV_K) return kmv_saturate(k, h);
    if (h == 0) {
        k->has_zero = 1;
    } else {
        if (4 * (k->count + 1) > k->cap && !kmv_grow(k)) return 0;   /* load under 1/4 */
        kmv_put(k->table, k->bits, h);
    }
    k->count++;
    return 1;
}

static double kmv_estimate(const kmv_t *k) {
    if (!k->saturated) return k->count;
    return (KMV_K - 1) * 18446744073709551616.0 / ((double)k->sorted[KMV_K - 1] + 1.0);
}

static int kmv_values(const kmv_t *k, uint64_t *out) {
    if (k->saturated) {
        memcpy(out, k->sorted, KMV_K * sizeof(uint64_t));
        return KMV_K;
    }
    int n = 0;
    if (k->has_zero) out[n++] = 0;
    for (int i = 0; i < k->cap; i++)
        if (k->table[i]) out[n++] = k->table[i];
    return n;
}

static void kmv_free(kmv_t *k) {
    free(k->table);
    free(k->sorted);
}

/* --- the shapes ---------------------------------------------------------------------- */

static inline int digit(uint8_t c) { return (unsigned)(c - '0') < 10; }

static inline int digits_at(const uint8_t *p, int n) {
    for (int i = 0; i < n; i++)
        if (!digit(p[i])) return 0;
    return 1;
}

static inline int num2(const uint8_t *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* [+-]?[0-9]{1,18} */
static int parse_int(const uint8_t *p, size_t n, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (n && (p[0] == '+' || p[0] == '-')) { neg = p[0] == '-'; i = 1; }
    if (i == n || n - i > 18) return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        if (!digit(p[i])) return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DD, a real day of years 1-9999: days since 1970-01-01 */
static int parse_date(const uint8_t *p, int64_t *days) {
    if (!digits_at(p, 4) || p[4] != '-' || !digit(p[5]) || !digit(p[6]) || p[7] != '-'
        || !digit(p[8]) || !digit(p[9]))
        return 0;
    int y = num2(p) * 100 + num2(p + 2), m = num2(p + 5), d = num2(p + 8);
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > dim[m - 1] + (m == 2 && leap)) return 0;
    *days = days_from_civil(y, m, d);
    return 1;
}

/* Hours of one or two digits (0-23), :MM, optional :SS and .fraction (1-9 digits, cut to
 * microseconds). Returns the characters read, 0 when not a clock. */
static size_t parse_clock(const uint8_t *p, size_t n, int one_digit_hour, int64_t *micros) {
    size_t i;
    int h;
    if (n >= 2 && digit(p[0]) && digit(p[1])) {
        h = num2(p);
        i = 2;
    } else if (one_digit_hour && n >= 1 && digit(p[0])) {
        h = p[0] - '0';
        i = 1;
    } else {
        return 0;
    }
    if (h > 23 || i + 3 > n || p[i] != ':' || !digit(p[i + 1]) || !digit(p[i + 2])) return 0;
    int mi = num2(p + i + 1);
    if (mi > 59) return 0;
    i += 3;
    int s = 0;
    int64_t frac = 0;
    if (i + 3 <= n && p[i] == ':' && digit(p[i + 1]) && digit(p[i + 2])) {
        s = num2(p + i + 1);
        if (s > 59) return 0;
        i += 3;
        if (i < n && p[i] == '.' && i + 1 < n && digit(p[i + 1])) {
            size_t j = i + 1, k = 0;
            while (j < n && digit(p[j])) {
                if (k < 6) frac = frac * 10 + (p[j] - '0');
                j++;
                k++;
            }
            if (k > 9) return 0;
            for (; k < 6; k++) frac *= 10;
            i = j;
        }
    }
    *micros = ((int64_t)(h * 60 + mi) * 60 + s) * 1000000 + frac;
    return i;
}

#define DAY_MICROS 86400000000LL

/* DATE_RE, with TS_RE's optional clock when `clock`, with TSTZ_TIGHT_RE's zone when `zone`. */
static int parse_stamp(const uint8_t *p, size_t n, int clock, int zone, int64_t *micros) {
    int64_t days, t = 0;
    if (n < 10 || !parse_date(p, &days)) return 0;
    size_t i = 10;
    if (i < n) {
        if (!clock || (p[i] != 'T' && p[i] != ' ')) return 0;
        size_t used = parse_clock(p + i + 1, n - i - 1, 0, &t);
        if (!used) return 0;
        i += 1 + used;
    } else if (zone) {
        return 0;
    }
    int64_t offset = 0;
    if (zone) {
        if (i == n) return 0;
        if (p[i] == 'Z') {
            i++;
        } else if (p[i] == '+' || p[i] == '-') {
            int sign = p[i] == '+' ? 1 : -1;
            if (i + 3 > n || !digit(p[i + 1]) || !digit(p[i + 2])) return 0;
            int zh = num2(p + i + 1), zm = 0;
            if (zh > 15) return 0;
            i += 3;
            if (i < n) {
                if (p[i] == ':') i++;
                if (i + 2 != n || !digit(p[i]) || !digit(p[i + 1])) return 0;
                zm = num2(p + i);
                if (zm > 59) return 0;
                i += 2;
            }
            offset = sign * (int64_t)(zh * 60 + zm) * 60000000;
        } else {
            return 0;
        }
    }
    if (i != n) return 0;
    *micros = days * DAY_MICROS + t - offset;
    return 1;
}

static int is_uuid(const uint8_t *p, size_t n) {
    static const uint8_t groups[] = {0, 8, 9, 13, 14, 18, 19, 23, 24, 36};
    if (n != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-') return 0;
    unsigned bad = 0;
    for (int g = 0; g < 10; g += 2)
        for (int i = groups[g]; i < groups[g + 1]; i++) bad |= hex_digit[p[i]] ^ 1u;
    return !bad;
}

static int is_boolean_word(const uint8_t *p, size_t n) {
    static const char *words[] = {"true", "false", "t", "f", "yes", "no", "y", "n"};
    for (int i = 0; i < 8; i++)
        if (strlen(words[i]) == n && memcmp(words[i], p, n) == 0) return 1;
    return 0;
}

/* A value that is an integer: the ranges it fits and the column's minimum and maximum. */
static inline void count_integer(col_result *c, int64_t v) {
    c->ok_bigint++;
    if (v >= INT32_MIN && v <= INT32_MAX) c->ok_integer++;
    if (v >= INT16_MIN && v <= INT16_MAX) c->ok_smallint++;
    if (!c->has_int || v < c->int_min) c->int_min = v;
    if (!c->has_int || v > c->int_max) c->int_max = v;
    c->has_int = 1;
}

/* The double nearest the decimal (as strtod and DuckDB's cast give it). Exact powers of ten
 * up to 1e22 and mantissas up to 2^53 make one IEEE multiplication or division exact and
 * then correctly rounded (Clinger's fast path); other values go through strtod. */
static double to_double(const uint8_t *p, size_t n, size_t int_start, size_t before, int point,
                        size_t after, int64_t exponent) {
    static const double tens[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
                                  1e22};
    uint64_t m = 0;
    int significant = 0;
    for (size_t k = int_start; k < int_start + before + point + after; k++) {
        if (p[k] == '.') continue;
        if (significant || p[k] != '0') significant++;
        m = m * 10 + (uint64_t)(p[k] - '0');
        if (significant > 15) goto slow;
    }
    {
        int64_t e = exponent - (int64_t)after;
        if (m <= (1ULL << 53) && e >= -22 && e <= 22) {
            double d = (double)m;
            d = e < 0 ? d / tens[-e] : d * tens[e];
            return p[0] == '-' ? -d : d;
        }
    }
slow:;
    char text[320];
    if (n >= sizeof text) return 0.0 / 0.0;
    memcpy(text, p, n);
    text[n] = 0;
    return strtod_l(text, NULL, c_locale);
}

/* A decimal of PLAIN_RE or SCI_RE as it is (no blanks): its integer-valued part, integer
 * digits and scale as pgtypes.decimal_shape, and its double. 0: another shape, or a value
 * whose facts take the exact checks (very long, 19 or more integer digits, a double out
 * of 1e-300..1e300 in exponent notation). */
static int number_facts(col_result *c, const uint8_t *p, size_t n) {
    size_t i = 0;
    if (n && (p[0] == '+' || p[0] == '-')) i = 1;
    size_t int_start = i;
    while (i < n && digit(p[i])) i++;
    size_t before = i - int_start, after = 0;
    int point = 0;
    if (i < n && p[i] == '.') {
        point = 1;
        i++;
        size_t f = i;
        while (i < n && digit(p[i])) i++;
        after = i - f;
    }
    if (before == 0 && after == 0) return 0;
    int sci = 0;
    int64_t exponent = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int sign = 1;
        if (i < n && (p[i] == '+' || p[i] == '-')) { sign = p[i] == '-' ? -1 : 1; i++; }
        size_t e = i;
        while (i < n && digit(p[i])) {
            if (i - e < 4) exponent = exponent * 10 + (p[i] - '0');   /* more is refused below */
            i++;
        }
        if (i - e < 1 || i - e > 3) return 0;
        exponent *= sign;
        sci = 1;
    }
    if (i != n) return 0;
    if (!sci && n >= 300) return 0;
    double d = to_double(p, n, int_start, before, point, after, exponent);
    if (sci) {
        double a = d < 0 ? -d : d;
        if (!(a >= 1e-300 && a <= 1e300)) return 0;
    }
    int64_t integer = 0;
    int is_integer = !sci && !point;
    if (is_integer) {
        if (before > 18) return 0;
        parse_int(p, n, &integer);
    }
    /* decimal_shape: the coefficient's digits without leading zeros (one for zero) */
    int64_t coefficient = 0;
    int started = 0;
    for (size_t k = int_start; k < int_start + before + point + after; k++) {
        if (p[k] == '.') continue;
        if (p[k] != '0') started = 1;
        if (started) coefficient++;
    }
    if (!coefficient) coefficient = 1;
    int64_t exp = exponent - (int64_t)after;
    int64_t digits = coefficient + exp > 0 ? coefficient + exp : 0;
    int64_t scale = exp < 0 ? -exp : 0;
    if (is_integer) count_integer(c, integer);
    if (!c->has_shape || digits > c->max_digits) c->max_digits = digits;
    if (!c->has_shape || scale > c->max_scale) c->max_scale = scale;
    c->has_shape = 1;
    c->exponent += sci;
    if (!c->has_double || d < c->double_min) c->double_min = d;
    if (!c->has_double || d > c->double_max) c->double_max = d;
    c->has_double = 1;
    return 1;
}

static inline void bound(col_result *c, int64_t v) {
    if (!c->has_bound || v < c->bound_min) c->bound_min = v;
    if (!c->has_bound || v > c->bound_max) c->bound_max = v;
    c->has_bound = 1;
}

/* The proof of the column's proposal on one value; 0 when the value is not of the tight
 * shape (the column is then unsettled: DuckDB proves it). */
static int prove(int kind, col_result *c, const uint8_t *p, size_t n) {
    int64_t v;
    switch (kind) {
    case K_TEXT:
        return 1;
    case K_INTEGER:
        if (!parse_int(p, n, &v)) return 0;
        count_integer(c, v);
        return 1;
    case K_NUMBER:
        return number_facts(c, p, n);
    case K_BOOLEAN:
        return is_boolean_word(p, n);
    case K_DATE:
        if (n != 10 || !parse_stamp(p, n, 0, 0, &v)) return 0;
        bound(c, v);
        return 1;
    case K_TIMESTAMP:
        if (!parse_stamp(p, n, 1, 0, &v)) return 0;
        c->ok_dates += n == 10;
        bound(c, v);
        return 1;
    case K_TIMESTAMPTZ:
        if (!parse_stamp(p, n, 1, 1, &v)) return 0;
        bound(c, v);
        return 1;
    case K_TIME:
        if (parse_clock(p, n, 1, &v) != n) return 0;
        bound(c, v);
        return 1;
    case K_UUID:
        return is_uuid(p, n);
    default:
        return 0;
    }
}

/* --- values ---------------------------------------------------------------------------- */

/* Characters of valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), or -1. */
static int64_t utf8_chars(const uint8_t *p, size_t n) {
    int64_t chars = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) { i++; chars++; continue; }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
        else return -1;
        if (i + len > n) return -1;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return -1;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
            || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return -1;
        i += len;
        chars++;
    }
    return chars;
}

static int ascii(const uint8_t *p, size_t n) {
    size_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= p[i];
    return (acc & 0x8080808080808080ULL) == 0;
}

static int value(thread_t *t, int col, const uint8_t *p, size_t n) {
    const config_t *cfg = t->cfg;
    if (n == 0) return S_OK;
    col_result *c = &t->cols[col];
    int maybe_token = cfg->token_first[p[0]] && (n >= 64 || (cfg->token_lengths >> n) & 1);
    for (int k = 0; maybe_token && k < cfg->n_tokens; k++) {
        if ((size_t)cfg->token_lens[k] == n && memcmp(cfg->tokens[k], p, n) == 0) {
            c->tokens[k]++;
            return S_OK;
        }
    }
    int64_t chars = ascii(p, n) ? (int64_t)n : utf8_chars(p, n);
    if (chars < 0) return S_UTF8;
    c->non_null++;
    if (c->non_null == 1 || chars < c->min_len) c->min_len = chars;
    if (c->non_null == 1 || chars > c->max_len) c->max_len = chars;
    if (n > 1 && p[0] == '0' && digits_at(p, n)) c->leading_zeros++;
    if (!kmv_add(&t->kmv[col], XXH3_64bits(p, n))) return S_MEMORY;
    hashes_t *h = &t->hashes[col];
    if (cfg->unique[col] && !h->over) {
        if (h->n == h->cap) {
            int64_t grow = h->cap ? (int64_t)h->cap : 4096;
            int64_t *used = (int64_t *)&cfg->unique_used;
            /* A column whose distinct estimate is under half its values so far has
             * duplicates (or nearly): it is not worth the memory (the caller asks DuckDB
             * should its estimate over the whole file say otherwise). */
            int drop = h->cap && kmv_estimate(&t->kmv[col]) < 0.5 * (double)c->non_null;
            if (!drop && __atomic_add_fetch(used, grow, __ATOMIC_RELAXED) > cfg->unique_limit) {
                __atomic_sub_fetch(used, grow, __ATOMIC_RELAXED);
                drop = 1;
            }
            if (drop) {   /* its memory goes back to the other columns */
                __atomic_sub_fetch(used, (int64_t)h->cap, __ATOMIC_RELAXED);
                h->over = 1;
                free(h->items);
                h->items = NULL;
                h->n = h->cap = 0;
            } else {
                h128 *items = realloc(h->items, (h->cap + (size_t)grow) * sizeof(h128));
                if (!items) return S_MEMORY;
                h->items = items;
                h->cap += (size_t)grow;
            }
        }
        if (!h->over) {
            XXH128_hash_t x = XXH3_128bits(p, n);
            h->items[h->n].hi = x.high64;
            h->items[h->n].lo = x.low64;
            h->n++;
        }
    }
    if (!c->unsettled && !prove(cfg->kinds[col], c, p, n)) c->unsettled = 1;
    return S_OK;
}

/* --- records ----------------------------------------------------------------------------- */

typedef struct { uint32_t start, len, escaped; } field_t;

/* The first byte at or after i that ends an unquoted field (delimiter, CR, LF) or is a
 * quote; len if none. Sixteen bytes at a time where SSE2 is there (the buffer has SLACK
 * readable bytes), else one by one. */
static inline size_t next_stop(const config_t *cfg, const uint8_t *buf, size_t i, size_t len) {
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8((char)cfg->delim), q = _mm_set1_epi8((char)cfg->quote);
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    while (i < len) {
        __m128i x = _mm_loadu_si128((const __m128i *)(buf + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, q)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) {
            size_t j = i + (size_t)__builtin_ctz(mask);
            return j < len ? j : len;
        }
        i += 16;
    }
    return len;
#else
    const uint8_t d = cfg->delim, q = cfg->quote;
    while (i < len && buf[i] != d && buf[i] != q && buf[i] != '\n' && buf[i] != '\r') i++;
    return i;
#endif
}

/* One record at buf[pos..len): its fields, and where the next record starts. Returns 1 when
 * the record is complete in the buffer (or ends at the end of the file), 0 when more bytes
 * are needed, -status on a record this pass does not read. A blank line is a record of no
 * fields. */
static int record(const config_t *cfg, const uint8_t *buf, size_t pos, size_t len, int eof,
                  field_t *fields, int *n_fields, size_t *next) {
    const uint8_t q = cfg->quote, d = cfg->delim;
    int nf = 0;
    size_t i = pos;
    if (i < len && (buf[i] == '\n' || buf[i] == '\r')) {
        if (buf[i] == '\r') {
            if (i + 1 >= len) { if (!eof) return 0; return -S_CR; }
            if (buf[i + 1] != '\n') return -S_CR;
            i++;
        }
        *n_fields = 0;
        *next = i + 1;
        return 1;
    }
    for (;;) {
        field_t f;
        if (i < len && buf[i] == q) {
            size_t j = i + 1;
            f.escaped = 0;
            for (;;) {
                const uint8_t *e = memchr(buf + j, q, len - j);
                if (!e) {
                    /* an unbalanced quote stops here, not after buffering the whole file */
                    if ((int64_t)(len - i - 1) > cfg->field_limit) return -S_FIELD;
                    if (!eof) return 0;
                    return -S_QUOTE;
                }
                size_t k = (size_t)(e - buf);
                if (k + 1 < len && buf[k + 1] == q) { f.escaped = 1; j = k + 2; continue; }
                if (k + 1 >= len && !eof) return 0;
                if ((int64_t)(k - i - 1) > cfg->field_limit) return -S_FIELD;
                f.start = (uint32_t)(i + 1 - pos);
                f.len = (uint32_t)(k - i - 1);
                i = k + 1;
                break;
            }
            if (i < len && buf[i] != d && buf[i] != '\n' && buf[i] != '\r') return -S_QUOTE;
        } else {
            size_t j = next_stop(cfg, buf, i, len);
            if (j < len && buf[j] == q) return -S_QUOTE;
            if ((int64_t)(j - i) > cfg->field_limit) return -S_FIELD;
            f.start = (uint32_t)(i - pos);
            f.len = (uint32_t)(j - i);
            f.escaped = 0;
            i = j;
        }
        if (nf >= cfg->n_cols) return -S_RAGGED;
        fields[nf++] = f;
        if (i >= len) {
            if (!eof) return 0;
            *next = i;
            break;
        }
        if (buf[i] == d) { i++; continue; }
        if (buf[i] == '\r') {
            if (i + 1 >= len) { if (!eof) return 0; return -S_CR; }
            if (buf[i + 1] != '\n') return -S_CR;
            i++;
        }
        *next = i + 1;
        break;
    }
    *n_fields = nf;
    return 1;
}

static size_t unescape(uint8_t *p, size_t n, uint8_t q) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        p[o++] = p[i];
        if (p[i] == q) i++;   /* the second quote of a doubled pair */
    }
    return o;
}

/* Where the first record at or after `from` starts, reading with the quote parity known
 * at `from`; -1 on a read error. */
static int64_t record_start(thread_t *t, int64_t from, int parity) {
    const config_t *cfg = t->cfg;
    if (from >= cfg->size) return cfg->size;
    int64_t off = from - 1;   /* a record starts at `from` if the byte before ends a line */
    uint8_t b;
    if (pread(cfg->fd, &b, 1, off) != 1) return -1;
    if (b == cfg->quote) parity ^= 1;   /* parity was counted before `from`: undo this byte */
    int inside = parity;
    while (off < cfg->size) {
        ssize_t got = pread(cfg->fd, t->buf, t->buf_cap, off);
        if (got <= 0) return -1;
        for (ssize_t i = 0; i < got; i++) {
            uint8_t c = t->buf[i];
            if (c == cfg->quote) inside ^= 1;
            else if (c == '\n' && !inside) return off + i + 1;
        }
        off += got;
    }
    return cfg->size;
}

/* Quote bytes in the thread's range (and whether a NUL is there), read through a mapping
 * of 64 MB at a time: no copy, and at most one window resident. */
static int64_t count_quotes(thread_t *t) {
    const config_t *cfg = t->cfg;
    const int64_t window = 64 << 20, page = sysconf(_SC_PAGESIZE);
    const uint8_t q = cfg->quote;
    int64_t n = 0, nul = 0;
    for (int64_t off = t->start; off < t->end;) {
        int64_t base = off - off % page;
        int64_t stop = off + window < t->end ? off + window : t->end;
        const uint8_t *m = mmap(NULL, (size_t)(stop - base), PROT_READ, MAP_PRIVATE, cfg->fd, base);
        if (m == MAP_FAILED) return -1;
        madvise((void *)m, (size_t)(stop - base), MADV_SEQUENTIAL);
        const uint8_t *p = m + (off - base);
        size_t len = (size_t)(stop - off);
        int64_t count = 0, zero = 0;
        for (size_t i = 0; i < len; i++) {
            count += p[i] == q;
            zero += p[i] == 0;
        }
        n += count;
        nul += zero;
        munmap((void *)m, (size_t)(stop - base));
        off = stop;
    }
    if (nul) t->has_nul = 1;
    return n;
}

static int parse_range(thread_t *t, int64_t from, int64_t to) {
    const config_t *cfg = t->cfg;
    field_t *fields = malloc((size_t)cfg->n_cols * sizeof(field_t));
    if (!fields) return S_MEMORY;
    size_t len = 0, pos = 0;
    int64_t base = from;   /* file offset of buf[0] */
    int eof = 0, status = S_OK;
    while (base + (int64_t)pos < to) {
        int n_fields;
        size_t next;
        int r = record(cfg, t->buf, pos, len, eof, fields, &n_fields, &next);
        if (r == 0) {
            /* move the partial record to the front and read more (a longer record grows it) */
            memmove(t->buf, t->buf + pos, len - pos);
            base += (int64_t)pos;
            len -= pos;
            pos = 0;
            if (len + BLOCK / 2 > t->buf_cap) {
                uint8_t *bigger = realloc(t->buf, t->buf_cap * 2 + SLACK);
                if (!bigger) { status = S_MEMORY; break; }
                t->buf = bigger;
                t->buf_cap *= 2;
            }
            ssize_t got = pread(cfg->fd, t->buf + len, t->buf_cap - len, base + (int64_t)len);
            if (got < 0) { status = S_IO; break; }
            if (got == 0 || base + (int64_t)len + got >= cfg->size) eof = 1;
            len += (size_t)got;
            continue;
        }
        if (r < 0) { status = -r; t->status_offset = base + (int64_t)pos; break; }
        if (n_fields) {
            if (n_fields != cfg->n_cols) { status = S_RAGGED; t->status_offset = base + (int64_t)pos; break; }
            t->records++;
            uint8_t *rec = t->buf + pos;
            for (int c = 0; c < n_fields; c++) {
                uint8_t *p = rec + fields[c].start;
                size_t n = fields[c].len;
                if (fields[c].escaped) n = unescape(p, n, cfg->quote);
                status = value(t, c, p, n);
                if (status) break;
            }
            if (status) { t->status_offset = base + (int64_t)pos; break; }
        }
        pos = next;
    }
    free(fields);
    return status;
}

static void *count_phase(void *arg) {
    thread_t *t = arg;
    t->quotes = count_quotes(t);
    return NULL;
}

static void *parse_phase(void *arg) {
    thread_t *t = arg;
    if (t->quotes < 0) { t->status = S_IO; return NULL; }
    if (t->has_nul) { t->status = S_NUL; return NULL; }
    const thread_t *all = t->all;
    int parity = 0;
    for (int k = 0; k < t->index; k++) {
        if (all[k].quotes < 0) { t->status = S_IO; return NULL; }
        parity ^= (int)(all[k].quotes & 1);
    }
    int next_parity = parity ^ (int)(t->quotes & 1);
    int64_t from = t->index == 0 ? t->start : record_start(t, t->start, parity);
    int64_t to = t->end >= t->cfg->size ? t->cfg->size : record_start(t, t->end, next_parity);
    if (from < 0 || to < 0) { t->status = S_IO; return NULL; }
    if (from < to) t->status = parse_range(t, from, to);
    return NULL;
}

/* fn on every thread's work, thread 0's in the caller; work whose thread could not be
 * started is done in the caller too, after. */
static void in_threads(thread_t *threads, int n, void *(*fn)(void *)) {
    pthread_t *ids = calloc((size_t)n, sizeof(pthread_t));
    char *started = calloc((size_t)n, 1);
    for (int k = 1; ids && started && k < n; k++)
        started[k] = pthread_create(&ids[k], NULL, fn, &threads[k]) == 0;
    fn(&threads[0]);
    for (int k = 1; k < n; k++) {
        if (started && started[k]) pthread_join(ids[k], NULL);
        else fn(&threads[k]);
    }
    free(ids);
    free(started);
}

/* --- merging ----------------------------------------------------------------------------- */

static inline int h128_less(h128 a, h128 b) {
    return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

/* Whether the hashes (all threads) hold one twice: scattered into about n/4 buckets by
 * their top bits, each bucket then sorted by insertion (a few items each). */
static int64_t all_different(thread_t *threads, int n_threads, int col) {
    size_t total = 0;
    for (int k = 0; k < n_threads; k++) {
        if (threads[k].hashes[col].over) return -1;
        total += threads[k].hashes[col].n;
    }
    int bits = 8;
    while (bits < 24 && ((size_t)1 << (bits + 2)) < total) bits++;
    size_t buckets = (size_t)1 << bits;
    size_t *starts = calloc(buckets + 1, sizeof(size_t));
    size_t *fill = malloc(buckets * sizeof(size_t));
    h128 *out = malloc((total ? total : 1) * sizeof(h128));
    int64_t unique = -1;
    if (!starts || !fill || !out) goto done;
    for (int k = 0; k < n_threads; k++) {
        hashes_t *h = &threads[k].hashes[col];
        for (size_t i = 0; i < h->n; i++) starts[(h->items[i].hi >> (64 - bits)) + 1]++;
    }
    for (size_t b = 0; b < buckets; b++) starts[b + 1] += starts[b];
    memcpy(fill, starts, buckets * sizeof(size_t));
    for (int k = 0; k < n_threads; k++) {
        hashes_t *h = &threads[k].hashes[col];
        for (size_t i = 0; i < h->n; i++) out[fill[h->items[i].hi >> (64 - bits)]++] = h->items[i];
        free(h->items);
        h->items = NULL;
        h->n = 0;
    }
    unique = 1;
    for (size_t b = 0; b < buckets && unique; b++) {
        h128 *v = out + starts[b];
        size_t n = starts[b + 1] - starts[b];
        for (size_t i = 1; i < n; i++) {
            h128 x = v[i];
            size_t j = i;
            while (j > 0 && h128_less(x, v[j - 1])) { v[j] = v[j - 1]; j--; }
            v[j] = x;
        }
        for (size_t i = 1; i < n; i++)
            if (v[i].hi == v[i - 1].hi && v[i].lo == v[i - 1].lo) { unique = 0; break; }
    }
done:
    free(fill);
    free(starts);
    free(out);
    return unique;
}

static int merge(thread_t *threads, int n_threads, const config_t *cfg, col_result *out) {
    uint64_t *all = malloc((size_t)n_threads * KMV_K * sizeof(uint64_t));
    if (!all) return S_MEMORY;
    for (int col = 0; col < cfg->n_cols; col++) {
        col_result *r = &out[col];
        memset(r, 0, sizeof *r);
        int saturated = 0, n = 0;
        for (int k = 0; k < n_threads; k++) {
            const col_result *c = &threads[k].cols[col];
            if (c->non_null) {
                if (!r->non_null || c->min_len < r->min_len) r->min_len = c->min_len;
                if (!r->non_null || c->max_len > r->max_len) r->max_len = c->max_len;
            }
            r->non_null += c->non_null;
            r->leading_zeros += c->leading_zeros;
            for (int i = 0; i < MAX_TOKENS; i++) r->tokens[i] += c->tokens[i];
            r->unsettled |= c->unsettled;
            r->ok_bigint += c->ok_bigint;
            r->ok_integer += c->ok_integer;
            r->ok_smallint += c->ok_smallint;
            r->ok_dates += c->ok_dates;
            r->exponent += c->exponent;
            /* strictly smaller or greater: the first in file order wins a tie, as in Python */
            if (c->has_int) {
                if (!r->has_int || c->int_min < r->int_min) r->int_min = c->int_min;
                if (!r->has_int || c->int_max > r->int_max) r->int_max = c->int_max;
                r->has_int = 1;
            }
            if (c->has_shape) {
                if (!r->has_shape || c->max_digits > r->max_digits) r->max_digits = c->max_digits;
                if (!r->has_shape || c->max_scale > r->max_scale) r->max_scale = c->max_scale;
                r->has_shape = 1;
            }
            if (c->has_double) {
                if (!r->has_double || c->double_min < r->double_min) r->double_min = c->double_min;
                if (!r->has_double || c->double_max > r->double_max) r->double_max = c->double_max;
                r->has_double = 1;
            }
            if (c->has_bound) {
                if (!r->has_bound || c->bound_min < r->bound_min) r->bound_min = c->bound_min;
                if (!r->has_bound || c->bound_max > r->bound_max) r->bound_max = c->bound_max;
                r->has_bound = 1;
            }
            saturated |= threads[k].kmv[col].saturated;
            n += kmv_values(&threads[k].kmv[col], all + n);
        }
        qsort(all, (size_t)n, sizeof(uint64_t), cmp_u64);
        int u = 0;
        for (int i = 0; i < n; i++)
            if (u == 0 || all[i] != all[u - 1]) all[u++] = all[i];
        if (u > KMV_K) { saturated = 1; u = KMV_K; }
        r->distinct_kept = u;
        r->distinct_saturated = saturated;
        r->distinct_kth = u ? all[u - 1] : 0;
        r->unique = cfg->unique[col] ? all_different(threads, n_threads, col) : -1;
    }
    free(all);
    return S_OK;
}

/* --- entry point ----------------------------------------------------------------------- */

/* Profile `path` from byte `data_start` (past any preamble, header and byte-order mark) in
 * `n_threads` threads, each given at least `min_span` bytes. Returns a status (0: every record read; `out` holds the columns and
 * `*records` the record count) and, on a record it does not read, its offset. */
int fastscan(const char *path, int64_t data_start, int n_cols, const int32_t *kinds,
             const int32_t *unique, int n_tokens, const char *const *tokens,
             const int32_t *token_lens, char delim, char quote, int n_threads,
             int64_t min_span, int64_t unique_limit, int64_t field_limit, col_result *out,
             int64_t *records, int64_t *offset) {
    if (n_tokens > MAX_TOKENS || n_cols < 1 || n_threads < 1) return S_MEMORY;
    pthread_once(&c_locale_once, make_c_locale);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return S_IO;
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return S_IO; }
    config_t cfg = {.kinds = kinds, .unique = unique, .n_cols = n_cols, .n_tokens = n_tokens,
                    .tokens = tokens, .token_lens = token_lens, .unique_limit = unique_limit,
                    .field_limit = field_limit,
                    .fd = fd, .quote = (uint8_t)quote, .delim = (uint8_t)delim,
                    .size = (int64_t)st.st_size};
    for (int k = 0; k < n_tokens; k++)
        if (token_lens[k] < 64) cfg.token_lengths |= 1ULL << token_lens[k];
    for (int k = 0; k < n_tokens; k++)
        if (token_lens[k] > 0) cfg.token_first[(uint8_t)tokens[k][0]] = 1;
    int64_t span = cfg.size - data_start;
    if (min_span < 1) min_span = 1;
    if (span < (int64_t)n_threads * min_span)
        n_threads = span / min_span > 0 ? (int)(span / min_span) : 1;
    thread_t *threads = calloc((size_t)n_threads, sizeof(thread_t));
    int status = threads ? S_OK : S_MEMORY;
    for (int k = 0; k < n_threads && status == S_OK; k++) {
        thread_t *t = &threads[k];
        t->cfg = &cfg;
        t->index = k;
        t->start = data_start + span * k / n_threads;
        t->end = data_start + span * (k + 1) / n_threads;
        t->all = threads;
        t->status_offset = -1;
        t->buf_cap = BLOCK;
        t->buf = malloc(BLOCK + SLACK);
        t->cols = calloc((size_t)n_cols, sizeof(col_result));
        t->kmv = calloc((size_t)n_cols, sizeof(kmv_t));
        t->hashes = calloc((size_t)n_cols, sizeof(hashes_t));
        if (!t->buf || !t->cols || !t->kmv || !t->hashes) { status = S_MEMORY; break; }
        for (int c = 0; c < n_cols; c++)
            if (!kmv_init(&t->kmv[c])) status = S_MEMORY;
    }
    if (status == S_OK) {
        in_threads(threads, n_threads, count_phase);   /* the quote parity of every range */
        in_threads(threads, n_threads, parse_phase);
        *records = 0;
        *offset = -1;
        for (int k = 0; k < n_threads; k++) {
            *records += threads[k].records;
            if (threads[k].status && status == S_OK) {
                status = threads[k].status;
                *offset = threads[k].status_offset;
            }
        }
        if (status == S_OK) status = merge(threads, n_threads, &cfg, out);
    }
    for (int k = 0; threads && k < n_threads; k++) {
        thread_t *t = &threads[k];
        free(t->buf);
        for (int c = 0; t->kmv && c < n_cols; c++) kmv_free(&t->kmv[c]);
        for (int c = 0; t->hashes && c < n_cols; c++) free(t->hashes[c].items);
        free(t->cols);
        free(t->kmv);
        free(t->hashes);
    }
    free(threads);
    close(fd);
    return status;
}

int fastscan_result_size(void) { return (int)sizeof(col_result); }

/* --- where records start (for csv2pg.locate) -------------------------------------------- */

/* The physical line and byte offset where each data record numbered in `ordinals`
 * (1-based, ascending, `n` of them) starts, as locate._record_starts finds them: past
 * `skip_lines` lines and `headers` records, a line end closes a record when the quotes
 * since the record began are even, and a record of one empty line (LF or CRLF) is none.
 * Returns how many were found (the file may have fewer records), -1 on a read error. */
int64_t fastscan_record_starts(const char *path, int64_t skip_lines, int64_t headers, char quote,
                               const int64_t *ordinals, int64_t n, int64_t *lines,
                               int64_t *offsets) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    uint8_t *buf = malloc(BLOCK);
    if (!buf) { close(fd); return -1; }
    const uint8_t q = (uint8_t)quote;
    int64_t found = 0, ordinal = 0, line = 0, offset = 0;
    int64_t start_line = 0, start_offset = -1;   /* of the record being read; -1: none yet */
    int odd = 0, blank = 0, at_line_start = 1;
    int64_t line_bytes = 0;                       /* bytes of the current line so far */
    uint8_t first = 0;                            /* its first byte */
    ssize_t got = 0;
    while (found < n && (got = read(fd, buf, BLOCK)) > 0) {
        for (ssize_t i = 0; i < got && found < n; i++, offset++) {
            uint8_t c = buf[i];
            if (at_line_start) {
                line++;
                at_line_start = 0;
                line_bytes = 0;
                if (skip_lines == 0 && start_offset < 0) {
                    start_line = line;
                    start_offset = offset;
                }
            }
            if (c != '\n') {
                if (line_bytes == 0) first = c;
                line_bytes++;
                if (c == q && skip_lines == 0) odd ^= 1;
                continue;
            }
            at_line_start = 1;
            if (skip_lines) { skip_lines--; continue; }
            if (start_offset >= 0 && start_line == line)
                blank = line_bytes == 0 || (line_bytes == 1 && first == '\r');
            if (odd) continue;
            int64_t record_line = start_line, record_offset = start_offset;
            start_offset = -1;
            if (blank) { blank = 0; continue; }
            if (headers) { headers--; continue; }
            ordinal++;
            if (ordinal == ordinals[found]) {
                lines[found] = record_line;
                offsets[found] = record_offset;
                found++;
            }
        }
    }
    /* a last line without LF */
    if (found < n && !at_line_start && !skip_lines && !odd && start_offset >= 0) {
        int is_blank = start_line == line && (line_bytes == 0 || (line_bytes == 1 && first == '\r'));
        if (!is_blank && !headers && ++ordinal == ordinals[found]) {
            lines[found] = start_line;
            offsets[found] = start_offset;
            found++;
        }
    }
    int failed = got < 0;
    free(buf);
    close(fd);
    return failed ? -1 : found;
}
